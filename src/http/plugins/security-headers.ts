import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** The console's policy (as its own meta tag, plus no framing): this origin only, nothing inline. */
export const consoleCsp =
  "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; " +
  "form-action 'self'; frame-ancestors 'none'";

/** Everything else the API sends (JSON, results) is data, never a page. */
const apiCsp = "default-src 'none'; frame-ancestors 'none'; sandbox";

/**
 * Security headers on every response: no sniffing, no framing, no referrer; the
 * console gets its CSP, API responses a CSP that runs nothing (a result opened in
 * a browser stays inert). The API documentation page keeps its own (it needs inline code).
 */
export const securityHeadersPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onSend', async (request, reply, payload) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('cross-origin-opener-policy', 'same-origin');
      const url = request.url;
      if (url === '/console' || url.startsWith('/console/'))
        reply.header('content-security-policy', consoleCsp);
      else if (!url.startsWith('/api/v1/docs')) reply.header('content-security-policy', apiCsp);
      return payload;
    });
  },
  { name: 'menagerie-security-headers' },
);
