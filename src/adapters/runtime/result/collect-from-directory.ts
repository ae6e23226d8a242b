import { constants, createWriteStream } from 'node:fs';
import { lstat, open, opendir, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { CollectedResult } from '../../../ports/container-runtime.js';
import { ResultBudget, ResultRejected, checkName, printable, type ResultLimits } from './result-rules.js';

// O_NOFOLLOW refuses a link swapped in for a checked name; O_NONBLOCK keeps a FIFO from hanging the open.
const openFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

async function openRegular(filePath: string, shownPath: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(filePath, openFlags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new ResultRejected(
        `result entry ${printable(shownPath)} is a symbolic link; links are never followed`,
      );
    }
    throw error;
  }
  const st = await handle.stat();
  if (!st.isFile()) {
    await handle.close();
    throw new ResultRejected(`result entry ${printable(shownPath)} is not a regular file`);
  }
  if (st.nlink > 1) {
    await handle.close();
    throw new ResultRejected(`result entry ${printable(shownPath)} is a hard link; links are refused`);
  }
  return handle;
}

function describeType(st: Awaited<ReturnType<typeof lstat>>): string {
  if (st.isSymbolicLink()) return 'a symbolic link; links are never followed';
  if (st.isFIFO()) return 'a FIFO; only regular files and directories are accepted';
  if (st.isSocket()) return 'a socket; only regular files and directories are accepted';
  if (st.isCharacterDevice() || st.isBlockDevice())
    return 'a device; only regular files and directories are accepted';
  return 'not a regular file or directory';
}

/**
 * Takes `<root>/result` out of a job volume the engine has finished with:
 * a regular file is copied; a directory is packed as .tar.gz with clean
 * headers. Links, devices, FIFOs, sockets, hard links, bad names and
 * anything past the limits reject the result.
 */
export async function collectFromDirectory(
  root: string,
  outDir: string,
  limits: ResultLimits,
): Promise<CollectedResult> {
  const resultPath = path.join(root, 'result');
  let st;
  try {
    st = await lstat(resultPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw error;
  }
  const budget = new ResultBudget(limits);
  try {
    if (st.isFile()) {
      const out = path.join(outDir, 'result.bin');
      const handle = await openRegular(resultPath, 'result');
      try {
        budget.addBytes((await handle.stat()).size);
        await pipeline(
          handle.createReadStream({ autoClose: false }),
          createWriteStream(out, { flags: 'wx' }),
        );
      } finally {
        await handle.close();
      }
      return { kind: 'file', path: out, size: st.size };
    }
    if (!st.isDirectory()) throw new ResultRejected(`result is ${describeType(st)}`);
    const out = path.join(outDir, 'result.tar.gz');
    const pack = tar.pack();
    const written = pipeline(pack, createGzip({ level: 6 }), createWriteStream(out, { flags: 'wx' }));
    try {
      await packDirectory(resultPath, 'result', 1, pack, budget);
      pack.finalize();
      await written;
    } catch (error) {
      pack.destroy();
      await written.catch(() => undefined);
      await rm(out, { force: true });
      throw error;
    }
    const size = (await lstat(out)).size;
    return { kind: 'archive', path: out, size };
  } catch (error) {
    if (error instanceof ResultRejected) return { kind: 'rejected', reason: error.message };
    throw error;
  }
}

async function packDirectory(
  dir: string,
  shownDir: string,
  depth: number,
  pack: tar.Pack,
  budget: ResultBudget,
): Promise<void> {
  budget.addEntry(shownDir, depth);
  pack.entry({ name: shownDir + '/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  const names: string[] = [];
  for await (const entry of await opendir(dir)) names.push(entry.name);
  names.sort();
  for (const name of names) {
    const shown = `${shownDir}/${name}`;
    checkName(name, shown);
    const full = path.join(dir, name);
    const st = await lstat(full);
    if (st.isDirectory()) {
      await packDirectory(full, shown, depth + 1, pack, budget);
    } else if (st.isFile()) {
      budget.addEntry(shown, depth + 1);
      const handle = await openRegular(full, shown);
      try {
        const size = (await handle.stat()).size;
        budget.addBytes(size);
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry({ name: shown, size, mode: 0o644, mtime: st.mtime }, (error) =>
            error ? reject(error) : resolve(),
          );
          pipeline(
            handle.createReadStream({ autoClose: false }),
            sink as unknown as NodeJS.WritableStream,
          ).catch(reject);
        });
      } finally {
        await handle.close();
      }
    } else {
      throw new ResultRejected(`result entry ${printable(shown)} is ${describeType(st)}`);
    }
  }
}
