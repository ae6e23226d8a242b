import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { BlobUpload } from '../../ports/blob-store.js';

/**
 * A blob upload written to a temporary file first: `publish` makes it visible
 * under its key on commit; the temporary file is gone after commit or abort,
 * whatever happened.
 */
export function stagedUpload(tmp: string, publish: (key: string, tmp: string) => Promise<void>): BlobUpload {
  const stream = createWriteStream(tmp, { flags: 'wx' });
  let settled = false;
  const closed = (): Promise<void> =>
    stream.closed
      ? Promise.resolve()
      : new Promise((resolve) => {
          stream.once('close', () => resolve());
          if (!stream.writableEnded) stream.end();
        });
  return {
    stream,
    commit: async (key: string) => {
      if (settled) throw new Error('blob upload already settled');
      settled = true;
      await closed();
      try {
        await publish(key, tmp);
      } finally {
        await rm(tmp, { force: true });
      }
    },
    abort: async () => {
      settled = true;
      stream.destroy();
      await closed();
      await rm(tmp, { force: true });
    },
  };
}
