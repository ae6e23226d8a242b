import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  leftoversOf,
  startTestService,
  submit,
  testkitEngine,
  waitForFinal,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

const engines = () =>
  writeEngines([
    testkitEngine('hostile', { cmd: '/engine/hostile-result.sh' }),
    testkitEngine('symlink', { cmd: '/engine/symlink-result.sh' }),
    testkitEngine('echo', { cmd: '/engine/echo.sh' }),
  ]);

describe.each(['volume', 'archive'] as const)('results are untrusted input (job io: %s)', (jobIo) => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({ engines: await engines(), flags: { jobIo } });
  });

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('fails a result directory holding links, a FIFO and a hard link, with a clear reason and no result', async () => {
    const id = await submit(svc.url, 'hostile', Buffer.from('input'));
    const job = await waitForFinal(svc.url, id);
    expect(job.state).toBe('failed');
    expect(job.exitCode).toBe(0);
    expect(job.reason).toMatch(/result entry "result\/[\w.]+" is (a symbolic link|a FIFO|a hard link)/);
    expect(job.result).toBeNull();
    const link = await fetch(`${svc.url}/link/${id}`);
    expect(link.status).toBe(404);
    const body = await link.text();
    expect(body).not.toContain('root:x:0:0');
  });

  it('fails a result that is itself a symlink to /etc/passwd without reading it', async () => {
    const id = await submit(svc.url, 'symlink', Buffer.from('input'));
    const job = await waitForFinal(svc.url, id);
    expect(job.state).toBe('failed');
    expect(job.reason).toMatch(/symbolic link/);
    expect(job.summary ?? '').not.toContain('root:');
  });

  it('still runs a benign engine', async () => {
    const id = await submit(svc.url, 'echo', Buffer.from('benign'));
    const job = await waitForFinal(svc.url, id);
    expect(job.state).toBe('succeeded');
    expect(await (await fetch(`${svc.url}/link/${id}`)).text()).toBe('benign');
  });
});
