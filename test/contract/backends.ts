import { afterAll, beforeAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createMysqlJobStore } from '../../src/adapters/store/mysql/mysql-job-store.js';
import { createPostgresJobStore } from '../../src/adapters/store/postgres/postgres-job-store.js';
import type { KyselyJobStore } from '../../src/adapters/store/sql/kysely-job-store.js';
import { createSqliteJobStore } from '../../src/adapters/store/sqlite/sqlite-job-store.js';

/** The servers scripts/ensure-services.sh starts, or the user's own. */
export const testUrls = {
  postgres: process.env.MENAGERIE_TEST_PG_URL ?? 'postgres://menagerie:menagerie@127.0.0.1:5432/menagerie',
  mysql: process.env.MENAGERIE_TEST_MYSQL_URL ?? 'mysql://menagerie:menagerie@127.0.0.1:3306/menagerie',
  amqp: process.env.MENAGERIE_TEST_AMQP_URL ?? 'amqp://menagerie:menagerie@127.0.0.1:5672',
};

/** A database made for one suite, dropped by `drop`. */
export interface ScratchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

function scratchName(): string {
  return `menagerie_t_${randomBytes(5).toString('hex')}`;
}

export async function createScratchDatabase(kind: 'sqlite' | 'postgres' | 'mysql'): Promise<ScratchDatabase> {
  const name = scratchName();
  if (kind === 'sqlite') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'menagerie-contract-'));
    return {
      url: `sqlite:${path.join(dir, 'jobs.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  if (kind === 'postgres') {
    const admin = new pg.Client({ connectionString: testUrls.postgres });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    return {
      url: withDatabase(testUrls.postgres, name),
      drop: async () => {
        const c = new pg.Client({ connectionString: testUrls.postgres });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
      },
    };
  }
  const admin = await mysql.createConnection(testUrls.mysql);
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: withDatabase(testUrls.mysql, name),
    drop: async () => {
      const c = await mysql.createConnection(testUrls.mysql);
      await c.query(`drop database if exists ${name}`);
      await c.end();
    },
  };
}

export const storeKinds = ['sqlite', 'postgres', 'mysql'] as const;
export type StoreKind = (typeof storeKinds)[number];

export function openStore(kind: StoreKind, url: string): KyselyJobStore {
  if (kind === 'sqlite') return createSqliteJobStore(url);
  if (kind === 'postgres') return createPostgresJobStore(url);
  return createMysqlJobStore(url);
}

/** A migrated store in its own scratch database; `close` closes it and drops the database. */
export async function openScratchStore(
  kind: StoreKind,
): Promise<{ store: KyselyJobStore; close(): Promise<void> }> {
  const database = await createScratchDatabase(kind);
  const store = openStore(kind, database.url);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    await database.drop();
    throw error;
  }
  return {
    store,
    close: async () => {
      await store.close();
      await database.drop();
    },
  };
}

/**
 * Holds a lock on the shared test servers across processes: suites that use
 * them hold it shared, suites that restart them hold it exclusive, so two test
 * runs on one machine do not restart a server under each other. The lock is
 * held by a `flock` child reading our stdin pipe: it goes when we close the
 * pipe, or when this process dies.
 */
export async function holdTestServers(mode: 'shared' | 'exclusive'): Promise<() => Promise<void>> {
  const { spawn } = await import('node:child_process');
  const lockFile = path.join(os.tmpdir(), 'menagerie-test-servers.lock');
  const child = spawn(
    'flock',
    [mode === 'shared' ? '-s' : '-x', '-w', '900', lockFile, '-c', 'echo locked; exec cat >/dev/null'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`could not lock the test servers (flock exited ${code})`)));
  });
  return async () => {
    if (child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.stdin.end();
    await gone;
  };
}

/**
 * Holds the test servers for the whole file: another test run on this machine
 * must not restart them under this one (`exclusive` for a file that restarts them).
 */
export function useTestServers(mode: 'shared' | 'exclusive'): void {
  let release: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    release = await holdTestServers(mode);
  }, 900_000);
  afterAll(async () => {
    await release?.();
  });
}
