import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectFromTar } from './collect-from-tar.js';

type Entry = Partial<tar.Header> & { name: string; body?: string };

function tarOf(entries: Entry[]): Readable {
  const pack = tar.pack();
  for (const { body, ...header } of entries) pack.entry(header, body ?? '');
  pack.finalize();
  return pack as unknown as Readable;
}

function names(archive: Buffer): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const found: string[] = [];
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      found.push(header.name);
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', () => resolve(found));
    extract.on('error', reject);
    extract.end(gunzipSync(archive));
  });
}

const limits = { maxBytes: 1024, maxEntries: 10, maxDepth: 4 };

describe('collectFromTar (archive-copy path)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'menagerie-tar-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes a single file result as itself', async () => {
    const result = await collectFromTar(tarOf([{ name: 'result', body: 'hello' }]), dir, limits);
    expect(result).toMatchObject({ kind: 'file', size: 5 });
    if (result.kind !== 'file') throw new Error('unreachable');
    expect(await readFile(result.path, 'utf8')).toBe('hello');
  });

  it('repacks a directory result as .tar.gz with the same names', async () => {
    const result = await collectFromTar(
      tarOf([
        { name: 'result/', type: 'directory' },
        { name: 'result/a.txt', body: 'a' },
        { name: 'result/sub/', type: 'directory' },
        { name: 'result/sub/b.txt', body: 'bb' },
      ]),
      dir,
      limits,
    );
    expect(result.kind).toBe('archive');
    if (result.kind !== 'archive') throw new Error('unreachable');
    expect(await names(await readFile(result.path))).toEqual([
      'result/',
      'result/a.txt',
      'result/sub/',
      'result/sub/b.txt',
    ]);
  });

  it('returns none for an empty archive', async () => {
    expect(await collectFromTar(tarOf([]), dir, limits)).toEqual({ kind: 'none' });
  });

  it.each([
    [
      'a symlink to a host path',
      { name: 'result/passwd', type: 'symlink', linkname: '/etc/passwd' },
      /symbolic link/,
    ],
    ['a symlink to /', { name: 'result/root', type: 'symlink', linkname: '/' }, /symbolic link/],
    ['a hard link', { name: 'result/hard', type: 'link', linkname: 'result/a.txt' }, /hard link/],
    ['a FIFO', { name: 'result/pipe', type: 'fifo' }, /FIFO/],
    ['a device', { name: 'result/dev', type: 'character-device' }, /device/],
    ['a ../ name', { name: 'result/../../etc/cron.d/x', body: 'x' }, /"\.\." path component/],
    ['an absolute name', { name: '/etc/passwd', body: 'x' }, /path component|outside/],
    ['a name with a newline', { name: 'result/evil\nname', body: 'x' }, /control character/],
    ['an entry outside result', { name: 'other/file', body: 'x' }, /outside the result/],
  ] as [string, Entry, RegExp][])('rejects %s and leaves no file behind', async (_what, entry, reason) => {
    const result = await collectFromTar(
      tarOf([{ name: 'result/', type: 'directory' }, { name: 'result/a.txt', body: 'a' }, entry]),
      dir,
      limits,
    );
    expect(result.kind).toBe('rejected');
    if (result.kind !== 'rejected') throw new Error('unreachable');
    expect(result.reason).toMatch(reason);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual([]);
  });

  it('rejects a result past the byte cap', async () => {
    const result = await collectFromTar(tarOf([{ name: 'result', body: 'x'.repeat(2000) }]), dir, limits);
    expect(result).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/too large/) });
  });

  it('rejects a result with too many entries', async () => {
    const many: Entry[] = [{ name: 'result/', type: 'directory' }];
    for (let i = 0; i < 20; i++) many.push({ name: `result/f${i}`, body: '' });
    const result = await collectFromTar(tarOf(many), dir, limits);
    expect(result).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/more than 10 entries/) });
  });
});
