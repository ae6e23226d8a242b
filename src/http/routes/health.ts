import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context.js';

/** Liveness, readiness and Prometheus metrics, at the root. */
export function healthRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is alive' } }, async () => ({
      status: 'ok',
    }));
    app.get(
      '/readyz',
      { schema: { tags: ['operations'], summary: 'Every backend answers; 503 naming the ones that do not' } },
      async (_request, reply) => {
        const checks = ctx.readinessChecks();
        const results: Record<string, string> = {};
        await Promise.all(
          Object.entries(checks).map(async ([name, check]) => {
            try {
              await Promise.race([
                check(),
                new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000)),
              ]);
              results[name] = 'ok';
            } catch (error) {
              results[name] = (error as Error).message;
            }
          }),
        );
        const ready = Object.values(results).every((v) => v === 'ok');
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
      },
    );
    app.get(
      '/metrics',
      { schema: { tags: ['operations'], summary: 'Prometheus metrics' } },
      async (_request, reply) => {
        for (const d of await ctx.queue.depth().catch(() => [])) {
          ctx.metrics.queueDepth.set({ engine: d.engine, status: 'ready' }, d.ready);
          ctx.metrics.queueDepth.set({ engine: d.engine, status: 'unacked' }, d.unacked);
        }
        return reply
          .header('content-type', ctx.metrics.registry.contentType)
          .send(await ctx.metrics.registry.metrics());
      },
    );
  };
}
