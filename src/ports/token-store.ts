import type { Scope } from '../domain/access.js';

/** A stored API token. The secret itself is never stored, only its SHA-256. */
export interface TokenRecord {
  /** Public part of the token (`mng_<id>_<secret>`), 16 hex digits; how a token is looked up. */
  readonly id: string;
  /** Unique name, for people; the owner recorded on the jobs the token submits. Never reused. */
  readonly name: string;
  /** SHA-256 of the secret part, 32 bytes. */
  readonly secretSha256: Buffer;
  readonly scopes: readonly Scope[];
  /** Engines the token may submit to; null when any. */
  readonly engines: readonly string[] | null;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
  /** Who made it (`cli:<user>@<host>` or an admin token's name). */
  readonly createdBy: string;
}

/** One line of the audit trail: an admin action or a refused request. */
export interface AuditEntry {
  readonly at: Date;
  /** Token name, `local`, or null for a request that named no valid token. */
  readonly actor: string | null;
  /** `token.create`, `token.revoke`, `request.refused`, `audit.read` … */
  readonly action: string;
  /** What it was done to: a token name, or `METHOD /path`. */
  readonly target: string;
  /** HTTP status for requests; `ok` for actions that happened. */
  readonly outcome: string;
  /** Client address, when the action came over HTTP. */
  readonly address: string | null;
  /** Why, in words (`token expired`, `scope submit needed` …). */
  readonly detail: string | null;
}

export interface AuditPage {
  readonly entries: (AuditEntry & { readonly id: number })[];
  /** Cursor for the next (older) page; null on the last page. */
  readonly nextCursor: string | null;
}

/** API tokens, kept in the job store's database. */
export interface TokenStore {
  /** @throws TOKEN_EXISTS when the name is taken (also by a revoked token). */
  createToken(token: TokenRecord): Promise<void>;
  findTokenById(id: string): Promise<TokenRecord | undefined>;
  findTokenByName(name: string): Promise<TokenRecord | undefined>;
  /** Every token, revoked and expired ones included, oldest first. */
  listTokens(): Promise<TokenRecord[]>;
  /** @returns false when no live token has that name. */
  revokeToken(name: string, at: Date): Promise<boolean>;
}

/** The audit trail: admin actions and refused requests, newest first. */
export interface AuditLog {
  appendAudit(entry: AuditEntry): Promise<void>;
  listAudit(cursor: string | null, limit: number): Promise<AuditPage>;
}
