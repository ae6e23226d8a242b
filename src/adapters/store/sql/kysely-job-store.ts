import { Migrator, sql, type Kysely, type Selectable } from 'kysely';
import type { Job, JobOutcome, JobState, ResultKind } from '../../../domain/index.js';
import { finalStates, MenagerieError } from '../../../domain/index.js';
import type {
  EngineStats,
  JobChange,
  JobFilter,
  JobPage,
  JobStore,
  NewJob,
  PurgeFilter,
} from '../../../ports/job-store.js';
import { migrationProvider, type DialectTraits } from './migrations.js';
import type { Database, JobsTable } from './schema.js';

function toDate(ms: number | string | null): Date | null {
  return ms === null ? null : new Date(Number(ms));
}

function num(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

export function rowToJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    engine: row.engine,
    state: row.state as JobState,
    reason: row.reason,
    exitCode: row.exit_code,
    imageDigest: row.image_digest,
    input: { name: row.input_name, size: Number(row.input_size), sha256: row.input_sha256 },
    summary: row.summary,
    result: row.result_kind ? { kind: row.result_kind as ResultKind, size: Number(row.result_size) } : null,
    attempts: row.attempts,
    workerId: row.worker_id,
    usage: { peakMemoryBytes: num(row.peak_memory_bytes), cpuMs: num(row.cpu_ms) },
    stdoutBytes: num(row.stdout_bytes),
    stderrBytes: num(row.stderr_bytes),
    logsTruncated: Boolean(row.logs_truncated),
    createdAt: toDate(row.created_at) as Date,
    startedAt: toDate(row.started_at),
    finishedAt: toDate(row.finished_at),
    purgedAt: toDate(row.purged_at),
    owner: row.owner ?? null,
  };
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^s:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match)
    throw new MenagerieError(
      'INVALID_CURSOR',
      'the cursor is not one this service issued; start from the first page',
    );
  return Number(match[1]);
}

const liveStates = ['queued', 'running'] as const;

/** Error codes (Node, pg SQLSTATE, mysql2) that mean the database is away, not that the query is wrong. */
const unavailableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const unavailableMessage =
  /connection terminated|timeout exceeded when trying to connect|connection (is )?closed|closed state|connection lost|can't add new command when connection is in closed state/i;

