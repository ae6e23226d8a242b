import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  docker,
  getJob,
  leftoversOf,
  startTestService,
  submit,
  testkitEngine,
  upload,
  waitFor,
  waitForFinal,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

describe('the compatible (2016) API against real containers', () => {
  let svc: TestService;

  beforeAll(async () => {
    const engines = await writeEngines([
      testkitEngine('echo', { cmd: '/engine/echo.sh' }),
      testkitEngine('ok', { cmd: '/engine/ok.sh' }),
      testkitEngine('exit3', { cmd: '/engine/exit3.sh' }),
      testkitEngine('sleep', { cmd: '/engine/sleep.sh', timeout: 2 }),
      testkitEngine('small', { cmd: '/engine/echo.sh', sizelimit: 1000 }),
      // Closes its stdout and stderr first, then works on: nothing is left to tell it ended but its exit.
      testkitEngine('quiet', {
        cmd: ['/bin/sh', '-c', 'exec >&- 2>&-; sleep 2; echo done > /var/data/result'],
      }),
      testkitEngine('quiet-forever', { cmd: ['/bin/sh', '-c', 'exec >&- 2>&-; sleep 60'], timeout: 3 }),
    ]);
    svc = await startTestService({ engines });
  });

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('runs an engine whose stdout is the result: Running, then Success, then the bytes', async () => {
    const input = Buffer.from('hello from a sample\n');
    const id = await submit(svc.url, 'echo', input, 'hello.txt');
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const first = (await (await fetch(`${svc.url}/result/${id}`)).json()) as { status: string };
    expect(['Running', 'Success']).toContain(first.status);
    await waitForFinal(svc.url, id);
    const result = (await (await fetch(`${svc.url}/result/${id}`)).json()) as Record<string, string>;
    expect(result).toEqual({ status: 'Success', summary: 'hello from a sample', link: `/link/${id}` });
    const link = await fetch(`${svc.url}/link/${id}`);
    expect(link.status).toBe(200);
    expect(Buffer.from(await link.arrayBuffer())).toEqual(input);
  });

  it('records the input, image digest and result of a file result', async () => {
    const input = Buffer.from('twelve bytes');
    const id = await submit(svc.url, 'ok', input, '../../etc/evil\tname.txt');
    const job = await waitForFinal(svc.url, id);
    expect(job.state).toBe('succeeded');
    expect(job.exitCode).toBe(0);
    expect(job.input).toEqual({
      name: 'evilname.txt',
      size: 12,
      sha256: createHash('sha256').update(input).digest('hex'),
    });
    expect(job.imageDigest).toMatch(/sha256:[0-9a-f]{64}$/);
    expect(job.result?.kind).toBe('file');
    const body = await (await fetch(`${svc.url}/api/v1/jobs/${id}/result`)).text();
    expect(body).toContain('ok');
    expect(body).toContain('12');
  });

  it('fails a job whose engine exits non-zero, with the exit code and its stderr', async () => {
    const id = await submit(svc.url, 'exit3', Buffer.from('x'));
    const job = await waitForFinal(svc.url, id);
    expect(job).toMatchObject({ state: 'failed', exitCode: 3, reason: 'exit 3' });
    const compat = (await (await fetch(`${svc.url}/result/${id}`)).json()) as { status: string };
    expect(compat.status).toBe('Failed');
    const logs = (await (await fetch(`${svc.url}/api/v1/jobs/${id}/logs`)).json()) as { stderr: string };
    expect(logs.stderr).toContain('failing on purpose');
  });

  it('kills an engine that runs past its timeout and removes its container', async () => {
    const id = await submit(svc.url, 'sleep', Buffer.from('x'));
    const job = await waitForFinal(svc.url, id, 30_000);
    expect(job.state).toBe('failed');
    expect(job.reason).toBe('timeout after 2 s (killed)');
    await waitFor('the container to be removed', async () => {
      const left = await docker.listContainers({ all: true, filters: { label: [`menagerie.job=${id}`] } });
      return left.length === 0 ? true : undefined;
    });
  });

  it('follows an engine that closed its output to its end, and to its timeout', async () => {
    const done = await submit(svc.url, 'quiet', Buffer.from('x'));
    const forever = await submit(svc.url, 'quiet-forever', Buffer.from('x'));
    const job = await waitForFinal(svc.url, done, 30_000);
    expect(job.state).toBe('succeeded');
    expect(await (await fetch(`${svc.url}/link/${done}`)).text()).toBe('done\n');
    const killed = await waitForFinal(svc.url, forever, 30_000);
    expect(killed.state).toBe('failed');
    expect(killed.reason).toBe('timeout after 3 s (killed)');
  });

  it('refuses an oversize upload with 413 and leaves no file and no job behind', async () => {
    const before = (await (await fetch(`${svc.url}/api/v1/jobs?limit=500`)).json()) as { jobs: unknown[] };
    const response = await upload(svc.url, 'small', Buffer.alloc(50_000, 1));
    expect(response.status).toBe(413);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('UPLOAD_TOO_LARGE');
    expect(body.error.message).toMatch(/1000 bytes/);
    const after = (await (await fetch(`${svc.url}/api/v1/jobs?limit=500`)).json()) as { jobs: unknown[] };
    expect(after.jobs.length).toBe(before.jobs.length);
    expect(await readdir(path.join(svc.dataDir, 'blobs', '.tmp'))).toEqual([]);
    const inputs = await readdir(path.join(svc.dataDir, 'blobs', 'inputs')).catch(() => []);
    for (const dir of inputs) {
      for (const file of await readdir(path.join(svc.dataDir, 'blobs', 'inputs', dir))) {
        const job = await fetch(`${svc.url}/api/v1/jobs?sha256=${file}`);
        expect(((await job.json()) as { jobs: unknown[] }).jobs.length).toBeGreaterThan(0);
      }
    }
  });

  it('answers an unknown engine with 404 naming the engines there are', async () => {
    const response = await upload(svc.url, 'nosuch', Buffer.from('x'));
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ENGINE_NOT_FOUND');
    expect(body.error.message).toContain('echo');
  });

  it('answers bad and unknown ids with 400 and 404', async () => {
    const bad = await fetch(`${svc.url}/result/1`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('INVALID_JOB_ID');
    const unknown = await fetch(`${svc.url}/result/AAAAAAAAAAAAAAAAAAAAAA`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('JOB_NOT_FOUND');
    expect((await fetch(`${svc.url}/link/AAAAAAAAAAAAAAAAAAAAAA`)).status).toBe(404);
  });

  it('answers malformed multipart with 400, a missing field with 400, and a non-multipart body with 415', async () => {
    const truncated = await fetch(`${svc.url}/echo/upload`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
      body: '--XyZ\r\nContent-Disposition: form-data; name="upload"; filename="a"\r\n\r\nhalf a fi',
    });
    expect(truncated.status).toBe(400);
    expect(((await truncated.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_MULTIPART');

    const form = new FormData();
    form.append('file', new Blob(['x']), 'x');
    const missing = await fetch(`${svc.url}/echo/upload`, { method: 'POST', body: form });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('UPLOAD_MISSING_FILE');

    const json = await fetch(`${svc.url}/echo/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(415);
    expect(await readdir(path.join(svc.dataDir, 'blobs', '.tmp'))).toEqual([]);
  });

  it('lists jobs newest first with cursor paging and filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(svc.url, 'echo', Buffer.from(`page ${i}`)));
    for (const id of ids) await waitForFinal(svc.url, id);
    const first = (await (await fetch(`${svc.url}/api/v1/jobs?engine=echo&limit=2`)).json()) as {
      jobs: { id: string }[];
      nextCursor: string;
    };
    expect(first.jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    const second = (await (
      await fetch(`${svc.url}/api/v1/jobs?engine=echo&limit=2&cursor=${first.nextCursor}`)
    ).json()) as {
      jobs: { id: string }[];
    };
    expect(second.jobs[0]?.id).toBe(ids[0]);
    const failed = (await (await fetch(`${svc.url}/api/v1/jobs?state=failed`)).json()) as {
      jobs: { state: string }[];
    };
    expect(failed.jobs.every((j) => j.state === 'failed')).toBe(true);
    expect((await fetch(`${svc.url}/api/v1/jobs?cursor=bogus`)).status).toBe(400);
    expect((await fetch(`${svc.url}/api/v1/jobs?state=sideways`)).status).toBe(400);
  });

  it('submits one file to several engines through /api/v1/jobs', async () => {
    const form = new FormData();
    form.append('engine', 'echo');
    form.append('engine', 'ok');
    form.append('file', new Blob(['multi']), 'multi.txt');
    const response = await fetch(`${svc.url}/api/v1/jobs`, { method: 'POST', body: form });
    expect(response.status).toBe(201);
    const { jobs } = (await response.json()) as { jobs: { id: string; engine: string }[] };
    expect(jobs.map((j) => j.engine).sort()).toEqual(['echo', 'ok']);
    for (const job of jobs) expect((await waitForFinal(svc.url, job.id)).state).toBe('succeeded');
    const one = await getJob(svc.url, jobs[0]!.id);
    expect(one.input.name).toBe('multi.txt');
  });
});
