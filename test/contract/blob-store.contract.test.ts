import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../src/adapters/blob/fs/fs-blob-store.js';
import { HttpBlobStore } from '../../src/adapters/blob/http/http-blob-store.js';
import type { BlobStore } from '../../src/ports/blob-store.js';
import { startTestService, testkitEngines, type TestService } from '../helpers/service.js';

const secret = randomBytes(24).toString('hex');

interface BlobBackend {
  blobs: BlobStore;
  close(): Promise<void>;
}

async function openFs(): Promise<BlobBackend> {
  const dir = await mkdtemp(path.join(tmpdir(), 'menagerie-blobs-'));
  const blobs = new FsBlobStore(dir);
  await blobs.init();
  return { blobs, close: () => rm(dir, { recursive: true, force: true }) };
}

async function openHttp(): Promise<BlobBackend & { api: TestService }> {
  const api = await startTestService({
    engines: testkitEngines,
    flags: { role: 'api', workerSecret: secret },
  });
  const tmp = await mkdtemp(path.join(tmpdir(), 'menagerie-blob-uploads-'));
  const blobs = new HttpBlobStore({ apiUrl: api.url, workerSecret: secret, tmpDir: tmp, tries: 1 });
  return {
    blobs,
    api,
    close: async () => {
      await api.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

describe.each([
  ['fs', openFs],
  ['http', openHttp],
] as const)('BlobStore contract: %s', (_kind, open) => {
  let backend: BlobBackend;
  let scratch: string;
  beforeAll(async () => {
    backend = await open();
    scratch = await mkdtemp(path.join(tmpdir(), 'menagerie-blob-src-'));
  });
  afterAll(async () => {
    await backend?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('stores a streamed upload under a key only on commit', async () => {
    const key = `results/${randomBytes(8).toString('hex')}/1`;
    const upload = await backend.blobs.begin();
    await pipeline(Readable.from(['hello ', 'blob']), upload.stream, { end: false });
    expect(await backend.blobs.stat(key)).toBeUndefined();
    upload.stream.end();
    await upload.commit(key);
    expect(await backend.blobs.stat(key)).toEqual({ size: 10 });
    expect(await text(await backend.blobs.open(key))).toBe('hello blob');
  });

  it('forgets an aborted upload', async () => {
    const key = `logs/${randomBytes(8).toString('hex')}`;
    const upload = await backend.blobs.begin();
    upload.stream.write('partial');
    await upload.abort();
    expect(await backend.blobs.stat(key)).toBeUndefined();
  });

  it('stores a file, keeps the first blob under a key, and deletes', async () => {
    const key = `inputs/${randomBytes(16).toString('hex')}`;
    const big = randomBytes(3 * 1024 * 1024 + 7);
    const file = path.join(scratch, 'big');
    await writeFile(file, big);
    await backend.blobs.putFile(key, file);
    await writeFile(file, 'different');
    await backend.blobs.putFile(key, file);
    const copy = path.join(scratch, 'copy');
    await pipeline(await backend.blobs.open(key), (await import('node:fs')).createWriteStream(copy));
    expect((await readFile(copy)).equals(big)).toBe(true);
    await backend.blobs.delete(key);
    expect(await backend.blobs.stat(key)).toBeUndefined();
    await expect(backend.blobs.open(key)).rejects.toThrow();
  });

  it('refuses keys that could leave the store', async () => {
    for (const key of ['../etc/passwd', 'a/../../b', '/abs', 'a//b']) {
      await expect(backend.blobs.stat(key)).rejects.toThrow();
    }
  });
});

describe('internal blob endpoints', () => {
  let api: TestService;
  let closed: TestService;
  beforeAll(async () => {
    api = await startTestService({ engines: testkitEngines, flags: { role: 'api', workerSecret: secret } });
    closed = await startTestService({ engines: testkitEngines, flags: { role: 'api' } });
  });
  afterAll(async () => {
    await api?.stop();
    await closed?.stop();
  });

  it('answer 401 without the worker secret or with a wrong one, and a user cannot read blobs', async () => {
    const url = `${api.url}/internal/v1/blobs/inputs/abc`;
    expect((await fetch(url)).status).toBe(401);
    const wrong = await fetch(url, { headers: { authorization: `Bearer ${secret.slice(0, -1)}x` } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: 'WORKER_AUTH_FAILED' } });
    const put = await fetch(url, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${secret}` } });
    expect(ok.status).toBe(404);
  });

  it('do not exist on an API node without a worker secret', async () => {
    const response = await fetch(`${closed.url}/internal/v1/blobs/inputs/abc`);
    expect(response.status).toBe(404);
  });

  it('tell a worker with the wrong secret what to fix', async () => {
    const tmp = await mkdtemp(path.join(tmpdir(), 'menagerie-blob-uploads-'));
    const blobs = new HttpBlobStore({ apiUrl: api.url, workerSecret: 'not-the-secret-at-all', tmpDir: tmp });
    await expect(blobs.stat('inputs/abc')).rejects.toThrow(/worker-secret/);
    await rm(tmp, { recursive: true, force: true });
  });
});