/** True when an error says the database cannot be reached (restart, failover, network). */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (
    let e = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 4;
    depth++
  ) {
    if (typeof e.code === 'string' && unavailableCodes.has(e.code)) return true;
    if (typeof e.message === 'string' && unavailableMessage.test(e.message)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** Store calls that answer 503 (NOT_READY) rather than 500 while the database is away. */
const guardedMethods = [
  'insertJobs',
  'getJob',
  'listJobs',
  'markEnqueued',
  'listUnenqueued',
  'markRunning',
  'finishJob',
  'requeueJob',
  'listRunningByWorker',
  'listChanges',
  'engineStats',
  'ping',
] as const;

/** The job store over any SQL database Kysely speaks. */
export class KyselyJobStore implements JobStore {
  constructor(
    readonly db: Kysely<Database>,
    /** What this database can do; the embedded queue picks its claim statement by it. */
    readonly traits: DialectTraits,
  ) {
    for (const name of guardedMethods) {
      const method = (this[name] as (...args: unknown[]) => Promise<unknown>).bind(this);
      Object.defineProperty(this, name, {
        value: (...args: unknown[]) =>
          method(...args).catch((error: unknown) => {
            if (!isDatabaseUnavailable(error)) throw error;
            throw new MenagerieError(
              'NOT_READY',
              `the job database does not answer (${(error as Error).message}); try again shortly`,
              { cause: error },
            );
          }),
      });
    }
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider(this.traits) });
    const { error } = await migrator.migrateToLatest();
    if (error) throw new Error(`database migration failed: ${(error as Error).message}`, { cause: error });
  }

  async insertJobs(jobs: readonly NewJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const now = Date.now();
    await this.db
      .insertInto('jobs')
      .values(
        jobs.map((job) => ({
          id: job.id,
          engine: job.engine,
          state: 'queued',
          input_name: job.input.name,
          input_size: job.input.size,
          input_sha256: job.input.sha256,
          attempts: 0,
          logs_truncated: 0,
          enqueued: 0,
          created_at: job.createdAt.getTime(),
          callback_url: job.callbackUrl ?? null,
          owner: job.owner ?? null,
          changed_at: now,
        })),
      )
      .execute();
  }

  async getJob(id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? rowToJob(row) : undefined;
  }

  async listJobs(filter: JobFilter, cursor: string | null, limit: number): Promise<JobPage> {
    let query = this.db.selectFrom('jobs').selectAll();
    if (filter.engine) query = query.where('engine', '=', filter.engine);
    if (filter.state) query = query.where('state', '=', filter.state);
    if (filter.sha256) query = query.where('input_sha256', '=', filter.sha256.toLowerCase());
    if (filter.owner !== undefined) query = query.where('owner', '=', filter.owner);
    if (cursor) query = query.where('seq', '<', decodeCursor(cursor));
    const rows = await query
      .orderBy('seq', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      jobs: page.map(rowToJob),
      nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null,
    };
  }

  async markEnqueued(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('jobs')
      .set({ enqueued: 1 })
      .where('id', 'in', [...ids])
      .execute();
  }

  async listUnenqueued(olderThan: Date, limit: number): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('state', '=', 'queued')
      .where('enqueued', '=', 0)
      .where('created_at', '<', olderThan.getTime())
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(rowToJob);
  }

  async markRunning(id: string, workerId: string, attempt: number, startedAt: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({
        state: 'running',
        worker_id: workerId,
        attempts: attempt,
        started_at: startedAt.getTime(),
        changed_at: Date.now(),
      })
      .where('id', '=', id)
      .where('state', 'in', [...liveStates])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async finishJob(id: string, outcome: JobOutcome): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({
        state: outcome.state,
        reason: outcome.reason,
        exit_code: outcome.exitCode,
        image_digest: outcome.imageDigest,
        summary: outcome.summary,
        result_kind: outcome.result?.kind ?? null,
        result_size: outcome.result?.size ?? null,
        peak_memory_bytes: outcome.usage.peakMemoryBytes,
        cpu_ms: outcome.usage.cpuMs,
        stdout_bytes: outcome.stdoutBytes,
        stderr_bytes: outcome.stderrBytes,
        logs_truncated: outcome.logsTruncated ? 1 : 0,
        finished_at: outcome.finishedAt.getTime(),
        changed_at: Date.now(),
      })
      .where('id', '=', id)
      .where('state', 'not in', [...finalStates])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async requeueJob(id: string): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ state: 'queued', worker_id: null, started_at: null, changed_at: Date.now() })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .execute();
  }

  async listRunningByWorker(workerId: string): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('state', '=', 'running')
      .where('worker_id', '=', workerId)
      .execute();
    return rows.map(rowToJob);
  }

  async listChanges(since: Date, limit: number, after?: JobChange): Promise<JobChange[]> {
    let query = this.db
      .selectFrom('jobs')
      .select(['id', 'changed_at'])
      .where('changed_at', '>=', since.getTime());
    if (after) {
      const at = after.changedAt.getTime();
      // Spelled out rather than a row-value comparison: every dialect answers it from the (changed_at, id) index.
      query = query
        .where('changed_at', '>=', at)
        .where((eb) => eb.or([eb('changed_at', '>', at), eb('id', '>', after.id)]));
    }
    const rows = await query.orderBy('changed_at').orderBy('id').limit(limit).execute();
    return rows.map((row) => ({ id: row.id, changedAt: new Date(Number(row.changed_at)) }));
  }

  async engineStats(): Promise<EngineStats[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['engine', 'state', sql<number>`count(*)`.as('n')])
      .where('state', 'in', [...liveStates])
      .groupBy(['engine', 'state'])
      .execute();
    const byEngine = new Map<string, { engine: string; queued: number; running: number }>();
    for (const row of rows) {
      const entry = byEngine.get(row.engine) ?? { engine: row.engine, queued: 0, running: 0 };
      if (row.state === 'queued') entry.queued = Number(row.n);
      else entry.running = Number(row.n);
      byEngine.set(row.engine, entry);
    }
    return [...byEngine.values()];
  }

  async listPurgeable(filter: PurgeFilter, limit: number): Promise<Job[]> {
    let query = this.db
      .selectFrom('jobs')
      .selectAll()
      .where('state', 'in', [...finalStates])
      .where('purged_at', 'is', null);
    if (filter.engine !== undefined) query = query.where('engine', '=', filter.engine);
    if (filter.excludeEngines?.length) query = query.where('engine', 'not in', [...filter.excludeEngines]);
    if (filter.finishedBefore) query = query.where('finished_at', '<', filter.finishedBefore.getTime());
    const rows = await query.orderBy('finished_at').limit(limit).execute();
    return rows.map(rowToJob);
  }

  async markPurged(id: string, at: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({ purged_at: at.getTime(), changed_at: Date.now() })
      .where('id', '=', id)
      .where('purged_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async countKeptInputs(sha256: string): Promise<number> {
    const row = await this.db
      .selectFrom('jobs')
      .select(sql<number>`count(*)`.as('n'))
      .where('input_sha256', '=', sha256)
      .where('purged_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
