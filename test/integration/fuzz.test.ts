import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTestService,
  testkitEngine,
  waitFor,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

/** One generated request, as bytes on the wire. */
interface RawRequest {
  readonly head: string;
  readonly body: Buffer;
}

const methods = [
  'GET',
  'GET',
  'POST',
  'POST',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'BREW',
  'get',
];
const validId = 'AAAAAAAAAAAAAAAAAAAAAA';

/** Path segments with odd bytes: percent-encoded controls, NUL, non-UTF-8, dots, very long. */
const oddSegment = fc.oneof(
  fc.constantFrom('echo', 'nope', validId, '..', '%2e%2e%2f', '%00', '%ff%fe', '%c3%28', 'a'.repeat(300), ''),
  fc
    .uint8Array({ maxLength: 24 })
    .map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
);

const route = fc.oneof(
  fc.constantFrom(
    '/',
    '/healthz',
    '/readyz',
    '/metrics',
    '/console/',
    '/console/../../etc/passwd',
    '/api/v1/jobs',
    '/api/v1/engines',
    '/api/v1/audit-log',
    '/api/v1/openapi.json',
    '/internal/v1/blobs/x',
  ),
  oddSegment.map((s) => `/${s}/upload`),
  oddSegment.map((s) => `/result/${s}`),
  oddSegment.map((s) => `/link/${s}`),
  oddSegment.map((s) => `/api/v1/jobs/${s}`),
  oddSegment.map((s) => `/api/v1/jobs/${s}/result`),
  oddSegment.map((s) => `/api/v1/jobs/${s}/logs`),
  oddSegment.map((s) => `/api/v1/engines/${s}`),
);

const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    '?engine=echo',
    '?limit=-1',
    '?limit=99999',
    '?cursor=%ff',
    '?state=nope',
    '?sha256=zz',
    '?engine=echo&engine=nope',
  ),
  fc.string({ maxLength: 40 }).map((s) => `?${encodeURIComponent(s)}=${encodeURIComponent(s)}`),
);

/** A multipart body: well-formed or not, duplicate and missing fields, non-UTF-8 file names, truncated. */
const multipart = fc
  .record({
    parts: fc.array(
      fc.record({
        name: fc.constantFrom('upload', 'file', 'engine', 'callback', 'x', ''),
        fileName: fc.option(
          fc.oneof(
            fc.constantFrom('a.txt', '../../etc/passwd', 'C:\\\\boot.ini', 'n\u0000ul', '\u202egnp.exe'),
            fc.uint8Array({ minLength: 1, maxLength: 16 }).map((b) => Buffer.from(b).toString('latin1')),
          ),
          { nil: undefined },
        ),
        content: fc.oneof(fc.constantFrom('echo', 'nope', ''), fc.string({ maxLength: 64 })),
      }),
      { maxLength: 5 },
    ),
    truncateAt: fc.option(fc.nat(), { nil: undefined }),
    boundaryInHeader: fc.constantFrom('fuzzb', 'other', ''),
  })
  .map(({ parts, truncateAt, boundaryInHeader }) => {
    const chunks = parts.map(
      (p) =>
        `--fuzzb\r\nContent-Disposition: form-data; name="${p.name}"` +
        (p.fileName !== undefined ? `; filename="${p.fileName}"` : '') +
        `\r\n\r\n${p.content}\r\n`,
    );
    let body = Buffer.from(chunks.join('') + '--fuzzb--\r\n', 'latin1');
    if (truncateAt !== undefined) body = body.subarray(0, truncateAt % (body.length + 1));
    return { contentType: `multipart/form-data; boundary=${boundaryInHeader}`, body };
  });

const body = fc.oneof(
  fc.constant({ contentType: undefined as string | undefined, body: Buffer.alloc(0) }),
  multipart,
  fc.record({
    contentType: fc.constantFrom(
      'application/json',
      'text/plain',
      'application/octet-stream',
      'multipart/form-data',
    ),
    body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  }),
  fc.constant({ contentType: 'application/json', body: Buffer.from('{"a":'.repeat(50)) }),
);

