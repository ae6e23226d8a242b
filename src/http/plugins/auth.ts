import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  MenagerieError,
  hasScope,
  localPrincipal,
  maySubmitTo,
  type Principal,
  type Scope,
} from '../../domain/index.js';
import type { AuditLog } from '../../ports/token-store.js';
import type { TokenService } from '../../services/token-service.js';

/**
 * What a route needs: `public` (no token: /healthz, the console's files, the API
 * description), `internal` (worker secret, checked by the route itself),
 * `authenticated` (any valid token), or any one of the listed scopes.
 */
export type Access = 'public' | 'internal' | 'authenticated' | readonly Scope[];

const reading: readonly Scope[] = ['read', 'read-all'];

/**
 * Access per route, by method and route pattern: one table to review. A route
 * missing here needs `admin` (fail closed); a path no route matches needs a
 * valid token, so an anonymous client cannot probe which paths exist.
 */
export const accessTable: readonly (readonly [method: string, url: string, access: Access])[] = [
  ['GET', '/healthz', 'public'],
  ['GET', '/', 'public'],
  ['GET', '/console', 'public'],
  ['GET', '/console/', 'public'],
  ['GET', '/console/*', 'public'],
  ['GET', '/api/v1/openapi.json', 'public'],
  ['GET', '/readyz', 'authenticated'],
  ['GET', '/metrics', ['read-all', 'admin']],
  ['POST', '/:engine/upload', ['submit']],
  ['GET', '/result/:id', reading],
  ['GET', '/link/:id', reading],
  ['POST', '/api/v1/jobs', ['submit']],
  ['GET', '/api/v1/jobs', reading],
  ['GET', '/api/v1/jobs/:id', reading],
  ['GET', '/api/v1/jobs/:id/result', reading],
  ['GET', '/api/v1/jobs/:id/logs', reading],
  ['DELETE', '/api/v1/jobs/:id', ['submit', 'admin']],
  ['GET', '/api/v1/events', reading],
  ['GET', '/api/v1/engines', 'authenticated'],
  ['GET', '/api/v1/engines/:name', 'authenticated'],
  ['POST', '/api/v1/engines/reload', ['admin']],
  ['GET', '/api/v1/audit-log', ['admin']],
  ['GET', '/api/v1/tokens', ['admin']],
  ['POST', '/api/v1/tokens', ['admin']],
  ['DELETE', '/api/v1/tokens/:name', ['admin']],
];

const table = new Map(accessTable.map(([method, url, access]) => [`${method} ${url}`, access]));

/** What a request to this route needs (HEAD as GET). */
export function accessFor(method: string, routeUrl: string | undefined): Access {
  if (routeUrl === undefined) return 'authenticated';
  if (routeUrl.startsWith('/internal/')) return 'internal';
  // The API description and its browsable page (every asset swagger-ui registers) hold no data.
  if (routeUrl === '/api/v1/docs' || routeUrl.startsWith('/api/v1/docs/')) return 'public';
  const m = method === 'HEAD' ? 'GET' : method;
  return table.get(`${m} ${routeUrl}`) ?? ['admin'];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking; null on public and internal routes, where no token is looked at. */
    principal: Principal | null;
  }
}

/** The caller of a route that is not public. @throws INTERNAL when auth did not run (a wiring bug). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal)
    throw new MenagerieError(
      'INTERNAL',
      `no principal on ${request.method} ${request.routeOptions.url ?? ''}`,
    );
  return request.principal;
}

/** The bearer token of a request; for the event stream also `?access_token=` (EventSource cannot send headers). */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    return match ? (match[1] as string) : '';
  }
  if (request.routeOptions.url === '/api/v1/events') {
    const query = request.query as Record<string, unknown> | undefined;
    const value = query?.access_token;
    if (typeof value === 'string') return value;
  }
  return undefined;
}

/** Client address and path for the audit log: no query string (it may hold a token). */
function where(request: FastifyRequest): string {
  return `${request.method} ${request.url.split('?')[0] ?? ''}`.slice(0, 512);
}

export interface AuthOptions {
  readonly mode: 'off' | 'required';
  readonly tokens: TokenService;
  readonly audit: AuditLog;
}

/**
 * Authentication and scopes on every request, before any body is read:
 * missing, unknown, expired or revoked token → 401; wrong scope, or an engine
 * the token may not submit to → 403. Refusals and admin requests go to the audit log.
 */
