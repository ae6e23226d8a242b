import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  frameworkApk,
  leftoversOf,
  sampleEngines,
  startTestService,
  submit,
  waitForFinal,
  type TestService,
} from '../helpers/service.js';

function hashes(data: Buffer) {
  return {
    md5: createHash('md5').update(data).digest('hex'),
    sha1: createHash('sha1').update(data).digest('hex'),
    sha256: createHash('sha256').update(data).digest('hex'),
  };
}

describe('the sample engines', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({ engines: sampleEngines });
  });

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('apktool decodes framework-res.apk: Success, a summary naming the package, an archive with AndroidManifest.xml', async () => {
    const apk = await readFile(frameworkApk);
    const id = await submit(svc.url, 'apktool', apk, 'framework-res.apk');
    const job = await waitForFinal(svc.url, id, 200_000);
    expect(job.state, job.reason ?? '').toBe('succeeded');
    // A JVM decoding a 45 MB APK for seconds: its cgroup was sampled while it ran.
    const usage = (
      (await (await fetch(`${svc.url}/api/v1/jobs/${id}`)).json()) as {
        usage: { peakMemoryBytes: number; cpuMs: number };
      }
    ).usage;
    expect(usage.peakMemoryBytes).toBeGreaterThan(64 * 1024 * 1024);
    expect(usage.peakMemoryBytes).toBeLessThanOrEqual(1024 * 1024 * 1024);
    expect(usage.cpuMs).toBeGreaterThan(1000);
    const compat = (await (await fetch(`${svc.url}/result/${id}`)).json()) as {
      status: string;
      summary: string;
    };
    expect(compat.status).toBe('Success');
    expect(compat.summary).toMatch(/package:?\s+android\b/i);
    expect(compat.summary).toMatch(/permission/i);
    const link = await fetch(`${svc.url}/link/${id}`);
    expect(link.headers.get('content-type')).toBe('application/gzip');
    const tar = gunzipSync(Buffer.from(await link.arrayBuffer())).toString('latin1');
    expect(tar).toContain('result/AndroidManifest.xml');
  }, 240_000);

  const fixtures: [string, Buffer, RegExp, string][] = [
    ['plain text', Buffer.from('hello analyst\n'.repeat(20)), /text/i, 'text/plain'],
    [
      'gzip data',
      gzipSync(Buffer.from('compressed '.repeat(100))),
      /gzip compressed data/i,
      'application/gzip',
    ],
    ['zeros', Buffer.alloc(4096), /data/i, 'application/octet-stream'],
  ];

  it.each(fixtures)(
    'fileinfo reports type, size, hashes and entropy of %s',
    async (_name, data, type, mime) => {
      const id = await submit(svc.url, 'fileinfo', data, 'sample.bin');
      const job = await waitForFinal(svc.url, id);
      expect(job.state, job.reason ?? '').toBe('succeeded');
      const info = (await (await fetch(`${svc.url}/link/${id}`)).json()) as Record<string, unknown>;
      expect(info).toMatchObject({ size: data.length, mime, ...hashes(data) });
      expect(info.type).toMatch(type);
      expect(typeof info.entropy).toBe('number');
      if (data.every((b) => b === 0)) expect(info.entropy).toBe(0);
      else expect(info.entropy as number).toBeGreaterThan(0);
      expect(job.summary).toMatch(type);
    },
  );
});
