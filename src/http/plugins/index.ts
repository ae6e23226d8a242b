import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.js';
import { admissionPlugin, createAdmission } from './admission.js';
import { authPlugin } from './auth.js';
import { rateLimitHooks } from './rate-limit.js';
import { securityHeadersPlugin } from './security-headers.js';

export { serverOptions } from './server-options.js';
export { apiExposureFindings } from './exposure.js';

/**
 * Everything that stands between a client and the routes, in order: the
 * per-address rate limit, authentication and scopes, the per-token rate limit,
 * upload admission (disk watermark, queue caps) and security headers. Register
 * before the routes.
 */
export async function registerProtection(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { config } = ctx;
  const limits = rateLimitHooks({
    perAddress: config.rateLimitPerAddress,
    perToken: config.rateLimitPerToken,
    windowMs: config.rateLimitWindowMs,
  });
  await app.register(limits.byAddress);
  await app.register(authPlugin, { mode: config.auth, tokens: ctx.tokens, audit: ctx.audit });
  await app.register(limits.byToken);
  await app.register(admissionPlugin, {
    admission: createAdmission({
      dataDir: path.join(config.data),
      minFreeDiskMb: config.minFreeDiskMb,
      maxQueuedPerEngine: config.maxQueuedPerEngine,
      maxQueuedByEngine: config.maxQueuedByEngine,
      store: ctx.store,
    }),
  });
  await app.register(securityHeadersPlugin);
}