const request = fc
  .record({
    method: fc.constantFrom(...methods),
    route,
    query,
    body,
    lengthLie: fc.constantFrom(0, 0, 0, -5, 7, 100000),
    chunked: fc.constantFrom(false, false, false, true),
    extraHeaders: fc.array(
      fc.oneof(
        fc.constantFrom(
          'Authorization: Bearer mng_0000000000000000_' + 'A'.repeat(43),
          'Authorization: Basic Zm9vOmJhcg==',
          'Authorization: Bearer',
          'Content-Length: 5',
          'Transfer-Encoding: chunked',
          'Content-Type: multipart/form-data; boundary=fuzzb',
          'Accept: text/event-stream',
          `X-Long: ${'x'.repeat(8000)}`,
          `X-Non-Utf8: \u00ff\u00fe`,
        ),
      ),
      { maxLength: 2 },
    ),
  })
  .map(({ method, route: r, query: q, body: b, lengthLie, chunked, extraHeaders }): RawRequest => {
    const headers = ['Host: fuzz', 'Connection: close', ...extraHeaders];
    if (b.contentType) headers.push(`Content-Type: ${b.contentType}`);
    if (chunked) {
      headers.push('Transfer-Encoding: chunked');
      const payload = Buffer.concat([
        Buffer.from(`${b.body.length.toString(16)}\r\n`),
        b.body,
        Buffer.from(lengthLie === 0 ? '\r\n0\r\n\r\n' : '\r\n'),
      ]);
      return { head: `${method} ${r}${q} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, body: payload };
    }
    headers.push(`Content-Length: ${Math.max(0, b.body.length + lengthLie)}`);
    return { head: `${method} ${r}${q} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`, body: b.body };
  });

/** Sends the bytes, half-closes, and returns what came back before the server closed. */
function send(url: string, raw: RawRequest): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    const received: Buffer[] = [];
    const done = () => resolve(Buffer.concat(received).toString('latin1'));
    const timer = setTimeout(() => socket.destroy(), 8000);
    socket.on('data', (d) => received.push(d));
    socket.on('error', done);
    socket.on('close', () => {
      clearTimeout(timer);
      done();
    });
    socket.on('connect', () => {
      socket.write(Buffer.from(raw.head, 'latin1'));
      socket.end(raw.body);
    });
  });
}

describe('a fuzzed HTTP surface', () => {
  let svc: TestService;
  const answers: string[] = [];

  beforeAll(async () => {
    // The image does not exist: an accepted job fails fast without a container.
    const engines = await writeEngines([
      testkitEngine('echo', { image: 'localhost:5000/menagerie-fuzz-absent:none', sizelimit: 4096 }),
    ]);
    svc = await startTestService({
      engines,
      flags: { headersTimeoutMs: 1000, requestTimeoutMs: 2000, rateLimitPerAddress: 0 },
    });
  });

  afterAll(async () => {
    await svc?.stop();
  });

  it('answers every generated request with no 5xx, leaves no temporary file and no job it refused', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (raw) => {
        const answer = await send(svc.url, raw);
        answers.push(answer);
        const context = `${raw.head.slice(0, 200)}\n→ ${answer.slice(0, 400)}`;
        for (const status of answer.matchAll(/HTTP\/1\.1 (\d{3})/g)) {
          expect(Number(status[1]), context).toBeLessThan(500);
        }
        // A refusal is a JSON error (HEAD answers carry no body).
        const first = /^HTTP\/1\.1 (\d{3})/.exec(answer);
        if (first && Number(first[1]) >= 400 && !raw.head.startsWith('HEAD '))
          expect(answer, context).toMatch(/\{"error":\{"code":"[A-Z_]+","message":/);
      }),
      { numRuns: 200 },
    );
    expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
    await waitFor('no temporary upload left', async () =>
      (await readdir(path.join(svc.dataDir, 'blobs', '.tmp')).catch(() => [])).length === 0
        ? true
        : undefined,
    );
    // Every job that exists was announced to the client that created it: no refused request made one.
    const { jobs } = (await (await fetch(`${svc.url}/api/v1/jobs?limit=500`)).json()) as {
      jobs: { id: string }[];
    };
    const said = answers.join('\n');
    for (const job of jobs) expect(said).toContain(job.id);
  }, 120_000);
});
