import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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

async function engineNames(url: string): Promise<string[]> {
  const { engines } = (await (await fetch(`${url}/api/v1/engines`)).json()) as {
    engines: { name: string }[];
  };
  return engines.map((e) => e.name).sort();
}

describe('engines.json hot reload', () => {
  let svc: TestService;
  let file: string;
  const echo = testkitEngine('echo', { cmd: '/engine/echo.sh' });
  const slow = testkitEngine('slow', {
    cmd: ['/bin/sh', '-c', 'sleep 2; echo slow done > /var/data/result'],
  });

  beforeAll(async () => {
    file = await writeEngines([echo]);
    svc = await startTestService({ engines: file });
  });

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('serves an engine added to the file, without a restart', async () => {
    await writeFile(file, JSON.stringify({ engines: [echo, slow] }));
    await waitFor('the new engine', async () =>
      (await engineNames(svc.url)).includes('slow') ? true : undefined,
    );
    const id = await submit(svc.url, 'slow', Buffer.from('x'));
    expect((await waitForFinal(svc.url, id)).state).toBe('succeeded');
  });

  it('keeps the engines in force when the file is broken, and says why', async () => {
    await writeFile(file, '{"engines": [ {"name": "broken", "image": 1} ]}');
    const response = await fetch(`${svc.url}/api/v1/engines/reload`, { method: 'POST' });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ENGINES_CONFIG_REJECTED');
    expect(body.error.message).toMatch(/engine "broken".*"image"/);
    expect(await engineNames(svc.url)).toEqual(['echo', 'slow']);
    const id = await submit(svc.url, 'echo', Buffer.from('still here'));
    expect((await waitForFinal(svc.url, id)).state).toBe('succeeded');
  });

  it('lets a removed engine finish its running job while it takes no new ones', async () => {
    await writeFile(file, JSON.stringify({ engines: [echo, slow] }));
    await fetch(`${svc.url}/api/v1/engines/reload`, { method: 'POST' });
    const id = await submit(svc.url, 'slow', Buffer.from('x'));
    await waitFor('the slow job to run', async () => {
      const job = (await (await fetch(`${svc.url}/api/v1/jobs/${id}`)).json()) as { state: string };
      return job.state === 'running' ? true : undefined;
    });
    await writeFile(file, JSON.stringify({ engines: [echo] }));
    const reloaded = await fetch(`${svc.url}/api/v1/engines/reload`, { method: 'POST' });
    expect(((await reloaded.json()) as { engines: string[] }).engines).toEqual(['echo']);
    expect((await upload(svc.url, 'slow', Buffer.from('x'))).status).toBe(404);
    const job = await waitForFinal(svc.url, id);
    expect(job.state).toBe('succeeded');
    expect(await (await fetch(`${svc.url}/link/${id}`)).text()).toBe('slow done\n');
  });
});
