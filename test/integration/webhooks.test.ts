import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/services/webhooks.js';
import {
  leftoversOf,
  startTestService,
  testkitEngine,
  waitFor,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

describe('per-submission webhooks', () => {
  let svc: TestService;
  let receiver: Server;
  let hooks: string;
  const received: Received[] = [];
  let failFirst = 1;
  const secret = 'a-test-secret-of-enough-length';

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        // The first call fails, so a retry must follow.
        res.writeHead(failFirst-- > 0 ? 500 : 204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hooks = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/`;
    svc = await startTestService({
      engines: await writeEngines([testkitEngine('echo', { cmd: '/engine/echo.sh' })]),
      flags: { webhooks: { allow: [hooks], secret, maxAttempts: 5, timeoutMs: 2000, intervalMs: 100 } },
    });
  });

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    await new Promise((resolve) => receiver.close(resolve));
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  function post(fields: [string, string | Blob][]): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of fields) form.append(name, value);
    return fetch(`${svc.url}/api/v1/jobs`, { method: 'POST', body: form });
  }

  it('calls the callback, signed, when the job is final, retrying after a failure; the job shows the delivery', async () => {
    const response = await post([
      ['engine', 'echo'],
      ['callback', `${hooks}done?case=1`],
      ['file', new Blob(['webhook me'])],
    ]);
    expect(response.status).toBe(201);
    const { jobs } = (await response.json()) as { jobs: { id: string }[] };
    const id = jobs[0]!.id;
    const job = await waitFor('the delivery', async () => {
      const j = (await (await fetch(`${svc.url}/api/v1/jobs/${id}`)).json()) as {
        webhook: { state: string; attempts: number; lastStatus: number; url: string } | null;
      };
      return j.webhook?.state === 'delivered' ? j : undefined;
    });
    expect(job.webhook).toMatchObject({ url: `${hooks}done?case=1`, attempts: 2, lastStatus: 204 });
    expect(received).toHaveLength(2);
    const last = received[1]!;
    const payload = JSON.parse(last.body) as { event: string; job: { id: string; state: string } };
    expect(payload).toMatchObject({ event: 'job.finished', job: { id, state: 'succeeded' } });
    const timestamp = Number(last.headers['x-menagerie-timestamp']);
    expect(last.headers['x-menagerie-signature']).toBe(signWebhook(secret, timestamp, last.body));
    expect(last.headers['x-menagerie-attempt']).toBe('2');
  });

  it('refuses a callback outside the allowlist before storing anything', async () => {
    const before = await readdir(path.join(svc.dataDir, 'blobs', 'inputs')).catch(() => []);
    for (const callback of ['http://169.254.169.254/latest/meta-data', 'file:///etc/passwd', 'not a url']) {
      const response = await post([
        ['engine', 'echo'],
        ['callback', callback],
        ['file', new Blob([`never stored ${callback}`])],
      ]);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        'CALLBACK_NOT_ALLOWED',
      );
    }
    expect(await readdir(path.join(svc.dataDir, 'blobs', 'inputs')).catch(() => [])).toEqual(before);
    expect(await readdir(path.join(svc.dataDir, 'blobs', '.tmp'))).toEqual([]);
  });
});
