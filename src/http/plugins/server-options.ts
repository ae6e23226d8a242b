import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';

/** The part of the service's config that shapes the HTTP server. */
export interface ServerExposureConfig {
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly tlsClientCa?: string | undefined;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly behindTlsProxy: boolean;
}

/** Answers a request Node refused before Fastify saw it, in the service's JSON error shape. */
function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'the request was not received in time; send it again without pausing']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'the request headers are too large; send fewer or shorter headers']
        : [400, 'MALFORMED_REQUEST', 'the request is not valid HTTP/1.1'];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Fastify options for the listening server: native TLS (with client
 * certificates when a client CA is given), timeouts against slow clients and a
 * cap on header size. Node checks the timeouts every `connectionsCheckingInterval`,
 * so that follows the shortest of them.
 */
export function serverOptions(config: ServerExposureConfig): Record<string, unknown> {
  const checkingIntervalMs = Math.max(
    250,
    Math.min(5000, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 4)),
  );
  const node = {
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
    requestTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: checkingIntervalMs,
  };
  const tls = config.tlsCert
    ? {
        https: {
          ...node,
          cert: readFileSync(config.tlsCert),
          key: readFileSync(config.tlsKey as string),
          minVersion: 'TLSv1.2',
          ...(config.tlsClientCa
            ? { ca: readFileSync(config.tlsClientCa), requestCert: true, rejectUnauthorized: true }
            : {}),
        },
      }
    : {};
  return {
    http: node,
    ...tls,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Behind a proxy, the client address (rate limits, audit log) is the one the proxy saw: the last
    // X-Forwarded-For hop only, so a client cannot choose its own address by sending the header.
    ...(config.behindTlsProxy ? { trustProxy: 1 } : {}),
    clientErrorHandler,
    // Requests Fastify refuses before routing (a path that is not valid percent-encoded UTF-8, a bad
    // content type) get the service's error shape too.
    frameworkErrors: (error: Error & { statusCode?: number }, _request: unknown, reply: FastifyReply) =>
      reply.code(error.statusCode && error.statusCode < 500 ? error.statusCode : 400).send({
        error: { code: 'VALIDATION_FAILED', message: `the request is invalid: ${error.message}` },
      }),
  };
}
