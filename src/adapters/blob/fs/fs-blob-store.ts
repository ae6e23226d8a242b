import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, readdir, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobInfo, BlobStore, BlobUpload } from '../../../ports/blob-store.js';
import { stagedUpload } from '../staged-upload.js';

const keyPattern = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/** Blobs as files under a directory; writes land in a temporary file and appear whole or not at all. */
export class FsBlobStore implements BlobStore {
  private readonly tmpDir: string;

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, '.tmp');
  }

  /** Creates the directories and removes temporary files a crash left behind. */
  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true });
    for (const name of await readdir(this.tmpDir)) await rm(path.join(this.tmpDir, name), { force: true });
  }

  private pathOf(key: string): string {
    if (!keyPattern.test(key) || key.split('/').includes('..'))
      throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return path.join(this.root, key);
  }

  async begin(): Promise<BlobUpload> {
    return stagedUpload(path.join(this.tmpDir, randomBytes(12).toString('hex')), (key, tmp) =>
      publish(tmp, this.pathOf(key)),
    );
  }

  async putFile(key: string, filePath: string): Promise<void> {
    const target = this.pathOf(key);
    const tmp = path.join(this.tmpDir, randomBytes(12).toString('hex'));
    await copyFile(filePath, tmp);
    await publish(tmp, target);
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      return { size: (await stat(this.pathOf(key))).size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async open(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    await stat(file);
    return createReadStream(file);
  }

  async localPath(key: string): Promise<string | undefined> {
    const file = this.pathOf(key);
    return (await this.stat(key)) ? file : undefined;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}

/** Moves a finished temporary file to its key; an existing blob is kept (keys are content or job ids). */
async function publish(tmp: string, target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  try {
    await link(tmp, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }
  await unlink(tmp);
}
