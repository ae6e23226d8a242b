import { createWriteStream, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';

/** Keeps the first `maxBytes` written in memory and counts the rest. */
export class CappedBuffer extends Writable {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  totalBytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.totalBytes += chunk.length;
    const room = this.maxBytes - this.kept;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(Buffer.from(part));
      this.kept += part.length;
    }
    callback();
  }

  head(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Writes the first `maxBytes` to a file and counts the rest; what is past the
 * cap is read and dropped so the container never blocks on a full pipe.
 */
export class CappedFile extends Writable {
  private readonly file: WriteStream;
  keptBytes = 0;
  totalBytes = 0;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
  ) {
    super();
    this.file = createWriteStream(path, { flags: 'wx' });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.totalBytes += chunk.length;
    const room = this.maxBytes - this.keptBytes;
    if (room <= 0) return callback();
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.keptBytes += part.length;
    if (this.file.write(part)) callback();
    else this.file.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.file.end(() => callback());
  }

  /** Closes the file, also when the source never ended. */
  async close(): Promise<void> {
    if (this.file.closed) return;
    await new Promise<void>((resolve) => {
      this.file.end(() => resolve());
    });
  }
}
