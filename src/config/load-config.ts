import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { accessEnvironmentKeys, accessNumericKeys, exposureProblem } from './access-schema.js';
import { configSchema, type Config } from './schema.js';

/** Environment variables and the config keys they set. */
export const environmentKeys = {
  MENAGERIE_PORT: 'port',
  MENAGERIE_HOST: 'host',
  MENAGERIE_ENGINES: 'engines',
  MENAGERIE_DATA: 'data',
  MENAGERIE_DB: 'db',
  MENAGERIE_QUEUE: 'queue',
  MENAGERIE_ROLE: 'role',
  MENAGERIE_WORKER_ID: 'workerId',
  MENAGERIE_API: 'api',
  MENAGERIE_WORKER_SECRET: 'workerSecret',
  MENAGERIE_LOG_LEVEL: 'logLevel',
  MENAGERIE_JOB_IO: 'jobIo',
  MENAGERIE_MAX_ATTEMPTS: 'maxAttempts',
  MENAGERIE_POLL_INTERVAL_MS: 'pollIntervalMs',
  DOCKER_HOST: 'dockerHost',
  ...accessEnvironmentKeys,
} as const satisfies Record<string, keyof Config>;

const numericKeys = new Set<keyof Config>([
  'port',
  'maxAttempts',
  'pollIntervalMs',
  'summaryMaxBytes',
  ...accessNumericKeys,
]);

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** The process environment (passed in, never read from a global). */
  env: Readonly<Record<string, string | undefined>>;
  /** Values given as command-line flags; undefined entries are ignored. */
  flags?: Partial<Record<keyof Config, unknown>>;
  /** A JSON config file; also taken from MENAGERIE_CONFIG. */
  configFile?: string;
}

function coerce(key: keyof Config, value: string): unknown {
  if (numericKeys.has(key)) {
    const n = Number(value);
    return Number.isFinite(n) && value.trim() !== '' ? n : value;
  }
  return value;
}

/**
 * Resolves the configuration: defaults < file < environment < flags.
 * Relative paths are made absolute against `cwd`. The result is frozen.
 * @throws ConfigError naming the key and what is wrong.
 */
export function loadConfig(options: LoadConfigOptions, cwd = process.cwd()): Readonly<Config> {
  const merged: Record<string, unknown> = {};
  const file = options.configFile ?? options.env.MENAGERIE_CONFIG;
  if (file) {
    try {
      Object.assign(merged, JSON.parse(readFileSync(file, 'utf8')));
    } catch (error) {
      throw new ConfigError(`config file ${file}: ${(error as Error).message}`);
    }
  }
  for (const [variable, key] of Object.entries(environmentKeys)) {
    const value = options.env[variable];
    if (value !== undefined && value !== '') merged[key] = coerce(key, value);
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value !== undefined)
      merged[key] = typeof value === 'string' ? coerce(key as keyof Config, value) : value;
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues
        .map((issue: z.core.$ZodIssue) => {
          const key = issue.path.join('.') || '(config)';
          const variable = Object.entries(environmentKeys).find(([, k]) => k === key)?.[0];
          return `${key}${variable ? ` (${variable})` : ''}: ${issue.message}`;
        })
        .join('; '),
    );
  }
  const config = parsed.data;
  config.data = path.resolve(cwd, config.data);
  config.engines = path.resolve(cwd, config.engines);
  config.db ??= `sqlite:${path.join(config.data, 'menagerie.db')}`;
  for (const key of ['tlsCert', 'tlsKey', 'tlsClientCa'] as const) {
    const file = config[key];
    if (file) config[key] = path.resolve(cwd, file);
  }
  const exposure = exposureProblem(config);
  if (exposure) throw new ConfigError(exposure);
  return Object.freeze(config);
}
