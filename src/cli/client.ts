import { openAsBlob } from 'node:fs';
import path from 'node:path';

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

/** A small client of the HTTP API, for the CLI. */
export class MenagerieClient {
  constructor(private readonly server: string) {}

  private url(pathname: string): string {
    return new URL(pathname, this.server.endsWith('/') ? this.server : this.server + '/').toString();
  }

  async request(pathname: string, init?: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(this.url(pathname.replace(/^\//, '')), init);
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

  /** Uploads a file (streamed from disk) to one or more engines. */
  async submit(engines: readonly string[], filePath: string): Promise<{ jobs: JobJson[] }> {
    const form = new FormData();
    for (const engine of engines) form.append('engine', engine);
    let blob: Blob;
    try {
      blob = await openAsBlob(filePath);
    } catch (error) {
      throw new ClientError(`cannot read ${filePath}: ${(error as Error).message}`, exitCodes.usage);
    }
    form.append('file', blob, path.basename(filePath));
    return this.json('/api/v1/jobs', { method: 'POST', body: form });
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
