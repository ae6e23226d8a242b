import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MenagerieError, scopes, type Scope } from '../../domain/index.js';
import type { TokenRecord } from '../../ports/token-store.js';
import { parseDuration } from '../../services/token-service.js';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../plugins/auth.js';
import { errorSchema } from '../views.js';

const tokenSchema = z.object({
  name: z.string(),
  id: z.string(),
  scopes: z.array(z.string()),
  engines: z.array(z.string()).nullable(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  createdBy: z.string(),
});

function view(record: TokenRecord) {
  return {
    name: record.name,
    id: record.id,
    scopes: [...record.scopes],
    engines: record.engines ? [...record.engines] : null,
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt?.toISOString() ?? null,
    revokedAt: record.revokedAt?.toISOString() ?? null,
    createdBy: record.createdBy,
  };
}

/** Tokens under /api/v1 (scope admin): list, create (the secret is in the answer once), revoke. */
export function tokenRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    const errors = {
      400: errorSchema,
      401: errorSchema,
      403: errorSchema,
      404: errorSchema,
      409: errorSchema,
    };
    r.get(
      '/tokens',
      {
        schema: {
          tags: ['admin'],
          summary: 'API tokens, never their secrets; scope admin',
          response: { 200: z.object({ tokens: z.array(tokenSchema) }), ...errors },
        },
      },
      async () => ({ tokens: (await ctx.tokens.list()).map(view) }),
    );
    r.post(
      '/tokens',
      {
        schema: {
          tags: ['admin'],
          summary: 'Create a token; the answer holds its secret, once; scope admin',
          body: z
            .object({
              name: z.string().min(1).max(64),
              scopes: z.array(z.enum(scopes)).min(1),
              engines: z.array(z.string().min(1).max(64)).max(100).optional(),
              expires: z.string().max(16).optional(),
            })
            .strict(),
          response: { 201: z.object({ token: z.string(), record: tokenSchema }), ...errors },
        },
      },
      async (request, reply) => {
        let expiresInMs: number | null = null;
        if (request.body.expires) {
          try {
            expiresInMs = parseDuration(request.body.expires);
          } catch (error) {
            throw new MenagerieError('VALIDATION_FAILED', `expires: ${(error as Error).message}`);
          }
        }
        const { token, record } = await ctx.tokens.create({
          name: request.body.name,
          scopes: request.body.scopes as Scope[],
          engines: request.body.engines ?? null,
          expiresInMs,
          createdBy: principalOf(request).name,
        });
        return reply.code(201).send({ token, record: view(record) });
      },
    );
    r.delete(
      '/tokens/:name',
      {
        schema: {
          tags: ['admin'],
          summary: 'Revoke a token at once; scope admin',
          params: z.object({ name: z.string().max(64) }),
          response: { 204: z.null(), ...errors },
        },
      },
      async (request, reply) => {
        await ctx.tokens.revoke(request.params.name, principalOf(request).name);
        return reply.code(204).send(null);
      },
    );
  };
}
