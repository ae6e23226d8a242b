import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import {
  leftoversOf,
  repoRoot,
  submit,
  testkitEngine,
  waitForFinal,
  writeEngines,
} from '../helpers/service.js';

describe('structured logs', () => {
  let dataDir = '';
  const workerId = `logs-${randomBytes(4).toString('hex')}`;

  afterAll(async () => {
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('are JSON lines, and every line about a job names the job, its engine and, once made, its container', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'menagerie-logs-'));
    const engines = await writeEngines([testkitEngine('echo', { cmd: '/engine/echo.sh' })]);
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'dist/cli/main.js'),
        'serve',
        '--port',
        '0',
        '--data',
        dataDir,
        '--engines',
        engines,
        '--worker-id',
        workerId,
        '--log-level',
        'debug',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const lines: Record<string, unknown>[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'menagerie is serving') resolve(entry.url as string);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    try {
      const id = await submit(url, 'echo', Buffer.from('log me'));
      expect((await waitForFinal(url, id)).state).toBe('succeeded');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const aboutJob = lines.filter((l) => l.jobId === id);
      expect(aboutJob.map((l) => l.msg)).toEqual(
        expect.arrayContaining(['container created', 'job finished']),
      );
      for (const line of aboutJob) expect(line).toMatchObject({ engine: 'echo', level: expect.any(Number) });
      const finished = aboutJob.find((l) => l.msg === 'job finished')!;
      expect(finished).toMatchObject({
        state: 'succeeded',
        containerId: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
