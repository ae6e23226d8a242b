import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  getJob,
  leftoversOf,
  startTestService,
  submit,
  testkitEngine,
  waitFor,
  waitForFinal,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('retention', () => {
  let svc: TestService | undefined;

  afterEach(async () => {
    if (!svc) return;
    const workerId = svc.workerId;
    await svc.stop();
    svc = undefined;
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  const engines = () =>
    writeEngines([
      testkitEngine('echo', { cmd: '/engine/echo.sh' }),
      testkitEngine('ok', { cmd: '/engine/ok.sh' }),
    ]);

  it('deletes the files of jobs past their engine age; the job row stays and says so', async () => {
    svc = await startTestService({
      engines: await engines(),
      // echo's files go after about a second; ok keeps its files forever.
      flags: { retention: { days: 0, engineDays: { echo: 1 / 86_400 }, minFreeMb: 0, intervalSeconds: 0.5 } },
    });
    const gone = await submit(svc.url, 'echo', Buffer.from('short-lived'));
    const kept = await submit(svc.url, 'ok', Buffer.from('long-lived'));
    await waitForFinal(svc.url, gone);
    await waitForFinal(svc.url, kept);
    const purged = await waitFor('retention to purge the echo job', async () => {
      const job = (await getJob(svc!.url, gone)) as { purgedAt?: string | null };
      return job.purgedAt ? job : undefined;
    });
    expect(Date.parse(purged.purgedAt as string)).toBeGreaterThan(0);
    const result = await fetch(`${svc.url}/link/${gone}`);
    expect(result.status).toBe(410);
    expect(((await result.json()) as { error: { code: string } }).error.code).toBe('RESULT_PURGED');
    expect((await fetch(`${svc.url}/api/v1/jobs/${gone}/logs`)).status).toBe(410);
    const compat = (await (await fetch(`${svc.url}/result/${gone}`)).json()) as { status: string };
    expect(compat.status).toBe('Success');

    const keptJob = (await getJob(svc.url, kept)) as { purgedAt?: string | null };
    expect(keptJob.purgedAt).toBeNull();
    expect((await fetch(`${svc.url}/link/${kept}`)).status).toBe(200);
    const blobs = await filesUnder(path.join(svc.dataDir, 'blobs'));
    expect(blobs.some((f) => f.includes(gone))).toBe(false);
    expect(blobs.some((f) => f.includes(kept))).toBe(true);
  });

  it('fails a queued job whose input is gone, saying so, rather than retrying it', async () => {
    svc = await startTestService({
      engines: await writeEngines([
        testkitEngine('one', { workers: 1, cmd: ['/bin/sh', '-c', 'sleep 2; cat /var/data/sample'] }),
      ]),
    });
    const busy = await submit(svc.url, 'one', Buffer.from('keeps the only worker busy'));
    const waiting = await submit(svc.url, 'one', Buffer.from('its input will vanish'));
    const job = await getJob(svc.url, waiting);
    await rm(path.join(svc.dataDir, 'blobs', 'inputs', job.input.sha256.slice(0, 2), job.input.sha256));
    const failed = await waitForFinal(svc.url, waiting);
    expect(failed.state).toBe('failed');
    expect(failed.reason).toBe(
      'the input file is no longer stored (deleted by retention, or lost); submit the file again',
    );
    expect((await waitForFinal(svc.url, busy)).state).toBe('succeeded');
  });

  it('frees space oldest first when the data directory is below its watermark, sharing inputs safely', async () => {
    svc = await startTestService({
      engines: await engines(),
      // A watermark no disk meets: every finished job is purged, oldest first.
      flags: { retention: { days: 0, minFreeMb: 1_000_000_000, intervalSeconds: 0.5 } },
    });
    const same = Buffer.from('one input, two engines');
    const first = await submit(svc.url, 'echo', same);
    const second = await submit(svc.url, 'ok', same);
    for (const id of [first, second]) await waitForFinal(svc.url, id);
    await waitFor('both jobs purged', async () => {
      const jobs = await Promise.all([first, second].map((id) => getJob(svc!.url, id)));
      return jobs.every((j) => (j as { purgedAt?: string | null }).purgedAt) ? true : undefined;
    });
    const inputs = await filesUnder(path.join(svc.dataDir, 'blobs', 'inputs'));
    expect(inputs).toEqual([]);
  });
});
