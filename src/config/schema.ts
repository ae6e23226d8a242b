import { z } from 'zod';
import { accessConfigShape } from './access-schema.js';

const MiB = 1024 * 1024;

/** Hardened resource defaults applied to every engine unless its entry says otherwise. */
export const engineDefaultsSchema = z
  .object({
    /** Memory limit per container, MiB (swap is set equal, so no swap). */
    memoryMb: z.number().int().min(16).default(512),
    /** CPU quota per container, in CPUs. */
    cpus: z.number().positive().max(64).default(1),
    /** Most processes and threads per container. */
    pids: z.number().int().min(8).default(256),
    /** Most open files per process. */
    nofile: z.number().int().min(64).default(1024),
    /** Largest file a process may write, MiB. */
    fsizeMb: z.number().int().min(1).default(1024),
    /** Size of the tmpfs at /tmp, MiB. */
    tmpfsMb: z.number().int().min(1).default(64),
    /** Size of the per-job volume, MiB. */
    volumeMb: z.number().int().min(8).default(1024),
    /** Largest result kept, MiB. */
    resultMaxMb: z.number().int().min(1).default(512),
    /** Most bytes kept of each of stdout and stderr, KiB. */
    logMaxKb: z.number().int().min(1).default(1024),
  })
  .strict();

export type EngineDefaults = z.infer<typeof engineDefaultsSchema>;

/** How long finished jobs keep their input, result and logs; the job rows stay, marked purged. */
export const retentionSchema = z
  .object({
    /** Age after which a finished job's files are deleted, days; 0 keeps them forever. */
    days: z.number().min(0).default(30),
    /** Per-engine ages, days, overriding `days` (0: forever). */
    engineDays: z.record(z.string(), z.number().min(0)).default({}),
    /** Free space the data directory keeps: below it the oldest finished jobs' files go first, MiB. */
    minFreeMb: z.number().int().min(0).default(1024),
    /** How often retention runs, seconds. */
    intervalSeconds: z.number().min(0.1).default(300),
  })
  .strict();

/** Per-submission webhooks. */
export const webhooksSchema = z
  .object({
    /** URL prefixes a callback may start with (e.g. "https://soar.example/hooks/"); empty refuses every callback. */
    allow: z.array(z.string().url()).default([]),
    /** HMAC-SHA256 key of the X-Menagerie-Signature header; default: made once, kept in <data>/webhook-secret. */
    secret: z.string().min(16).optional(),
    /** Attempts before a delivery is given up. */
    maxAttempts: z.number().int().min(1).max(20).default(6),
    /** How long one attempt may take, ms. */
    timeoutMs: z.number().int().min(100).default(10_000),
    /** How often due deliveries are sent, ms. */
    intervalMs: z.number().int().min(50).default(1000),
  })
  .strict();

/** The service's configuration. Every default is here, with its unit. */
export const configSchema = z
  .object({
    /** TCP port of the HTTP API. */
    port: z.number().int().min(0).max(65535).default(8100),
    /** Address the HTTP API binds to. */
    host: z.string().min(1).default('127.0.0.1'),
    /** Path of engines.json. */
    engines: z.string().min(1).default('engines/engines.json'),
    /** Data directory: database, blobs, job volumes. */
    data: z.string().min(1).default('data'),
    /** Job store URL; default `sqlite:<data>/menagerie.db`. */
    db: z.string().min(1).optional(),
    /** Queue URL; `embedded` keeps the queue in the job store's database. */
    queue: z.string().min(1).default('embedded'),
    /** Which parts run in this process. */
    role: z.enum(['all', 'api', 'worker']).default('all'),
    /** Stable id of this worker node; default: made once and kept in the data directory. */
    workerId: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .optional(),
    /**
     * URL of an API node (`http://api-host:8100`): a worker node reads inputs and
     * stores results through its internal blob endpoints instead of the local data directory.
     */
    api: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * Shared secret between API and worker nodes for the internal blob endpoints
     * (not a user token); at least 16 characters. Without it those endpoints are off.
     */
    workerSecret: z.string().min(16).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Docker Engine API socket; default from DOCKER_HOST or /var/run/docker.sock. */
    dockerHost: z.string().optional(),
    /**
     * How input and result cross into the container: `volume` mounts a size-capped
     * filesystem on this host and reads it directly; `archive` copies through the
     * Engine API (for a Docker engine on another host); `auto` picks `volume` when
     * the engine is local and this process is root.
     */
    jobIo: z.enum(['auto', 'volume', 'archive']).default('auto'),
    /** Times a job is tried before it fails for good after a lost worker. */
    maxAttempts: z.number().int().min(1).max(20).default(3),
    /** Interval at which idle workers look for work they were not told about, ms. */
    pollIntervalMs: z.number().int().min(10).default(1000),
    /** Most bytes of a text result used as the summary. */
    summaryMaxBytes: z.number().int().min(16).default(4096),
    engineDefaults: engineDefaultsSchema.default(engineDefaultsSchema.parse({})),
    /** Authentication, TLS, rate limits, backpressure and server timeouts (access-schema.ts). */
    ...accessConfigShape,
    retention: retentionSchema.default(retentionSchema.parse({})),
    webhooks: webhooksSchema.default(webhooksSchema.parse({})),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

export { MiB };
