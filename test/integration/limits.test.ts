import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openJobStore } from '../../src/adapters/store/open-job-store.js';
import { KyselyTokenStore } from '../../src/adapters/store/sql/kysely-token-store.js';
import { loadConfig } from '../../src/config/load-config.js';
import { TokenService } from '../../src/services/token-service.js';
import {
  getJob,
  leftoversOf,
  startTestService,
  testkitEngine,
  upload,
  waitFor,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

async function tmpFiles(svc: TestService): Promise<string[]> {
  return readdir(path.join(svc.dataDir, 'blobs', '.tmp')).catch(() => []);
}

async function jobCount(svc: TestService): Promise<number> {
  const page = (await (await fetch(`${svc.url}/api/v1/jobs?limit=500`)).json()) as { jobs: unknown[] };
  return page.jobs.length;
}

/** Sends raw bytes and returns everything the server answers until it closes the connection. */
function rawExchange(url: string, chunks: (string | Buffer)[], keepOpen: boolean): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const received: Buffer[] = [];
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => resolve(Buffer.concat(received).toString('latin1')));
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1')));
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      if (!keepOpen) socket.end();
    });
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept a stalled connection open'));
    }, 30_000);
  });
}

describe('rate limits per address and per token', () => {
  let svc: TestService;
  let closeStore: () => Promise<void>;
  let tokenA: string;
  let tokenB: string;

  beforeAll(async () => {
    const engines = await writeEngines([testkitEngine('echo', { cmd: '/engine/echo.sh' })]);
    svc = await startTestService({ engines, flags: { rateLimitPerAddress: 12, rateLimitPerToken: 3 } });
    const config = loadConfig({ env: {}, flags: { data: svc.dataDir } });
    const store = openJobStore(config.db as string, pino({ level: 'silent' }));
    const tokenStore = new KyselyTokenStore(store.db);
    const tokens = new TokenService(tokenStore, tokenStore);
    closeStore = () => store.close();
    tokenA = (await tokens.create({ name: 'a', scopes: ['read'], createdBy: 'test' })).token;
    tokenB = (await tokens.create({ name: 'b', scopes: ['read'], createdBy: 'test' })).token;
  });

  afterAll(async () => {
    await closeStore?.();
    await svc?.stop();
  });

  it('answers 429 with Retry-After past the per-token, then the per-address limit; /healthz stays up', async () => {
    const asA = () => fetch(`${svc.url}/api/v1/jobs`, { headers: { authorization: `Bearer ${tokenA}` } });
    for (let i = 0; i < 3; i++) expect((await asA()).status).toBe(200);
    const limited = await asA();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    // Another token from the same address has its own budget.
    expect(
      (await fetch(`${svc.url}/api/v1/jobs`, { headers: { authorization: `Bearer ${tokenB}` } })).status,
    ).toBe(200);

    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await fetch(`${svc.url}/api/v1/engines`)).status);
    expect(statuses).toContain(429);
    const last = await fetch(`${svc.url}/api/v1/engines`);
    expect(last.status).toBe(429);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
  });
});

describe('backpressure, disk watermark and slow or oversized requests', () => {
  let svc: TestService;
  let full: TestService;

  beforeAll(async () => {
    const engines = await writeEngines([
      testkitEngine('sleep', { cmd: '/engine/sleep.sh', timeout: 60, workers: 1 }),
      testkitEngine('echo', { cmd: '/engine/echo.sh' }),
    ]);
    svc = await startTestService({
      engines,
      flags: { maxQueuedPerEngine: 1, headersTimeoutMs: 1000, requestTimeoutMs: 2000 },
    });
    full = await startTestService({ engines, flags: { minFreeDiskMb: 1024 * 1024 * 1024 } });
  }, 60_000);

  afterAll(async () => {
    await svc?.stop();
    await full?.stop();
    expect(await leftoversOf(svc.workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('refuses a submission past the queue cap with 429 and Retry-After, storing nothing', async () => {
    const first = ((await (await upload(svc.url, 'sleep', Buffer.from('1'))).json()) as { jobid: string })
      .jobid;
    await waitFor('first job running', async () =>
      (await getJob(svc.url, first)).state === 'running' ? true : undefined,
    );
    const second = ((await (await upload(svc.url, 'sleep', Buffer.from('2'))).json()) as { jobid: string })
      .jobid;
    expect((await getJob(svc.url, second)).state).toBe('queued');
    const before = await jobCount(svc);

    const refused = await upload(svc.url, 'sleep', Buffer.from('third, refused'));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('QUEUE_FULL');
    const form = new FormData();
    form.append('engine', 'sleep');
    form.append('file', new Blob(['v1, refused']), 'f');
    expect((await fetch(`${svc.url}/api/v1/jobs`, { method: 'POST', body: form })).status).toBe(429);
    // Another engine's queue is its own.
    expect((await upload(svc.url, 'echo', Buffer.from('echo'))).status).toBe(200);
    expect(await jobCount(svc)).toBe(before + 1);
    expect(await tmpFiles(svc)).toEqual([]);

    for (const id of [first, second]) await fetch(`${svc.url}/api/v1/jobs/${id}`, { method: 'DELETE' });
  });

  it('refuses uploads with 507 below the disk-space watermark, before anything is written', async () => {
    const refused = await upload(full.url, 'echo', Buffer.alloc(100_000, 1));
    expect(refused.status).toBe(507);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('INSUFFICIENT_STORAGE');
    expect(await tmpFiles(full)).toEqual([]);
    expect(await jobCount(full)).toBe(0);
  });

  it('closes slow headers and slow bodies with 408, and oversized headers with 431, as JSON', async () => {
    const slowHeaders = await rawExchange(svc.url, ['GET /healthz HTTP/1.1\r\nHost: x\r\n'], true);
    expect(slowHeaders).toMatch(/^HTTP\/1\.1 408/);
    expect(slowHeaders).toContain('"REQUEST_TIMEOUT"');

    const boundary = 'slowbody';
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="s"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n';
    const slowBody = await rawExchange(
      svc.url,
      [
        `POST /echo/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\n` +
          `Content-Length: 100000\r\n\r\n${head}only a little`,
      ],
      true,
    );
    expect(slowBody === '' || /^HTTP\/1\.1 (408|400)/.test(slowBody)).toBe(true);
    await waitFor('no temporary upload left', async () =>
      (await tmpFiles(svc)).length === 0 ? true : undefined,
    );

    const huge = await rawExchange(
      svc.url,
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`],
      false,
    );
    expect(huge).toMatch(/^HTTP\/1\.1 431/);
    expect(huge).toContain('"HEADERS_TOO_LARGE"');
  });
});
