import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import type { EngineSpec } from '../../../domain/index.js';

/**
 * An uncompressed tar holding the input for an archive copy into the job
 * volume: the volume's root owned by the engine user (so it can write its
 * result), the input read-only. Never compressed: older engines ran a
 * decompressor from the container's filesystem as host root.
 */
export async function packInput(inputPath: string, engine: EngineSpec): Promise<Readable> {
  const [uid, gid] = engine.policy.user.split(':').map(Number);
  const size = (await stat(inputPath)).size;
  const pack = tar.pack();
  pack.entry({ name: './', type: 'directory', mode: 0o755, uid: uid ?? 0, gid: gid ?? uid ?? 0 });
  const entry = pack.entry({ name: engine.inputFileName, size, mode: 0o444, uid: 0, gid: 0 }, (error) => {
    if (error) pack.destroy(error);
    else pack.finalize();
  });
  createReadStream(inputPath)
    .on('error', (error) => pack.destroy(error))
    .pipe(entry);
  return pack as unknown as Readable;
}
