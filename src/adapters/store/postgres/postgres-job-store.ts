import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { KyselyJobStore } from '../sql/kysely-job-store.js';
import type { Database } from '../sql/schema.js';

export interface SqlStoreOptions {
  /** Most connections held open. Default 10. */
  readonly poolSize?: number;
  /** Where errors of pooled connections (a database restart) are reported. */
  readonly logger?: Logger;
}

/** Opens a PostgreSQL job store from a `postgres://` or `postgresql://` URL. */
export function createPostgresJobStore(url: string, options: SqlStoreOptions = {}): KyselyJobStore {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    // A request fails fast while the database is away (the API answers 503) instead of hanging.
    connectionTimeoutMillis: 5000,
  });
  // A connection that the server closes (restart, failover) emits 'error'; unhandled, it
  // would end the process. The pool reports idle ones here; one checked out by a query is
  // not listened to by the pool, so each connection gets its own listener (the query
  // itself fails with the error). The pool opens fresh connections on next use.
  pool.on('error', (error) => options.logger?.warn({ err: error }, 'idle PostgreSQL connection lost'));
  pool.on('connect', (client) =>
    client.on('error', (error) => options.logger?.warn({ err: error }, 'PostgreSQL connection lost')),
  );
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new KyselyJobStore(db, {
    autoIncrementType: 'serial',
    supportsReturning: true,
    supportsSkipLocked: true,
  });
}
