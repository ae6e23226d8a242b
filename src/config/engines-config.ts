import { z } from 'zod';
import {
  isDangerousLoosening,
  isEngineName,
  policyLoosenings,
  type EnginePolicy,
  type EngineSpec,
} from '../domain/index.js';
import type { EngineDefaults } from './schema.js';
import { normalizeCapability, translateRunflags, type RunflagSettings } from './runflags.js';

/**
 * The optional `security` block of an engine: each key loosens (or restates)
 * one control; absent keys keep the hardened default shown.
 */
const securitySchema = z
  .object({
    /** Default `none`. */
    network: z.enum(['none', 'bridge', 'host']),
    /** Default true. */
    readOnlyRootfs: z.boolean(),
    /** Capabilities added back after all are dropped. Default none. */
    capAdd: z.array(z.string()),
    /** Default true. */
    noNewPrivileges: z.boolean(),
    /** Default `menagerie`. */
    seccomp: z.enum(['menagerie', 'docker-default', 'unconfined']),
    /** Default `default` (Docker's docker-default where the kernel has AppArmor). */
    apparmor: z.string().regex(/^[A-Za-z0-9_.-]+$/),
    /** Keep Docker's masked /proc and /sys paths. Default true. */
    maskedPaths: z.boolean(),
    /** Default false. */
    privileged: z.boolean(),
    /** Host namespaces to share. Default none. */
    hostNamespaces: z.array(z.enum(['pid', 'ipc', 'uts', 'userns'])),
    /** `uid` or `uid:gid`; the same as the top-level `user`. */
    user: z.union([z.number().int().min(0), z.string().regex(/^\d+(:\d+)?$/)]),
    /** OCI runtime registered with the daemon (`runsc`, …); null for the daemon's default. */
    runtime: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .nullable(),
  })
  .partial()
  .strict();

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
    security: securitySchema.default({}),
  })
  .strict();

/**
 * engines.json: the engines, and the operator's explicit allowances of
 * dangerous loosenings per engine (`{"<engine>": ["--cap-add SYS_PTRACE"]}`).
 */
const enginesFileSchema = z
  .object({
    engines: z.array(z.unknown()),
    allowLoosening: z.record(z.string(), z.array(z.string())).default({}),
  })
  .strict();

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
    let spec: EngineSpec;
    try {
      spec = toSpec(entry.data, flags, defaults);
    } catch (error) {
      throw new EngineConfigError(`${source}: ${label}: ${(error as Error).message}`);
    }
    const allowed = new Set(file.data.allowLoosening[spec.name] ?? []);
    for (const loosening of spec.loosenings) {
      if (isDangerousLoosening(loosening) && !allowed.has(loosening)) {
        throw new EngineConfigError(
          `${source}: ${label}: "${loosening}" (from ${loosenedBy(entry.data)}) is refused: it breaks ` +
            `containment; an operator who accepts that must name it in "allowLoosening": ` +
            `{"${spec.name}": ["${loosening}"]}`,
        );
      }
    }
    for (const allowance of allowed) {
      if (!spec.loosenings.includes(allowance)) {
        throw new EngineConfigError(
          `${source}: key "allowLoosening.${spec.name}": "${allowance}" is not a loosening this engine asks for ` +
            `(it asks for: ${spec.loosenings.join(', ') || 'none'})`,
        );
      }
    }
    specs.push(spec);
  });
  for (const name of Object.keys(file.data.allowLoosening)) {
    if (!seen.has(name)) {
      throw new EngineConfigError(`${source}: key "allowLoosening": no engine is named "${name}"`);
    }
  }
  return specs;
}

function loosenedBy(entry: EngineEntry): string {
  return Object.keys(entry.security).length > 0 ? 'key "security" or "runflags"' : 'key "runflags"';
}

function toSpec(entry: EngineEntry, flags: RunflagSettings, defaults: EngineDefaults): EngineSpec {
  const r = { ...defaults, ...flags.resources, ...entry.resources };
  const sec = { ...flags.security, ...stripUndefined(entry.security) };
  const users = [entry.user, entry.security.user, flags.user]
    .filter((u) => u !== undefined)
    .map((u) => String(u));
  if (new Set(users).size > 1) {
    throw new Error(
      `the user is given differently in "user", "security.user" and "runflags": ${users.join(', ')}`,
    );
  }
  const user = users[0] ?? '1000';
  const capAdd = [...new Set([...(flags.security.capAdd ?? []), ...(entry.security.capAdd ?? [])])].map(
    (c) => {
      try {
        return normalizeCapability(c);
      } catch (error) {
        throw new Error(`key "security.capAdd": ${(error as Error).message}`, { cause: error });
      }
    },
  );
  const apparmor = sec.apparmor === undefined || sec.apparmor === 'docker-default' ? 'default' : sec.apparmor;
  const policy: EnginePolicy = {
    network: sec.network ?? 'none',
    readOnlyRootfs: sec.readOnlyRootfs ?? true,
    capAdd: [...new Set(capAdd)],
    noNewPrivileges: sec.noNewPrivileges ?? true,
    seccomp: sec.seccomp ?? 'menagerie',
    apparmor,
    maskedPaths: sec.maskedPaths ?? true,
    privileged: sec.privileged ?? false,
    hostNamespaces: [
      ...new Set([...(flags.security.hostNamespaces ?? []), ...(entry.security.hostNamespaces ?? [])]),
    ],
    user,
    runtime: sec.runtime ?? null,
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
    loosenings: policyLoosenings(policy),
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
