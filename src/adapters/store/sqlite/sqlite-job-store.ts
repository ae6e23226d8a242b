import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyJobStore } from '../sql/kysely-job-store.js';
import type { Database } from '../sql/schema.js';

/** Opens (creating when absent) a SQLite job store from a `sqlite:<path>` URL. */
export function createSqliteJobStore(url: string): KyselyJobStore {
  const file = url.replace(/^sqlite:(\/\/)?/, '');
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new SqliteDatabase(file);
  // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return new KyselyJobStore(db, {
    autoIncrementType: 'integer',
    supportsReturning: true,
    supportsSkipLocked: false,
  });
}
