import { sql } from 'kysely';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openScratchStore, testUrls, useTestServers } from '../contract/backends.js';

useTestServers('shared');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Ends a server connection from another session, as a database restart does,
 * and returns once the server has let it go (the client's socket then has the news).
 */
const terminate = {
  postgres: async (id: number): Promise<void> => {
    const admin = new pg.Client({ connectionString: testUrls.postgres });
    await admin.connect();
    try {
      await admin.query('select pg_terminate_backend($1)', [id]);
      while ((await admin.query('select 1 from pg_stat_activity where pid = $1', [id])).rowCount)
        await sleep(50);
    } finally {
      await admin.end();
    }
  },
  mysql: async (id: number): Promise<void> => {
    const admin = await mysql.createConnection(testUrls.mysql);
    try {
      await admin.query(`kill ${id}`);
      for (;;) {
        const [rows] = await admin.query<mysql.RowDataPacket[]>(
          'select 1 from information_schema.processlist where id = ?',
          [id],
        );
        if (rows.length === 0) break;
        await sleep(50);
      }
    } finally {
      await admin.end();
    }
  },
};

const connectionId = { postgres: 'select pg_backend_pid() as id', mysql: 'select connection_id() as id' };

describe.each(['postgres', 'mysql'] as const)(
  '%s: a connection the server ends while it is in use',
  (kind) => {
    it('fails that transaction, leaves the process running, and the store works on', async () => {
      const { store, close } = await openScratchStore(kind);
      try {
        // Checked out of the pool (inside a transaction) but between queries: the
        // pool does not listen to it then; an unhandled 'error' would end this process.
        const outcome = await store.db
          .transaction()
          .execute(async (trx) => {
            const { rows } = await sql<{ id: number }>`${sql.raw(connectionId[kind])}`.execute(trx);
            await terminate[kind](Number(rows[0]!.id));
            await new Promise((resolve) => setTimeout(resolve, 500));
            await sql`select 1`.execute(trx);
            return 'committed';
          })
          .catch((error: unknown) => (error as Error).message);
        expect(outcome).not.toBe('committed');
        expect(await store.getJob('no-such-job')).toBeUndefined();
      } finally {
        await close();
      }
    }, 30_000);
  },
);
