import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { MenagerieError, isMenagerieError, type ErrorCode } from '../domain/index.js';
import type { AppContext } from './app-context.js';
import { registerProtection, serverOptions } from './plugins/index.js';
import { auditLogRoutes } from './routes/audit-log.js';
import { tokenRoutes } from './routes/tokens.js';
import { compatibleRoutes } from './routes/compatible.js';
import { engineRoutes } from './routes/engines.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { internalBlobRoutes } from './routes/internal-blobs.js';
import { jobRoutes } from './routes/jobs.js';

function errorBody(code: ErrorCode | string, message: string) {
  return { error: { code, message } };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, with whether it is hidden from the OpenAPI document. */
    registeredRoutes: { method: string; url: string; hidden: boolean }[];
  }
}

/** The HTTP application: the compatible API, /api/v1, the console and operations endpoints. */
export async function buildApp(ctx: AppContext, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    requestTimeout: 0,
    // On shutdown, open keep-alive and event-stream connections are closed rather than waited for.
    forceCloseConnections: true,
    connectionTimeout: 0,
    // TLS, timeouts against slow clients (these replace requestTimeout above), header size cap.
    ...serverOptions(ctx.config),
  });
  // Every route, as registered: a test checks each public one is in the OpenAPI document.
  const routes: { method: string; url: string; hidden: boolean }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const hidden = Boolean((route.schema as { hide?: boolean } | undefined)?.hide);
    for (const method of methods) routes.push({ method, url: route.url, hidden });
  });
  app.decorate('registeredRoutes', routes);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isMenagerieError(error)) {
      // An upload cut short leaves body bytes unread: close the connection rather than read them.
      if (
        error.code === 'UPLOAD_TOO_LARGE' ||
        error.code === 'MALFORMED_MULTIPART' ||
        error.code === 'QUEUE_FULL' ||
        error.code === 'INSUFFICIENT_STORAGE' ||
        error.code === 'RATE_LIMITED' ||
        ((error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN') && request.method === 'POST')
      )
        reply.header('connection', 'close');
      if (error.retryAfterSeconds !== undefined) reply.header('retry-after', error.retryAfterSeconds);
      return reply.code(error.status).send(errorBody(error.code, error.message));
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const detail = error.validation
        .map(
          (issue) =>
            `${issue.instancePath.replace(/^\//, '') || error.validationContext || 'request'}: ${issue.message}`,
        )
        .join('; ');
      return reply
        .code(400)
        .send(
          errorBody('VALIDATION_FAILED', `the ${error.validationContext ?? 'request'} is invalid: ${detail}`),
        );
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code =
        error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE'
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : status === 413
            ? 'UPLOAD_TOO_LARGE'
            : 'VALIDATION_FAILED';
      return reply.code(status).send(errorBody(code, error.message));
    }
    request.log.error({ err: error }, 'request failed');
    return reply
      .code(500)
      .send(
        errorBody(
          'INTERNAL',
          'the service failed to handle the request; it is logged with the request id ' + request.id,
        ),
      );
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new MenagerieError(
      'ROUTE_NOT_FOUND',
      `no route for ${request.method} ${request.url.split('?')[0]}; see /api/v1/docs`,
    );
    return reply.code(404).send(errorBody(error.code, error.message));
  });

  // Rate limits, authentication and scopes, upload admission, security headers: before any route.
  await registerProtection(app, ctx);

  await app.register(fastifyMultipart, {
    limits: {
      fileSize: ctx.registry.maxSizeLimitBytes() + 1,
      files: 1,
      fields: 32,
      fieldSize: 4096,
      parts: 40,
      headerPairs: 100,
    },
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Menagerie',
        description: 'Run untrusted files through containerized analyzers.',
        version: '1',
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/v1/docs' });
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes(ctx));
  await app.register(compatibleRoutes(ctx));
  await app.register(jobRoutes(ctx), { prefix: '/api/v1' });
  await app.register(engineRoutes(ctx), { prefix: '/api/v1' });
  await app.register(eventRoutes(ctx), { prefix: '/api/v1' });
  await app.register(auditLogRoutes(ctx), { prefix: '/api/v1' });
  await app.register(tokenRoutes(ctx), { prefix: '/api/v1' });
  await app.register(internalBlobRoutes(ctx));

  await app.register(fastifyStatic, {
    root: ctx.webDir,
    prefix: '/console/',
    decorateReply: false,
    index: 'index.html',
  });
  app.get('/console', { schema: { hide: true } }, (_request, reply) => reply.redirect('/console/'));
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/console/'));
  return app;
}