export const authPlugin = fp<AuthOptions>(
  async (app: FastifyInstance, options) => {
    const refuse = async (
      request: FastifyRequest,
      reply: FastifyReply,
      error: MenagerieError,
      actor: string | null,
      detail: string,
    ): Promise<never> => {
      await options.audit
        .appendAudit({
          at: new Date(),
          actor,
          action: 'request.refused',
          target: where(request),
          outcome: String(error.status),
          address: request.ip,
          detail,
        })
        .catch((e: unknown) => request.log.warn({ err: e }, 'audit log write failed'));
      if (error.status === 401) reply.header('www-authenticate', 'Bearer realm="menagerie"');
      throw error;
    };

    app.decorateRequest('principal', null);

    // A token in the query string must not reach the request log.
    app.addHook('onRoute', (route) => {
      if (route.url !== '/api/v1/events') return;
      route.logSerializers = {
        ...route.logSerializers,
        req: (req: { method?: string; url?: string; ip?: string }) => ({
          method: req.method,
          url: (req.url ?? '').replace(/([?&]access_token=)[^&]*/g, '$1…'),
          remoteAddress: req.ip,
        }),
      };
    });

    app.addHook('onRequest', async (request, reply) => {
      const access = accessFor(request.method, request.routeOptions.url);
      if (access === 'public' || access === 'internal') return;
      const presented = presentedToken(request);
      let principal: Principal;
      if (presented !== undefined) {
        const result = await options.tokens.authenticate(presented);
        if (typeof result === 'string') {
          const why =
            result === 'expired' || result === 'revoked'
              ? `the token is ${result}`
              : 'the token is not valid';
          return refuse(
            request,
            reply,
            new MenagerieError(
              'UNAUTHORIZED',
              `${why}; ask an administrator for a new one ("menagerie token create")`,
            ),
            null,
            `token ${result}`,
          );
        }
        principal = result;
      } else if (options.mode === 'off') {
        principal = localPrincipal;
      } else {
        return refuse(
          request,
          reply,
          new MenagerieError(
            'UNAUTHORIZED',
            'this service needs a token: send "Authorization: Bearer <token>" (the CLI reads MENAGERIE_TOKEN)',
          ),
          null,
          'no token',
        );
      }
      request.principal = principal;
      if (access === 'authenticated') return;
      if (!access.some((scope) => hasScope(principal, scope))) {
        return refuse(
          request,
          reply,
          new MenagerieError(
            'FORBIDDEN',
            `token ${principal.name} may not do this: it needs scope ${access.join(' or ')} and has ${[...principal.scopes].join(', ')}`,
          ),
          principal.name,
          `scope ${access.join(' or ')} needed`,
        );
      }
      const engine = (request.params as { engine?: unknown } | undefined)?.engine;
      if (access.includes('submit') && typeof engine === 'string' && !maySubmitTo(principal, engine)) {
        return refuse(
          request,
          reply,
          forbiddenEngine(principal, engine),
          principal.name,
          `engine ${engine.slice(0, 64)} not allowed`,
        );
      }
    });

    app.addHook('onResponse', async (request, reply) => {
      const access = accessFor(request.method, request.routeOptions.url);
      if (!Array.isArray(access) || access.length !== 1 || access[0] !== 'admin' || !request.principal)
        return;
      await options.audit
        .appendAudit({
          at: new Date(),
          actor: request.principal.name,
          action: 'admin.request',
          target: where(request),
          outcome: String(reply.statusCode),
          address: request.ip,
          detail: null,
        })
        .catch((e: unknown) => request.log.warn({ err: e }, 'audit log write failed'));
    });
  },
  { name: 'menagerie-auth' },
);

/** 403 for a token limited to other engines. */
export function forbiddenEngine(principal: Principal, engine: string): MenagerieError {
  return new MenagerieError(
    'FORBIDDEN',
    hasScope(principal, 'submit')
      ? `token ${principal.name} may submit only to ${(principal.engines ?? []).join(', ')}, not to ${JSON.stringify(engine.slice(0, 64))}`
      : `token ${principal.name} may not submit: it needs scope submit`,
  );
}

/** @throws FORBIDDEN unless the principal may submit to every engine named. */
export function assertMaySubmit(principal: Principal, engines: readonly string[]): void {
  for (const engine of engines) if (!maySubmitTo(principal, engine)) throw forbiddenEngine(principal, engine);
}
