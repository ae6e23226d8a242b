import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { compatibleStatus } from '../../domain/index.js';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../plugins/auth.js';
import { receiveUpload } from '../receive-upload.js';
import { errorSchema } from '../views.js';
import { sendResult } from './send-result.js';

/** The 2016 Menagerie API, kept verbatim so old clients keep working. */
export function compatibleRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();
    r.post(
      '/:engine/upload',
      {
        schema: {
          tags: ['compatible'],
          summary: 'Submit a file to an engine (2016 API); multipart field "upload"',
          consumes: ['multipart/form-data'],
          params: z.object({ engine: z.string() }),
          response: {
            200: z.object({ jobid: z.string() }),
            400: errorSchema,
            404: errorSchema,
            413: errorSchema,
          },
        },
      },
      async (request) => {
        ctx.registry.get(request.params.engine);
        const upload = await receiveUpload(request, {
          fileField: 'upload',
          engines: [request.params.engine],
          registry: ctx.registry,
          service: ctx.service,
        });
        const [job] = await ctx.service.submit(upload.engines, upload.staged, upload.fileName, {
          principal: principalOf(request),
        });
        return { jobid: job!.id };
      },
    );

    r.get(
      '/result/:id',
      {
        schema: {
          tags: ['compatible'],
          summary: 'Status and summary of a job (2016 API); a queued job reads Running',
          params: z.object({ id: z.string() }),
          response: {
            200: z.object({
              status: z.enum(['Running', 'Success', 'Failed']),
              summary: z.string(),
              link: z.string(),
            }),
            400: errorSchema,
            404: errorSchema,
          },
        },
      },
      async (request) => {
        const job = await ctx.service.getJob(request.params.id, principalOf(request));
        const status = compatibleStatus(job.state);
        const summary = job.summary ?? (status === 'Failed' && job.reason ? job.reason : '');
        return { status, summary, link: `/link/${job.id}` };
      },
    );

    r.get(
      '/link/:id',
      {
        schema: {
          tags: ['compatible'],
          summary: "The result file's bytes (2016 API)",
          params: z.object({ id: z.string() }),
        },
      },
      async (request, reply) => sendResult(ctx, request, request.params.id, reply),
    );
  };
}
