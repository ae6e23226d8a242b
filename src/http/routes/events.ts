import type { FastifyPluginAsync } from 'fastify';
import { mayRead } from '../../domain/index.js';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../plugins/auth.js';
import { jobView } from '../views.js';

/** Interval of keep-alive comments on the event stream, ms (proxies drop idle streams). */
const heartbeatMs = 15_000;

/** Server-sent events: `event: job` with the job as data, on every change. */
export function eventRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    // Streams open now, ended when the server closes.
    const open = new Set<() => void>();
    app.addHook('onClose', async () => {
      for (const end of [...open]) end();
    });
    app.get(
      '/events',
      {
        schema: {
          tags: ['events'],
          summary: 'Server-sent events: "job" events carry the job as JSON on every change',
          produces: ['text/event-stream'],
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-transform',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        raw.write(': connected\n\n');
        const unsubscribe = ctx.events.onJob((job) => {
          // Only jobs this caller may read: its own, or all with read-all.
          if (!mayRead(principal, job.owner)) return;
          raw.write(`event: job\nid: ${job.id}\ndata: ${JSON.stringify(jobView(job))}\n\n`);
        });
        const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), heartbeatMs);
        const close = (): void => {
          clearInterval(heartbeat);
          unsubscribe();
          open.delete(end);
        };
        const end = (): void => {
          close();
          raw.end();
        };
        open.add(end);
        request.raw.on('close', close);
      },
    );
  };
}
