import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MenagerieError, type Principal, type Scope } from '../domain/index.js';
import type { AuditLog, TokenRecord, TokenStore } from '../ports/token-store.js';

/** `mng_<16 hex id>_<43 base64url secret>`: the id finds the row, the secret proves possession. */
const tokenPattern = /^mng_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

/** Why a presented token was refused, in words for the client and the audit log. */
export type TokenRefusal = 'malformed' | 'unknown' | 'wrong secret' | 'expired' | 'revoked';

const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `90s`, `30m`, `12h`, `30d`, `2w` into milliseconds. @throws Error naming the value. */
export function parseDuration(value: string): number {
  const match = /^(\d{1,6})([smhdw])$/.exec(value.trim());
  if (!match || Number(match[1]) === 0)
    throw new Error(
      `${JSON.stringify(value)} is not a duration; use a number and a unit: 90s, 30m, 12h, 30d, 2w`,
    );
  return Number(match[1]) * (units[match[2] as string] as number);
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Creating, checking, listing and revoking API tokens; admin actions go to the audit log. */
export class TokenService {
  constructor(
    private readonly tokens: TokenStore,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Makes a token; the secret is in the returned string only, never stored.
   * @throws VALIDATION_FAILED for a bad name or no scope, TOKEN_EXISTS
   */
  async create(options: {
    name: string;
    scopes: readonly Scope[];
    engines?: readonly string[] | null;
    expiresInMs?: number | null;
    createdBy: string;
    now?: Date;
  }): Promise<{ token: string; record: TokenRecord }> {
    if (!namePattern.test(options.name))
      throw new MenagerieError(
        'VALIDATION_FAILED',
        `token name ${JSON.stringify(options.name.slice(0, 80))} is invalid; use 1-64 of A-Z a-z 0-9 _ . @ -, starting with a letter or digit`,
      );
    if (options.scopes.length === 0)
      throw new MenagerieError(
        'VALIDATION_FAILED',
        'give the token at least one scope: submit, read, read-all, admin',
      );
    const now = options.now ?? new Date();
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: TokenRecord = {
      id,
      name: options.name,
      secretSha256: sha256(secret),
      scopes: [...new Set(options.scopes)],
      engines: options.engines && options.engines.length > 0 ? [...new Set(options.engines)] : null,
      createdAt: now,
      expiresAt: options.expiresInMs ? new Date(now.getTime() + options.expiresInMs) : null,
      revokedAt: null,
      createdBy: options.createdBy,
    };
    await this.tokens.createToken(record);
    await this.audit.appendAudit({
      at: now,
      actor: options.createdBy,
      action: 'token.create',
      target: record.name,
      outcome: 'ok',
      address: null,
      detail: `scopes ${record.scopes.join(' ')}${record.engines ? `; engines ${record.engines.join(' ')}` : ''}${record.expiresAt ? `; expires ${record.expiresAt.toISOString()}` : ''}`,
    });
    return { token: `mng_${id}_${secret}`, record };
  }

  /**
   * The principal a presented token stands for, or why it is refused.
   * The secret is compared as SHA-256 digests with timingSafeEqual, so the time
   * taken says nothing about how much of it matched.
   */
  async authenticate(presented: string, now = new Date()): Promise<Principal | TokenRefusal> {
    const match = tokenPattern.exec(presented);
    if (!match) return 'malformed';
    const record = await this.tokens.findTokenById(match[1] as string);
    const given = sha256(match[2] as string);
    if (!record) {
      // Same work as a known id, so an unknown id cannot be told apart by timing.
      timingSafeEqual(given, given);
      return 'unknown';
    }
    if (!timingSafeEqual(given, record.secretSha256)) return 'wrong secret';
    if (record.revokedAt) return 'revoked';
    if (record.expiresAt && record.expiresAt.getTime() <= now.getTime()) return 'expired';
    return { kind: 'token', name: record.name, scopes: new Set(record.scopes), engines: record.engines };
  }

  list(): Promise<TokenRecord[]> {
    return this.tokens.listTokens();
  }

  /** @throws TOKEN_NOT_FOUND */
  async revoke(name: string, by: string, now = new Date()): Promise<void> {
    if (!(await this.tokens.revokeToken(name, now)))
      throw new MenagerieError(
        'TOKEN_NOT_FOUND',
        `no live token is named ${JSON.stringify(name.slice(0, 80))}; see "menagerie token list"`,
      );
    await this.audit.appendAudit({
      at: now,
      actor: by,
      action: 'token.revoke',
      target: name,
      outcome: 'ok',
      address: null,
      detail: null,
    });
  }
}
