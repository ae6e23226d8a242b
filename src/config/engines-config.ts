import { z } from 'zod';
import { isEngineName, type EnginePolicy, type EngineSpec } from '../domain/index.js';
import type { EngineDefaults } from './schema.js';
import { translateRunflags, type RunflagSettings } from './runflags.js';

/** One entry of engines.json: the 2016 keys, plus optional `resources`, `security`, `env`, `description`. */
const engineEntrySchema = z
  .object({
    name: z.string().refine(isEngineName, {
      message:
        'must be lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, at most 63 characters',
    }),
    description: z.string().max(500).optional(),
    workers: z.number().int().min(1).max(64).default(1),
    image: z.string().min(1),
    runflags: z.array(z.string()).default([]),
    cmd: z.union([z.string(), z.array(z.string())]).default([]),
    mountpoint: z
      .string()
      .regex(/^\/[A-Za-z0-9_./-]*$/, 'must be an absolute path of plain characters')
      .refine((p) => !p.split('/').includes('..') && p !== '/', 'must not be / or contain ".."')
      .default('/var/data'),
    sizelimit: z.number().int().positive().default(50_000_000),
    inputfilename: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be a plain file name (letters, digits, ".", "_", "-")')
      .refine((n) => n !== '.' && n !== '..' && n !== 'result' && n !== 'summary', 'is reserved')
      .default('sample'),
    user: z.union([z.number().int().min(0), z.string().regex(/^\d+(:\d+)?$/)]).optional(),
    timeout: z.number().positive().max(86_400).default(240),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
    resources: z
      .object({
        memoryMb: z.number().int().min(16),
        cpus: z.number().positive().max(64),
        pids: z.number().int().min(8),
        nofile: z.number().int().min(64),
        fsizeMb: z.number().int().min(1),
        tmpfsMb: z.number().int().min(1),
        volumeMb: z.number().int().min(8),
        resultMaxMb: z.number().int().min(1),
        logMaxKb: z.number().int().min(1),
      })
      .partial()
      .strict()
      .default({}),
  })
  .strict();

const enginesFileSchema = z.object({ engines: z.array(z.unknown()) }).strict();

export type EngineEntry = z.infer<typeof engineEntrySchema>;

/** A problem in engines.json, naming the engine and key. */
export class EngineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineConfigError';
  }
}

const MiB = 1024 * 1024;

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length > 0 ? issue.path.join('.') : '(entry)';
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `key "${key}": ${issue.message}`;
}

/**
 * Parses engines.json text into effective engine specs.
 * @throws EngineConfigError naming the engine, the key and what is wrong.
 */
export function parseEnginesConfig(
  text: string,
  defaults: EngineDefaults,
  source = 'engines.json',
): EngineSpec[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new EngineConfigError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  const file = enginesFileSchema.safeParse(raw);
  if (!file.success) {
    throw new EngineConfigError(
      `${source}: expected {"engines": [ … ]}: ${file.error.issues.map(describeIssue).join('; ')}`,
    );
  }
  const specs: EngineSpec[] = [];
  const seen = new Set<string>();
  file.data.engines.forEach((value, index) => {
    const label =
      typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string'
        ? `engine "${(value as { name: string }).name}"`
        : `engine #${index + 1}`;
    const entry = engineEntrySchema.safeParse(value);
    if (!entry.success) {
      throw new EngineConfigError(`${source}: ${label}: ${entry.error.issues.map(describeIssue).join('; ')}`);
    }
    if (seen.has(entry.data.name)) {
      throw new EngineConfigError(`${source}: ${label}: defined twice; engine names must be unique`);
    }
    seen.add(entry.data.name);
    let flags: RunflagSettings;
    try {
      flags = translateRunflags(entry.data.runflags);
    } catch (error) {
      throw new EngineConfigError(`${source}: ${label}: key "runflags": ${(error as Error).message}`);
    }
    specs.push(toSpec(entry.data, flags, defaults));
  });
  return specs;
}

function toSpec(entry: EngineEntry, flags: RunflagSettings, defaults: EngineDefaults): EngineSpec {
  const r = { ...defaults, ...flags.resources, ...entry.resources };
  const user = entry.user !== undefined ? String(entry.user) : (flags.user ?? '1000');
  const policy: EnginePolicy = {
    network: 'none',
    readOnlyRootfs: true,
    capAdd: [],
    noNewPrivileges: true,
    seccomp: 'default',
    user,
    runtime: null,
    memoryBytes: r.memoryMb * MiB,
    nanoCpus: Math.round(r.cpus * 1e9),
    pidsLimit: r.pids,
    nofile: r.nofile,
    fsizeBytes: r.fsizeMb * MiB,
    tmpfsBytes: r.tmpfsMb * MiB,
    volumeBytes: Math.max(r.volumeMb * MiB, entry.sizelimit + 8 * MiB),
    resultMaxBytes: r.resultMaxMb * MiB,
    logMaxBytes: r.logMaxKb * 1024,
    timeoutMs: Math.round(entry.timeout * 1000),
  };
  const loosenings: string[] = [];
  if (user === '0' || user.startsWith('0:')) loosenings.push('runs as root (user 0)');
  const cmd = typeof entry.cmd === 'string' ? entry.cmd.trim().split(/\s+/).filter(Boolean) : entry.cmd;
  return {
    name: entry.name,
    description: entry.description ?? null,
    image: entry.image,
    workers: entry.workers,
    cmd,
    mountpoint: entry.mountpoint.replace(/\/+$/, ''),
    inputFileName: entry.inputfilename,
    sizeLimitBytes: entry.sizelimit,
    env: { ...flags.env, ...entry.env },
    policy,
    loosenings,
  };
}
