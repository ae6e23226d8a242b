import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';

/** A failure talking to a server, with the exit code scripts can rely on. */
export class ClientError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** Exit codes of the client commands. */
export const exitCodes = {
  ok: 0,
  usage: 2,
  jobFailed: 3,
  notFound: 4,
  refused: 5,
  unreachable: 6,
  internal: 1,
} as const;

/** How the client proves who it is and whom it trusts. */
export interface ClientAuth {
  /** API token, sent as `Authorization: Bearer` on every request. */
  readonly token?: string | undefined;
  /** PEM CA file that signed the server's certificate (for a private CA). */
  readonly ca?: string | undefined;
}

/** A small client of the HTTP API, for the CLI. */
export class MenagerieClient {
  private readonly fetcher: typeof fetch;

  constructor(
    private readonly server: string,
    private readonly auth: ClientAuth = {},
  ) {
    this.fetcher = fetch;
    if (auth.ca) {
      let ca: Buffer;
      try {
        ca = readFileSync(auth.ca);
      } catch (error) {
        throw new ClientError(
          `cannot read the CA file ${auth.ca}: ${(error as Error).message}`,
          exitCodes.usage,
        );
      }
      // Node's fetch takes no CA; undici's own fetch with an Agent that trusts this one does.
      const dispatcher = new Agent({ connect: { ca } });
      this.fetcher = ((input: string, init?: RequestInit) =>
        undiciFetch(input, { ...(init as object), dispatcher } as Parameters<
          typeof undiciFetch
        >[1])) as unknown as typeof fetch;
    }
  }

  private url(pathname: string): string {
    return new URL(pathname, this.server.endsWith('/') ? this.server : this.server + '/').toString();
  }

  async request(pathname: string, init?: RequestInit): Promise<Response> {
    let response: Response;
    try {
      const headers = new Headers(init?.headers);
      if (this.auth.token) headers.set('authorization', `Bearer ${this.auth.token}`);
      response = await this.fetcher(this.url(pathname.replace(/^\//, '')), { ...init, headers });
    } catch (error) {
      throw new ClientError(
        `cannot reach ${this.server} (${((error as Error).cause as Error)?.message ?? (error as Error).message}); is "menagerie serve" running?`,
        exitCodes.unreachable,
      );
    }
    if (response.ok) return response;
    let code = 'HTTP_' + response.status;
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { error?: { code: string; message: string } };
      if (body.error) {
        code = body.error.code;
        message = body.error.message;
      }
    } catch {
      // Not JSON: keep the status line.
    }
    const exit =
      response.status === 404
        ? exitCodes.notFound
        : response.status < 500
          ? exitCodes.refused
          : exitCodes.internal;
    throw new ClientError(message, exit, code);
  }

  async json<T>(pathname: string, init?: RequestInit): Promise<T> {
    return (await (await this.request(pathname, init)).json()) as T;
  }

  /**
   * Uploads a file, streamed from disk, to one or more engines; the engine
   * fields go first so the server applies the size limit while the file streams.
   * `onProgress` is called with the bytes of the file sent so far.
   */
  async submit(
    engines: readonly string[],
    filePath: string,
    onProgress?: (sentBytes: number, totalBytes: number) => void,
  ): Promise<{ jobs: JobJson[] }> {
    let size: number;
    try {
      size = (await stat(filePath)).size;
    } catch (error) {
      throw new ClientError(`cannot read ${filePath}: ${(error as Error).message}`, exitCodes.usage);
    }
    const boundary = `menagerie-${randomBytes(12).toString('hex')}`;
    const name = path.basename(filePath).replace(/["\r\n\\]/g, '_');
    const head =
      engines
        .map((e) => `--${boundary}\r\nContent-Disposition: form-data; name="engine"\r\n\r\n${e}\r\n`)
        .join('') +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n';
    const tail = `\r\n--${boundary}--\r\n`;
    let sent = 0;
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from(head);
      for await (const chunk of createReadStream(filePath)) {
        sent += (chunk as Buffer).length;
        onProgress?.(sent, size);
        yield chunk as Buffer;
      }
      yield Buffer.from(tail);
    }
    return this.json('/api/v1/jobs', {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: Readable.toWeb(Readable.from(body())) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
  }
}

export interface JobJson {
  id: string;
  engine: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  reason: string | null;
  exitCode: number | null;
  summary: string | null;
  imageDigest: string | null;
  input: { name: string; size: number; sha256: string };
  result: { kind: string; size: number } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}
