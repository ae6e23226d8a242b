import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { MenagerieError } from '../../domain/index.js';

export interface RateLimitOptions {
  /** Most requests per client address per window; 0: no limit. */
  readonly perAddress: number;
  /** Most requests per token per window; 0: no limit. */
  readonly perToken: number;
  readonly windowMs: number;
}

function limited(what: string, max: number, windowMs: number, retryAfterSeconds: number): MenagerieError {
  return new MenagerieError(
    'RATE_LIMITED',
    `more than ${max} requests in ${Math.round(windowMs / 1000)} s from this ${what}; retry after ${retryAfterSeconds} s`,
    { retryAfterSeconds },
  );
}

/**
 * Two limits, each answered with 429 and Retry-After: per client address, checked
 * before anything else (so floods of bad tokens stop here, before a database
 * lookup), and per token, checked once the auth hook (registered after this
 * plugin's first hook and before its second) knows who is asking. /healthz and
 * the internal blob endpoints are exempt.
 */
export function rateLimitHooks(options: RateLimitOptions): {
  byAddress: FastifyPluginAsync;
  byToken: FastifyPluginAsync;
} {
  const byAddress: FastifyPluginAsync = fp(
    async (app) => {
      await app.register(fastifyRateLimit, { global: false });
      if (options.perAddress <= 0) return;
      const check = app.createRateLimit({
        max: options.perAddress,
        timeWindow: options.windowMs,
        keyGenerator: (request: FastifyRequest) => `a:${request.ip}`,
      });
      app.addHook('onRequest', async (request, reply) => {
        // Load balancers probe /healthz; worker nodes (authenticated by their secret) fetch blobs in bursts.
        const url = request.routeOptions.url;
        if (url === '/healthz' || url?.startsWith('/internal/')) return;
        const result = await check(request);
        if (!result.isAllowed && result.isExceeded) {
          reply.header('retry-after', result.ttlInSeconds);
          throw limited('address', options.perAddress, options.windowMs, result.ttlInSeconds);
        }
      });
    },
    { name: 'menagerie-rate-limit-address' },
  );
  const byToken: FastifyPluginAsync = fp(
    async (app) => {
      if (options.perToken <= 0) return;
      const check = app.createRateLimit({
        max: options.perToken,
        timeWindow: options.windowMs,
        keyGenerator: (request: FastifyRequest) => `t:${request.principal?.name ?? ''}`,
      });
      app.addHook('onRequest', async (request, reply) => {
        if (request.principal?.kind !== 'token') return;
        const result = await check(request);
        if (!result.isAllowed && result.isExceeded) {
          reply.header('retry-after', result.ttlInSeconds);
          throw limited('token', options.perToken, options.windowMs, result.ttlInSeconds);
        }
      });
    },
    { name: 'menagerie-rate-limit-token', dependencies: ['menagerie-rate-limit-address'] },
  );
  return { byAddress, byToken };
}
