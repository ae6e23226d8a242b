import { Kysely, MysqlDialect } from 'kysely';
import { createPool } from 'mysql2';
import type { SqlStoreOptions } from '../postgres/postgres-job-store.js';
import { KyselyJobStore } from '../sql/kysely-job-store.js';
import type { Database } from '../sql/schema.js';

/** Opens a MySQL 8 / MariaDB 10.6+ job store from a `mysql://` or `mariadb://` URL. */
export function createMysqlJobStore(url: string, options: SqlStoreOptions = {}): KyselyJobStore {
  const pool = createPool({
    uri: url.replace(/^mariadb:/, 'mysql:'),
    connectionLimit: options.poolSize ?? 10,
    // A request fails fast while the database is away (the API answers 503) instead of hanging.
    connectTimeout: 5000,
    // Times are stored as bigint milliseconds; they fit a JS number.
    supportBigNumbers: true,
    bigNumberStrings: false,
  });
  pool.on('connection', (connection) => {
    connection.on('error', (error) => options.logger?.warn({ err: error }, 'MySQL connection lost'));
  });
  const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
  return new KyselyJobStore(db, {
    autoIncrementType: 'bigint',
    supportsReturning: false,
    supportsSkipLocked: true,
  });
}
