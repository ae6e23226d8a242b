import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { jobStates } from '../../domain/index.js';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../plugins/auth.js';
import { receiveUpload } from '../receive-upload.js';
import { errorSchema, jobSchema, jobView, webhookSchema } from '../views.js';
import { sendResult } from './send-result.js';

const idParams = z.object({ id: z.string() });

/** Jobs under /api/v1. */
export function jobRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    const r = app.withTypeProvider<ZodTypeProvider>();

    r.post(
      '/jobs',
      {
        schema: {
          tags: ['jobs'],
          summary: 'Submit one file to one or more engines',
          description:
            'multipart/form-data with one "file" field and one or more "engine" fields (or ?engine= in the query). ' +
            'Engine fields sent before the file let the size limit stop an oversize upload at once. ' +
            'An optional "callback" field (or ?callback=) names a URL, under a prefix the operator allows, ' +
            'that receives a signed POST when each job is final.',
          consumes: ['multipart/form-data'],
          querystring: z.object({
            engine: z.union([z.string(), z.array(z.string())]).optional(),
            callback: z.string().max(2048).optional(),
          }),
          response: {
            201: z.object({ jobs: z.array(jobSchema) }),
            400: errorSchema,
            404: errorSchema,
            413: errorSchema,
            415: errorSchema,
          },
        },
      },
      async (request, reply) => {
        const fromQuery = request.query.engine;
        const engines = fromQuery === undefined ? [] : Array.isArray(fromQuery) ? fromQuery : [fromQuery];
        if (request.query.callback !== undefined) ctx.webhooks.checkCallback(request.query.callback);
        const upload = await receiveUpload(request, {
          fileField: 'file',
          engineField: 'engine',
          engines,
          registry: ctx.registry,
          service: ctx.service,
          fields: ['callback'],
          checkField: (_name, value) => ctx.webhooks.checkCallback(value),
        });
        const callback = upload.fields.callback ?? request.query.callback;
        const jobs = await ctx.service.submit(upload.engines, upload.staged, upload.fileName, {
          ...(callback ? { callbackUrl: ctx.webhooks.checkCallback(callback) } : {}),
          principal: principalOf(request),
        });
        return reply.code(201).send({ jobs: jobs.map(jobView) });
      },
    );

    r.get(
      '/jobs',
      {
        schema: {
          tags: ['jobs'],
          summary: 'List jobs, newest first, a page at a time',
          querystring: z.object({
            engine: z.string().max(64).optional(),
            state: z.enum(jobStates as [string, ...string[]]).optional(),
            sha256: z
              .string()
              .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
              .optional(),
            cursor: z.string().max(200).optional(),
            limit: z.coerce.number().int().min(1).max(500).default(50),
          }),
          response: {
            200: z.object({ jobs: z.array(jobSchema), nextCursor: z.string().nullable() }),
            400: errorSchema,
          },
        },
      },
      async (request) => {
        const { engine, state, sha256, cursor, limit } = request.query;
        const page = await ctx.service.listJobs(
          { engine, state: state as (typeof jobStates)[number] | undefined, sha256 },
          cursor ?? null,
          limit,
          principalOf(request),
        );
        return { jobs: page.jobs.map(jobView), nextCursor: page.nextCursor };
      },
    );

    r.get(
      '/jobs/:id',
      {
        schema: {
          tags: ['jobs'],
          summary: 'One job: state, reason, exit code, image digest, input, timings',
          params: idParams,
          response: {
            200: jobSchema.extend({ webhook: webhookSchema.nullable() }),
            400: errorSchema,
            404: errorSchema,
          },
        },
      },
      async (request) => {
        const job = await ctx.service.getJob(request.params.id, principalOf(request));
        const delivery = await ctx.webhooks.deliveryOf(job);
        return {
          ...jobView(job),
          webhook: delivery && {
            url: delivery.url,
            state: delivery.state,
            attempts: delivery.attempts,
            lastStatus: delivery.lastStatus,
            lastError: delivery.lastError,
            deliveredAt: delivery.deliveredAt?.toISOString() ?? null,
            nextAttemptAt: delivery.state === 'pending' ? delivery.nextAttemptAt.toISOString() : null,
          },
        };
      },
    );

    r.get(
      '/jobs/:id/result',
      {
        schema: {
          tags: ['jobs'],
          summary: "The result's bytes (a file, a .tar.gz of a directory, or the engine's stdout)",
          params: idParams,
        },
      },
      async (request, reply) => sendResult(ctx, request, request.params.id, reply),
    );

    r.get(
      '/jobs/:id/logs',
      {
        schema: {
          tags: ['jobs'],
          summary: "The job's stdout and stderr, capped",
          params: idParams,
          response: {
            200: z.object({
              stdout: z.string(),
              stderr: z.string(),
              stdoutBytes: z.number().nullable(),
              stderrBytes: z.number().nullable(),
              truncated: z.boolean(),
            }),
            400: errorSchema,
            404: errorSchema,
          },
        },
      },
      async (request) => {
        const { job, stdout, stderr } = await ctx.service.readLogs(request.params.id, principalOf(request));
        return {
          stdout: stdout.toString('utf8'),
          stderr: stderr.toString('utf8'),
          stdoutBytes: job.stdoutBytes,
          stderrBytes: job.stderrBytes,
          truncated: job.logsTruncated,
        };
      },
    );

    r.delete(
      '/jobs/:id',
      {
        schema: {
          tags: ['jobs'],
          summary: 'Cancel a queued or running job',
          params: idParams,
          response: { 200: jobSchema, 400: errorSchema, 404: errorSchema, 409: errorSchema },
        },
      },
      async (request) => jobView(await ctx.service.cancel(request.params.id, principalOf(request))),
    );
  };
}
