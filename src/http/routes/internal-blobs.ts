import { createHash, timingSafeEqual } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';

/** Path prefix of the blob endpoints worker nodes use; not part of the public API. */
export const internalBlobsPrefix = '/internal/v1/blobs/';

const keyPattern = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function deny(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

/**
 * Inputs, results and logs for worker nodes on other hosts: GET/HEAD/PUT/DELETE
 * `/internal/v1/blobs/<key>`, streamed both ways, authenticated with the shared
 * worker secret (`Authorization: Bearer <secret>`). Off (404) when no secret is configured.
 */
export function internalBlobRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    const secret = ctx.config.workerSecret;
    if (!secret) return;
    const expected = digest(secret);

    // Bodies stay streams: a result may be far larger than the JSON body limit and is never held whole.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const header = request.headers.authorization ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      // Hashing first makes the comparison constant-time whatever the lengths.
      if (!given || !timingSafeEqual(digest(given), expected))
        return deny(reply, 401, 'WORKER_AUTH_FAILED', 'the worker secret is missing or wrong');
    });

    const keyOf = (request: FastifyRequest, reply: FastifyReply): string | undefined => {
      const key = (request.params as { '*': string })['*'];
      if (keyPattern.test(key) && !key.split('/').includes('..')) return key;
      deny(reply, 400, 'VALIDATION_FAILED', `invalid blob key ${JSON.stringify(key)}`);
      return undefined;
    };
    const schema = { hide: true };
    const url = `${internalBlobsPrefix}*`;

    app.get(url, { schema, exposeHeadRoute: false }, async (request, reply) => {
      const key = keyOf(request, reply);
      if (!key) return reply;
      const info = await ctx.blobs.stat(key);
      if (!info) return deny(reply, 404, 'BLOB_NOT_FOUND', `no blob ${key}`);
      reply.header('content-length', info.size).type('application/octet-stream');
      return reply.send(await ctx.blobs.open(key));
    });

    app.head(url, { schema }, async (request, reply) => {
      const key = keyOf(request, reply);
      if (!key) return reply;
      const info = await ctx.blobs.stat(key);
      if (!info) return reply.code(404).send();
      return reply.header('content-length', info.size).header('x-blob-size', info.size).send();
    });

    app.put(url, { schema }, async (request, reply) => {
      const key = keyOf(request, reply);
      if (!key) return reply;
      const upload = await ctx.blobs.begin();
      try {
        await pipeline(request.raw, upload.stream);
        await upload.commit(key);
      } catch (error) {
        await upload.abort();
        throw error;
      }
      return reply.code(204).send();
    });

    app.delete(url, { schema }, async (request, reply) => {
      const key = keyOf(request, reply);
      if (!key) return reply;
      await ctx.blobs.delete(key);
      return reply.code(204).send();
    });
  };
}
