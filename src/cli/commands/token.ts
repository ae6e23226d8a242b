import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { pino } from 'pino';
import { openJobStore } from '../../adapters/store/open-job-store.js';
import { KyselyTokenStore } from '../../adapters/store/sql/kysely-token-store.js';
import { loadConfig } from '../../config/load-config.js';
import { isMenagerieError, isScope, scopes, type Scope } from '../../domain/index.js';
import { TokenService, parseDuration } from '../../services/token-service.js';
import { ClientError, exitCodes } from '../client.js';

interface StoreOptions {
  data?: string;
  db?: string;
  config?: string;
}

/** Where the job store is: the same flags and environment as `serve`. */
function storeOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data directory (MENAGERIE_DATA)')
    .option('--db <url>', 'job store URL (MENAGERIE_DB); default sqlite:<data>/menagerie.db')
    .option('--config <file>', 'JSON config file (MENAGERIE_CONFIG)');
}

/**
 * Opens the token store straight from the database, as `serve` does: tokens are
 * made where the trust already is (whoever can open the database), so the first
 * admin token needs no token, and it works with the server stopped.
 */
async function withTokens<T>(options: StoreOptions, use: (tokens: TokenService) => Promise<T>): Promise<T> {
  const config = loadConfig({
    env: process.env,
    configFile: options.config,
    flags: { data: options.data, db: options.db },
  });
  const logger = pino({ level: 'silent' });
  const store = openJobStore(config.db as string, logger);
  try {
    await store.migrate();
    const tokenStore = new KyselyTokenStore(store.db);
    return await use(new TokenService(tokenStore, tokenStore));
  } catch (error) {
    if (isMenagerieError(error))
      throw new ClientError(
        error.message,
        error.status === 404 ? exitCodes.notFound : exitCodes.usage,
        error.code,
      );
    throw error;
  } finally {
    await store.close();
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter((v) => v !== '')];
}

function actor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for this uid (a container): keep "unknown".
  }
  return `cli:${user}@${hostname()}`;
}

/** `menagerie token create|list|revoke`: API tokens, kept in the job store's database. */
export function registerTokenCommands(program: Command): void {
  const token = program
    .command('token')
    .description('Manage API tokens (reads the database directly, as serve does)');

  storeOptions(
    token
      .command('create')
      .description('Make a token; its secret is printed once, alone on the last line of stdout')
      .argument('<name>', 'unique name; jobs the token submits belong to it')
      .option('--scope <scope...>', `rights: ${scopes.join(', ')} (repeat or comma-separate)`, collect)
      .option('--engine <name...>', 'limit submit to these engines (repeat or comma-separate)', collect)
      .option('--expires <duration>', 'lifetime: 90m, 12h, 30d, 2w; default never'),
  ).action(
    async (
      name: string,
      options: StoreOptions & { scope?: string[]; engine?: string[]; expires?: string },
    ) => {
      const given = options.scope ?? [];
      const bad = given.filter((s) => !isScope(s));
      if (given.length === 0 || bad.length > 0)
        throw new ClientError(
          `${bad.length ? `unknown scope ${bad.map((s) => JSON.stringify(s)).join(', ')}; ` : ''}give --scope with one or more of ${scopes.join(', ')}`,
          exitCodes.usage,
        );
      let expiresInMs: number | null = null;
      if (options.expires) {
        try {
          expiresInMs = parseDuration(options.expires);
        } catch (error) {
          throw new ClientError(`--expires: ${(error as Error).message}`, exitCodes.usage);
        }
      }
      const { token: secret, record } = await withTokens(options, (tokens) =>
        tokens.create({
          name,
          scopes: given as Scope[],
          engines: options.engine ?? null,
          expiresInMs,
          createdBy: actor(),
        }),
      );
      process.stderr.write(
        [
          `token ${record.name} created`,
          `  scopes   ${record.scopes.join(' ')}`,
          `  engines  ${record.engines ? record.engines.join(' ') : 'any'}`,
          `  expires  ${record.expiresAt ? record.expiresAt.toISOString() : 'never'}`,
          'The secret below is shown once; only its hash is kept. Send it as "Authorization: Bearer <token>"',
          'or set MENAGERIE_TOKEN for the CLI.',
          '',
        ].join('\n'),
      );
      process.stdout.write(secret + '\n');
    },
  );

  storeOptions(
    token
      .command('list')
      .description('List tokens (never their secrets)')
      .option('--json', 'print JSON for scripts'),
  ).action(async (options: StoreOptions & { json?: boolean }) => {
    const records = await withTokens(options, (tokens) => tokens.list());
    const now = Date.now();
    const rows = records.map((r) => ({
      name: r.name,
      id: r.id,
      scopes: r.scopes,
      engines: r.engines,
      createdAt: r.createdAt.toISOString(),
      expiresAt: r.expiresAt?.toISOString() ?? null,
      revokedAt: r.revokedAt?.toISOString() ?? null,
      createdBy: r.createdBy,
      status: r.revokedAt ? 'revoked' : r.expiresAt && r.expiresAt.getTime() <= now ? 'expired' : 'active',
    }));
    if (options.json) {
      process.stdout.write(JSON.stringify({ tokens: rows }) + '\n');
      return;
    }
    for (const r of rows)
      process.stdout.write(
        [
          r.name.padEnd(20),
          r.status.padEnd(8),
          r.scopes.join(',').padEnd(28),
          (r.engines ? r.engines.join(',') : 'any').padEnd(16),
          r.expiresAt ? `expires ${r.expiresAt}` : 'no expiry',
        ].join('  ') + '\n',
      );
  });

  storeOptions(
    token
      .command('revoke')
      .description('Revoke a token at once; its name is not reused')
      .argument('<name>', 'token name'),
  ).action(async (name: string, options: StoreOptions) => {
    await withTokens(options, (tokens) => tokens.revoke(name, actor()));
    process.stderr.write(`token ${name} revoked\n`);
  });
}
