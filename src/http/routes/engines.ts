import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MenagerieError, type EngineSpec } from '../../domain/index.js';
import type { AppContext } from '../app-context.js';
import { engineSchema, engineView, errorSchema, type EngineView } from '../views.js';

/** Engines under /api/v1. */
export function engineRoutes(ctx: AppContext): FastifyPluginAsync {
  const view = async (
    engine: EngineSpec,
    counts: Map<string, { queued: number; running: number }>,
    checkRegistry: boolean,
  ): Promise<EngineView> => {
    const image = await ctx.imageInfo(engine.name, { checkRegistry });
    const c = counts.get(engine.name) ?? { queued: 0, running: 0 };
    return engineView(engine, { ...image, ...c });
  };
  const checkRegistryQuery = z.object({
    checkRegistry: z
      .enum(['true', 'false'])
      .optional()
      .describe("Also ask each image's registry for the digest under its tag (slower)"),
  });
  const counts = async () => new Map((await ctx.store.engineStats()).map((s) => [s.engine, s]));
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    r.get(
      '/engines',
      {
        schema: {
          tags: ['engines'],
          summary: 'Engines, with image, digest and effective policy',
          querystring: checkRegistryQuery,
          response: { 200: z.object({ engines: z.array(engineSchema) }) },
        },
      },
      async (request) => {
        const c = await counts();
        const check = request.query.checkRegistry === 'true';
        return { engines: await Promise.all(ctx.registry.list().map((e) => view(e, c, check))) };
      },
    );
    r.post(
      '/engines/reload',
      {
        schema: {
          tags: ['engines'],
          summary: 'Apply engines.json again without a restart; a bad file keeps the engines in force',
          response: {
            200: z.object({ engines: z.array(z.string()), reloadedAt: z.string() }),
            422: errorSchema,
          },
        },
      },
      async () => {
        const result = await ctx.reloadEngines();
        if (!result.ok) {
          throw new MenagerieError(
            'ENGINES_CONFIG_REJECTED',
            `engines.json was not applied, the engines in force stay: ${result.error}`,
          );
        }
        return { engines: result.engines, reloadedAt: result.at.toISOString() };
      },
    );
    r.get(
      '/engines/:name',
      {
        schema: {
          tags: ['engines'],
          summary: 'One engine, with image, digest and effective policy',
          params: z.object({ name: z.string() }),
          querystring: checkRegistryQuery,
          response: { 200: engineSchema, 404: errorSchema },
        },
      },
      async (request) =>
        view(ctx.registry.get(request.params.name), await counts(), request.query.checkRegistry === 'true'),
    );
  };
}
