import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** What differs between SQL dialects in the schema. */
export interface DialectTraits {
  /** Column type of an auto-incrementing primary key. */
  readonly autoIncrementType: 'integer' | 'serial' | 'bigint';
  /** `update … returning` works (SQLite, PostgreSQL; not MySQL/MariaDB). */
  readonly supportsReturning: boolean;
  /** `select … for update skip locked` works (PostgreSQL, MySQL 8, MariaDB 10.6+; SQLite has one writer). */
  readonly supportsSkipLocked: boolean;
}

/** One list of migrations for every dialect; differences come from the traits. */
export function migrationProvider(traits: DialectTraits): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001_jobs_and_queue': {
      async up(db: Kysely<unknown>): Promise<void> {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the column builder type differs per column type
        const pk = (c: any) => {
          const col = c.primaryKey();
          return traits.autoIncrementType === 'serial' ? col : col.autoIncrement();
        };
        await db.schema
          .createTable('jobs')
          .addColumn('seq', traits.autoIncrementType, pk)
          .addColumn('id', 'varchar(32)', (c) => c.notNull().unique())
          .addColumn('engine', 'varchar(64)', (c) => c.notNull())
          .addColumn('state', 'varchar(16)', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('exit_code', 'integer')
          .addColumn('image_digest', 'varchar(512)')
          .addColumn('input_name', 'varchar(512)', (c) => c.notNull())
          .addColumn('input_size', 'bigint', (c) => c.notNull())
          .addColumn('input_sha256', 'char(64)', (c) => c.notNull())
          .addColumn('summary', 'text')
          .addColumn('result_kind', 'varchar(16)')
          .addColumn('result_size', 'bigint')
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('worker_id', 'varchar(64)')
          .addColumn('peak_memory_bytes', 'bigint')
          .addColumn('cpu_ms', 'bigint')
          .addColumn('stdout_bytes', 'bigint')
          .addColumn('stderr_bytes', 'bigint')
          .addColumn('logs_truncated', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('enqueued', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('started_at', 'bigint')
          .addColumn('finished_at', 'bigint')
          .execute();
        await db.schema.createIndex('jobs_engine_seq').on('jobs').columns(['engine', 'seq']).execute();
        await db.schema.createIndex('jobs_state_seq').on('jobs').columns(['state', 'seq']).execute();
        await db.schema.createIndex('jobs_sha256_seq').on('jobs').columns(['input_sha256', 'seq']).execute();
        await db.schema
          .createTable('queue_messages')
          .addColumn('id', traits.autoIncrementType, pk)
          .addColumn('job_id', 'varchar(32)', (c) => c.notNull().unique())
          .addColumn('engine', 'varchar(64)', (c) => c.notNull())
          .addColumn('available_at', 'bigint', (c) => c.notNull())
          .addColumn('lease_owner', 'varchar(128)')
          .addColumn('lease_until', 'bigint')
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('dead_reason', 'text')
          .execute();
        await db.schema
          .createIndex('queue_messages_claim')
          .on('queue_messages')
          .columns(['engine', 'available_at'])
          .execute();
      },
    },
    '0002_tokens_audit_owner': {
      async up(db: Kysely<unknown>): Promise<void> {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the column builder type differs per column type
        const pk = (c: any) => {
          const col = c.primaryKey();
          return traits.autoIncrementType === 'serial' ? col : col.autoIncrement();
        };
        await db.schema
          .createTable('tokens')
          .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
          .addColumn('name', 'varchar(64)', (c) => c.notNull().unique())
          .addColumn('secret_sha256', 'char(64)', (c) => c.notNull())
          .addColumn('scopes', 'varchar(128)', (c) => c.notNull())
          .addColumn('engines', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .addColumn('created_by', 'varchar(128)', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('audit_log')
          .addColumn('id', traits.autoIncrementType, pk)
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor', 'varchar(64)')
          .addColumn('action', 'varchar(64)', (c) => c.notNull())
          .addColumn('target', 'varchar(512)', (c) => c.notNull())
          .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
          .addColumn('address', 'varchar(64)')
          .addColumn('detail', 'text')
          .execute();
        // A job belongs to the token that submitted it; null for jobs submitted without one.
        await db.schema.alterTable('jobs').addColumn('owner', 'varchar(64)').execute();
        await db.schema.createIndex('jobs_owner_seq').on('jobs').columns(['owner', 'seq']).execute();
      },
    },
    '0003_retention': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('jobs').addColumn('purged_at', 'bigint').execute();
        await db.schema.createIndex('jobs_finished_at').on('jobs').columns(['finished_at']).execute();
      },
    },
    '0004_webhooks': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('jobs').addColumn('callback_url', 'varchar(2048)').execute();
        await db.schema
          .createTable('webhook_deliveries')
          .addColumn('job_id', 'varchar(32)', (c) => c.primaryKey())
          .addColumn('url', 'varchar(2048)', (c) => c.notNull())
          .addColumn('state', 'varchar(16)', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('last_status', 'integer')
          .addColumn('last_error', 'text')
          .addColumn('delivered_at', 'bigint')
          .execute();
        await db.schema
          .createIndex('webhook_deliveries_due')
          .on('webhook_deliveries')
          .columns(['state', 'next_attempt_at'])
          .execute();
      },
    },
    '0005_job_changed_at': {
      async up(db: Kysely<unknown>): Promise<void> {
        // When a job last changed (ms, the writer's clock): API nodes that share the
        // database but no broker poll it for live views. Rows from before take their
        // latest known time.
        await db.schema
          .alterTable('jobs')
          .addColumn('changed_at', 'bigint', (c) => c.notNull().defaultTo(0))
          .execute();
        await sql`update jobs set changed_at = coalesce(purged_at, finished_at, started_at, created_at)`.execute(
          db,
        );
        // (changed_at, id): the poll is answered from the index alone.
        await db.schema.createIndex('jobs_changed_at').on('jobs').columns(['changed_at', 'id']).execute();
      },
    },
  };
  return { getMigrations: async () => migrations };
}
