import type { Kysely, Selectable } from 'kysely';
import { MenagerieError, isScope, type Scope } from '../../../domain/index.js';
import type { AuditEntry, AuditLog, AuditPage, TokenRecord, TokenStore } from '../../../ports/token-store.js';
import type { Database, TokensTable } from './schema.js';

function rowToToken(row: Selectable<TokensTable>): TokenRecord {
  const time = (ms: number | string | null): Date | null => (ms === null ? null : new Date(Number(ms)));
  return {
    id: row.id,
    name: row.name,
    secretSha256: Buffer.from(row.secret_sha256, 'hex'),
    scopes: row.scopes.split(' ').filter((s): s is Scope => isScope(s)),
    engines: row.engines === null ? null : (JSON.parse(row.engines) as string[]),
    createdAt: time(row.created_at) as Date,
    expiresAt: time(row.expires_at),
    revokedAt: time(row.revoked_at),
    createdBy: row.created_by,
  };
}

function encodeCursor(id: number): string {
  return Buffer.from(`a:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^a:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new MenagerieError('INVALID_CURSOR', 'the cursor is not one this service issued');
  return Number(match[1]);
}

/** Text columns are capped: an audit line records what a hostile client sent, so it is cut, not refused. */
function cut(value: string | null, max: number): string | null {
  return value === null ? null : value.slice(0, max);
}

/** Tokens and the audit trail, in the same SQL database as the jobs (migration 0002). */
export class KyselyTokenStore implements TokenStore, AuditLog {
  private appendsSincePrune = 0;

  constructor(
    private readonly db: Kysely<Database>,
    /**
     * Most audit lines kept; older ones are deleted every 1000 appends, so refused
     * requests from many addresses cannot grow the table without bound. Default 200,000.
     */
    private readonly auditMaxRows = 200_000,
  ) {}

  async createToken(token: TokenRecord): Promise<void> {
    if (await this.findTokenByName(token.name))
      throw new MenagerieError(
        'TOKEN_EXISTS',
        `a token named ${JSON.stringify(token.name)} exists (names of revoked tokens are not reused either); pick another name`,
      );
    await this.db
      .insertInto('tokens')
      .values({
        id: token.id,
        name: token.name,
        secret_sha256: token.secretSha256.toString('hex'),
        scopes: token.scopes.join(' '),
        engines: token.engines === null ? null : JSON.stringify(token.engines),
        created_at: token.createdAt.getTime(),
        expires_at: token.expiresAt?.getTime() ?? null,
        revoked_at: null,
        created_by: token.createdBy,
      })
      .execute();
  }

  async findTokenById(id: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? rowToToken(row) : undefined;
  }

  async findTokenByName(name: string): Promise<TokenRecord | undefined> {
    const row = await this.db.selectFrom('tokens').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? rowToToken(row) : undefined;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .selectAll()
      .orderBy('created_at')
      .orderBy('name')
      .execute();
    return rows.map(rowToToken);
  }

  async revokeToken(name: string, at: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('tokens')
      .set({ revoked_at: at.getTime() })
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        at: entry.at.getTime(),
        actor: cut(entry.actor, 64),
        action: entry.action.slice(0, 64),
        target: entry.target.slice(0, 512),
        outcome: entry.outcome.slice(0, 16),
        address: cut(entry.address, 64),
        detail: cut(entry.detail, 2000),
      })
      .execute();
    if (++this.appendsSincePrune >= 1000) {
      this.appendsSincePrune = 0;
      await this.pruneAudit();
    }
  }

  /** Deletes all but the newest `auditMaxRows` audit lines. */
  async pruneAudit(): Promise<void> {
    const newest = await this.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    const cutoff = Number(newest?.id ?? 0) - this.auditMaxRows;
    if (cutoff > 0) await this.db.deleteFrom('audit_log').where('id', '<=', cutoff).execute();
  }

  async listAudit(cursor: string | null, limit: number): Promise<AuditPage> {
    let query = this.db.selectFrom('audit_log').selectAll();
    if (cursor) query = query.where('id', '<', decodeCursor(cursor));
    const rows = await query
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      entries: page.map((row) => ({
        id: Number(row.id),
        at: new Date(Number(row.at)),
        actor: row.actor,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        address: row.address,
        detail: row.detail,
      })),
      nextCursor: rows.length > limit && last ? encodeCursor(Number(last.id)) : null,
    };
  }
}
