import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as delay } from 'node:timers/promises';
import type { BlobInfo, BlobStore, BlobUpload } from '../../../ports/blob-store.js';
import { stagedUpload } from '../staged-upload.js';

export interface HttpBlobStoreOptions {
  /** Base URL of an API node, e.g. `http://api-host:8100`. */
  readonly apiUrl: string;
  /** The worker secret shared with the API nodes. */
  readonly workerSecret: string;
  /** Local directory for uploads being written before they are sent. */
  readonly tmpDir: string;
  /** Tries per request while the API does not answer (it may be restarting). Default 6. */
  readonly tries?: number;
}

const keyPattern = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/** A request failed with an answer that trying again will not change. */
class BlobRequestError extends Error {}

/**
 * The API node's blobs, for a worker node on another host: streamed over the
 * internal blob endpoints with the worker secret, never held whole in memory.
 */
export class HttpBlobStore implements BlobStore {
  private readonly base: string;

  constructor(private readonly options: HttpBlobStoreOptions) {
    this.base = options.apiUrl.replace(/\/+$/, '') + '/internal/v1/blobs/';
  }

  async init(): Promise<void> {
    await mkdir(this.options.tmpDir, { recursive: true });
  }

  private url(key: string): string {
    // Checked here too: a URL would resolve `..` segments into another path before the API saw them.
    if (!keyPattern.test(key) || key.split('/').includes('..'))
      throw new BlobRequestError(`invalid blob key ${JSON.stringify(key)}`);
    return this.base + key.split('/').map(encodeURIComponent).join('/');
  }

  /** Sends a request, trying again with backoff while the API does not answer or answers 5xx. */
  private async request(
    method: string,
    key: string,
    body?: () => { stream: Readable; size: number },
  ): Promise<Response> {
    const tries = this.options.tries ?? 6;
    for (let attempt = 1; ; attempt++) {
      try {
        const payload = body?.();
        const response = await fetch(this.url(key), {
          method,
          headers: {
            authorization: `Bearer ${this.options.workerSecret}`,
            ...(payload
              ? { 'content-type': 'application/octet-stream', 'content-length': String(payload.size) }
              : {}),
          },
          ...(payload ? { body: Readable.toWeb(payload.stream) as ReadableStream, duplex: 'half' } : {}),
        } as RequestInit);
        if (response.status >= 500) {
          await response.body?.cancel();
          throw new Error(`${method} ${key}: the API answered ${response.status}`);
        }
        if (response.status === 401)
          throw new BlobRequestError(
            `${method} ${key}: the API refused the worker secret (401); give API and worker nodes the same --worker-secret`,
          );
        return response;
      } catch (error) {
        if (error instanceof BlobRequestError || attempt >= tries) {
          throw new Error(
            `blob ${method} ${key} at ${this.options.apiUrl} failed: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        }
        await delay(Math.min(5000, 250 * 2 ** attempt));
      }
    }
  }

  async begin(): Promise<BlobUpload> {
    await this.init();
    const tmp = path.join(this.options.tmpDir, `upload-${randomBytes(12).toString('hex')}`);
    return stagedUpload(tmp, (key, file) => this.putFile(key, file));
  }

  async putFile(key: string, filePath: string): Promise<void> {
    const { size } = await stat(filePath);
    const response = await this.request('PUT', key, () => ({ stream: createReadStream(filePath), size }));
    await response.body?.cancel();
    if (response.status !== 204) throw new Error(`blob PUT ${key}: the API answered ${response.status}`);
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const response = await this.request('HEAD', key);
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`blob HEAD ${key}: the API answered ${response.status}`);
    return { size: Number(response.headers.get('x-blob-size') ?? response.headers.get('content-length')) };
  }

  async open(key: string): Promise<Readable> {
    const response = await this.request('GET', key);
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`blob GET ${key}: the API answered ${response.status}`);
    }
    return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  }

  async delete(key: string): Promise<void> {
    const response = await this.request('DELETE', key);
    await response.body?.cancel();
    if (response.status !== 204 && response.status !== 404)
      throw new Error(`blob DELETE ${key}: the API answered ${response.status}`);
  }
}
