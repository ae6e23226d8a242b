import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, readFile, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectFromDirectory } from './collect-from-directory.js';

const limits = { maxBytes: 1024 * 1024, maxEntries: 50, maxDepth: 4 };

describe('collectFromDirectory (job-volume path)', () => {
  let root: string;
  let out: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'menagerie-vol-'));
    out = await mkdtemp(path.join(tmpdir(), 'menagerie-out-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  });

  it('returns none when the engine wrote no result', async () => {
    expect(await collectFromDirectory(root, out, limits)).toEqual({ kind: 'none' });
  });

  it('copies a file result', async () => {
    await writeFile(path.join(root, 'result'), '{"ok":true}');
    const result = await collectFromDirectory(root, out, limits);
    expect(result).toMatchObject({ kind: 'file', size: 11 });
    if (result.kind === 'file') expect(await readFile(result.path, 'utf8')).toBe('{"ok":true}');
  });

  it('archives a directory result with its files', async () => {
    await mkdir(path.join(root, 'result', 'sub'), { recursive: true });
    await writeFile(path.join(root, 'result', 'a.txt'), 'a');
    await writeFile(path.join(root, 'result', 'sub', 'b.txt'), 'b');
    const result = await collectFromDirectory(root, out, limits);
    expect(result.kind).toBe('archive');
    if (result.kind !== 'archive') return;
    const listing = gunzipSync(await readFile(result.path)).toString('latin1');
    expect(listing).toContain('result/a.txt');
    expect(listing).toContain('result/sub/b.txt');
  });

  it('refuses a result that is itself a symlink to /etc/passwd', async () => {
    await symlink('/etc/passwd', path.join(root, 'result'));
    const result = await collectFromDirectory(root, out, limits);
    expect(result).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/symbolic link/) });
    expect(await readdir(out)).toEqual([]);
  });

  it.each([
    [
      'a symlink to a host path',
      (dir: string) => symlink('/etc/passwd', path.join(dir, 'passwd')),
      /symbolic link/,
    ],
    ['a symlink to /', (dir: string) => symlink('/', path.join(dir, 'root')), /symbolic link/],
    ['a FIFO', async (dir: string) => execFileSync('mkfifo', [path.join(dir, 'pipe')]), /FIFO/],
    [
      'a hard link',
      async (dir: string) => {
        await writeFile(path.join(root, 'input'), 'secret');
        await link(path.join(root, 'input'), path.join(dir, 'hard'));
      },
      /hard link/,
    ],
    [
      'a name with a newline',
      (dir: string) => writeFile(path.join(dir, 'evil\nname'), 'x'),
      /control character/,
    ],
  ] as [string, (dir: string) => Promise<unknown>, RegExp][])(
    'rejects a directory holding %s',
    async (_what, plant, reason) => {
      const dir = path.join(root, 'result');
      await mkdir(dir);
      await writeFile(path.join(dir, 'ok.txt'), 'fine');
      await plant(dir);
      const result = await collectFromDirectory(root, out, limits);
      expect(result.kind).toBe('rejected');
      if (result.kind === 'rejected') expect(result.reason).toMatch(reason);
      expect(await readdir(out)).toEqual([]);
    },
  );

  it('rejects a sparse file larger than the cap without reading it whole', async () => {
    await writeFile(path.join(root, 'result'), '');
    await truncate(path.join(root, 'result'), 200 * 1024 * 1024);
    const result = await collectFromDirectory(root, out, limits);
    expect(result).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/too large/) });
  });

  it('rejects nesting past the depth limit', async () => {
    await mkdir(path.join(root, 'result', 'a', 'b', 'c', 'd', 'e'), { recursive: true });
    const result = await collectFromDirectory(root, out, limits);
    expect(result).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/deeper than 4/) });
  });
});
