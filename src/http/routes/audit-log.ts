import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { errorSchema } from '../views.js';

const entrySchema = z.object({
  id: z.number(),
  at: z.string(),
  actor: z.string().nullable(),
  action: z.string(),
  target: z.string(),
  outcome: z.string(),
  address: z.string().nullable(),
  detail: z.string().nullable(),
});

/** The audit trail under /api/v1 (scope admin): admin actions and refused requests, newest first. */
export function auditLogRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.withTypeProvider<ZodTypeProvider>().get(
      '/audit-log',
      {
        schema: {
          tags: ['admin'],
          summary: 'Admin actions and refused requests (who, what, when), newest first; scope admin',
          querystring: z.object({
            cursor: z.string().max(200).optional(),
            limit: z.coerce.number().int().min(1).max(500).default(100),
          }),
          response: {
            200: z.object({ entries: z.array(entrySchema), nextCursor: z.string().nullable() }),
            400: errorSchema,
            401: errorSchema,
            403: errorSchema,
          },
        },
      },
      async (request) => {
        const page = await ctx.audit.listAudit(request.query.cursor ?? null, request.query.limit);
        return {
          entries: page.entries.map((e) => ({ ...e, at: e.at.toISOString() })),
          nextCursor: page.nextCursor,
        };
      },
    );
  };
}
