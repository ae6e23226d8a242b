import type { Readable, Writable } from 'node:stream';

/** A blob being written; nothing is visible until `commit`. */
export interface BlobUpload {
  readonly stream: Writable;
  /** Makes the written bytes visible under the key; an existing blob under it is kept. */
  commit(key: string): Promise<void>;
  /** Discards the written bytes; safe to call more than once. */
  abort(): Promise<void>;
}

export interface BlobInfo {
  readonly size: number;
}

/** Bytes by key: inputs, results and logs. Keys are `/`-separated plain names. */
export interface BlobStore {
  begin(): Promise<BlobUpload>;
  /** Stores a local file under the key (moved or copied). */
  putFile(key: string, filePath: string): Promise<void>;
  stat(key: string): Promise<BlobInfo | undefined>;
  open(key: string): Promise<Readable>;
  /** A local path holding the blob's bytes, when the store has one (lets workers copy without streaming). */
  localPath?(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
}
