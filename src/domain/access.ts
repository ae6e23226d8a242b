/**
 * Who is asking, and what they may do.
 *
 * Glossary
 * - token: an API credential `mng_<id>_<secret>`; only the SHA-256 of the secret is stored.
 * - scope: a right a token carries: `submit` (optionally only to named engines),
 *   `read` (its own jobs), `read-all` (every job), `admin` (tokens, audit log).
 * - principal: the caller of one request, made from its token; with authentication
 *   off and no token sent, the local principal, who may do everything.
 * - owner: the name of the token that submitted a job; null for jobs submitted
 *   without a token.
 */

export const scopes = ['submit', 'read', 'read-all', 'admin'] as const;
export type Scope = (typeof scopes)[number];

export function isScope(value: string): value is Scope {
  return (scopes as readonly string[]).includes(value);
}

export interface Principal {
  /** `token` for a caller that sent a valid token; `local` for an open (loopback, auth off) service. */
  readonly kind: 'token' | 'local';
  /** The token's name (the owner recorded on jobs it submits); `local` for the local principal. */
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** Engines the token may submit to; null when any. */
  readonly engines: readonly string[] | null;
}

/** The caller of an open service: every right, owns nothing (jobs it submits have no owner). */
export const localPrincipal: Principal = Object.freeze({
  kind: 'local',
  name: 'local',
  scopes: new Set<Scope>(scopes),
  engines: null,
});

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.has(scope);
}

/** The owner recorded on a job this principal submits. */
export function ownerOf(principal: Principal): string | null {
  return principal.kind === 'token' ? principal.name : null;
}

/** Whether the principal may submit to the engine (scope `submit`, and the engine in its list if it has one). */
export function maySubmitTo(principal: Principal, engine: string): boolean {
  return hasScope(principal, 'submit') && (principal.engines === null || principal.engines.includes(engine));
}

/** Whether a job of `owner` is visible to the principal: `read-all`, or `read` on its own jobs. */
export function mayRead(principal: Principal, owner: string | null): boolean {
  if (hasScope(principal, 'read-all')) return true;
  return hasScope(principal, 'read') && owner !== null && owner === ownerOf(principal);
}

/**
 * The owner every list must be narrowed to for this principal: undefined when it
 * may see every job.
 */
export function listOwnerFilter(principal: Principal): string | undefined {
  return hasScope(principal, 'read-all') ? undefined : (ownerOf(principal) ?? '');
}
