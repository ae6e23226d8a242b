import type { Logger } from 'pino';
import { createMysqlJobStore } from './mysql/mysql-job-store.js';
import { createPostgresJobStore } from './postgres/postgres-job-store.js';
import type { KyselyJobStore } from './sql/kysely-job-store.js';
import { createSqliteJobStore } from './sqlite/sqlite-job-store.js';

/** Opens the job store a URL names: `sqlite:<path>`, `postgres://…` or `mysql://…`. */
export function openJobStore(url: string, logger: Logger): KyselyJobStore {
  if (url.startsWith('sqlite:')) return createSqliteJobStore(url);
  if (/^postgres(ql)?:\/\//.test(url)) return createPostgresJobStore(url, { logger });
  if (/^(mysql|mariadb):\/\//.test(url)) return createMysqlJobStore(url, { logger });
  throw new Error(
    `unsupported job store URL ${JSON.stringify(url.replace(/\/\/[^@]*@/, '//…@'))}; use sqlite:<path>, postgres://… or mysql://…`,
  );
}
