import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { CollectedResult } from '../../../ports/container-runtime.js';
import { ResultBudget, ResultRejected, checkName, printable, type ResultLimits } from './result-rules.js';

function describeTarType(type: string | null | undefined): string {
  switch (type) {
    case 'symlink':
      return 'a symbolic link; links are never followed';
    case 'link':
      return 'a hard link; links are refused';
    case 'fifo':
      return 'a FIFO; only regular files and directories are accepted';
    case 'character-device':
    case 'block-device':
      return 'a device; only regular files and directories are accepted';
    default:
      return `of type ${type ?? 'unknown'}; only regular files and directories are accepted`;
  }
}

/**
 * Takes a result out of a tar stream (the Engine API's archive copy of
 * `<mountpoint>/result`), under the same rules as a directory: regular files
 * and directories only, plain names under `result`, capped. A single file
 * comes out as itself; a directory is repacked as .tar.gz with clean headers.
 */
export async function collectFromTar(
  source: Readable,
  outDir: string,
  limits: ResultLimits,
): Promise<CollectedResult> {
  const budget = new ResultBudget(limits);
  const extract = tar.extract();
  const archivePath = path.join(outDir, 'result.tar.gz');
  const filePath = path.join(outDir, 'result.bin');
  let pack: tar.Pack | undefined;
  let packed: Promise<void> | undefined;
  let single: { size: number } | undefined;
  let entries = 0;
  try {
    source.on('error', (error) => extract.destroy(error));
    source.pipe(extract);
    for await (const entry of extract) {
      const header = entry.header;
      const name = header.name.replace(/\/+$/, '');
      entries += 1;
      const parts = name.split('/');
      parts.forEach((part) => checkName(part, name));
      if (parts[0] !== 'result') {
        throw new ResultRejected(`result entry ${printable(name)} lies outside the result`);
      }
      if (header.type !== 'file' && header.type !== 'directory' && header.type !== 'contiguous-file') {
        throw new ResultRejected(`result entry ${printable(name)} is ${describeTarType(header.type)}`);
      }
      budget.addEntry(name, parts.length);
      if (entries === 1 && parts.length === 1 && header.type !== 'directory') {
        single = { size: 0 };
        await copyCapped(
          entry as unknown as Readable,
          createWriteStream(filePath, { flags: 'wx' }),
          budget,
          single,
        );
        continue;
      }
      if (single) throw new ResultRejected('result is a file followed by more entries');
      if (!pack) {
        pack = tar.pack();
        packed = pipeline(pack, createGzip({ level: 6 }), createWriteStream(archivePath, { flags: 'wx' }));
      }
      if (header.type === 'directory') {
        pack.entry({ name: name + '/', type: 'directory', mode: 0o755, mtime: header.mtime ?? new Date(0) });
        entry.resume();
        continue;
      }
      // The declared size is only a claim: the bytes are counted as they arrive.
      const declared = header.size ?? 0;
      budget.addBytes(0);
      if (declared > limits.maxBytes) {
        throw new ResultRejected(`result entry ${printable(name)} is larger than the result limit`);
      }
      await new Promise<void>((resolve, reject) => {
        const sink = (pack as tar.Pack).entry(
          { name, size: declared, mode: 0o644, mtime: header.mtime ?? new Date(0) },
          (error) => (error ? reject(error) : resolve()),
        );
        copyCapped(entry as unknown as Readable, sink as unknown as Writable, budget, { size: 0 }).catch(
          reject,
        );
      });
    }
    if (single) return { kind: 'file', path: filePath, size: single.size };
    if (!pack) return { kind: 'none' };
    pack.finalize();
    await packed;
    return { kind: 'archive', path: archivePath, size: (await stat(archivePath)).size };
  } catch (error) {
    pack?.destroy();
    await packed?.catch(() => undefined);
    source.destroy();
    await rm(archivePath, { force: true });
    await rm(filePath, { force: true });
    if (error instanceof ResultRejected) return { kind: 'rejected', reason: error.message };
    throw error;
  }
}

async function copyCapped(
  entry: Readable,
  sink: Writable,
  budget: ResultBudget,
  counter: { size: number },
): Promise<void> {
  await pipeline(
    entry,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        budget.addBytes(chunk.length);
        counter.size += chunk.length;
        yield chunk;
      }
    },
    sink,
  );
}
