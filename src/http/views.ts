import { z } from 'zod';
import { isDangerousLoosening, type EngineSpec, type Job } from '../domain/index.js';

export const errorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .meta({ id: 'Error' });

export const jobSchema = z
  .object({
    id: z.string(),
    engine: z.string(),
    state: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
    reason: z.string().nullable(),
    exitCode: z.number().int().nullable(),
    imageDigest: z.string().nullable(),
    input: z.object({ name: z.string(), size: z.number().int(), sha256: z.string() }),
    summary: z.string().nullable(),
    result: z.object({ kind: z.enum(['file', 'archive', 'stdout']), size: z.number().int() }).nullable(),
    attempts: z.number().int(),
    usage: z.object({ peakMemoryBytes: z.number().nullable(), cpuMs: z.number().nullable() }),
    logs: z.object({
      stdoutBytes: z.number().nullable(),
      stderrBytes: z.number().nullable(),
      truncated: z.boolean(),
    }),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    purgedAt: z.string().nullable(),
    durationMs: z.number().nullable(),
    links: z.object({ self: z.string(), result: z.string(), logs: z.string(), compatible: z.string() }),
  })
  .meta({ id: 'Job' });

export type JobView = z.infer<typeof jobSchema>;

/** How a job's webhook went: its deliveries, retried with backoff. */
export const webhookSchema = z.object({
  url: z.string(),
  state: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
});

export function jobView(job: Job): JobView {
  return {
    id: job.id,
    engine: job.engine,
    state: job.state,
    reason: job.reason,
    exitCode: job.exitCode,
    imageDigest: job.imageDigest,
    input: job.input,
    summary: job.summary,
    result: job.result,
    attempts: job.attempts,
    usage: job.usage,
    logs: { stdoutBytes: job.stdoutBytes, stderrBytes: job.stderrBytes, truncated: job.logsTruncated },
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
    purgedAt: job.purgedAt?.toISOString() ?? null,
    durationMs: job.startedAt && job.finishedAt ? job.finishedAt.getTime() - job.startedAt.getTime() : null,
    links: {
      self: `/api/v1/jobs/${job.id}`,
      result: `/api/v1/jobs/${job.id}/result`,
      logs: `/api/v1/jobs/${job.id}/logs`,
      compatible: `/link/${job.id}`,
    },
  };
}

/** An engine's effective policy: every control with its value, and each loosening as a docker flag. */
export const policySchema = z.object({
  network: z.string(),
  readOnlyRootfs: z.boolean(),
  capabilities: z.object({ drop: z.array(z.string()), add: z.array(z.string()) }),
  noNewPrivileges: z.boolean(),
  seccomp: z.enum(['menagerie', 'docker-default', 'unconfined']),
  apparmor: z.string(),
  maskedPaths: z.boolean(),
  privileged: z.boolean(),
  hostNamespaces: z.array(z.string()),
  user: z.string(),
  runtime: z.string().nullable(),
  memoryBytes: z.number(),
  cpus: z.number(),
  pidsLimit: z.number(),
  nofile: z.number(),
  fsizeBytes: z.number(),
  tmpfsBytes: z.number(),
  volumeBytes: z.number(),
  resultMaxBytes: z.number(),
  logMaxBytes: z.number(),
  timeoutSeconds: z.number(),
  loosenings: z.array(z.string()),
  /** The loosenings that break containment (allowed only by the operator's `allowLoosening`). */
  dangerousLoosenings: z.array(z.string()),
});

export const engineSchema = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    image: z.string(),
    digest: z.string().nullable(),
    registryDigest: z
      .string()
      .nullable()
      .describe('The digest the registry serves under the tag now (only with ?checkRegistry=true)'),
    updateAvailable: z
      .boolean()
      .nullable()
      .describe('A newer image sits under the tag than the one jobs run; null when not checked'),
    available: z.boolean(),
    workers: z.number().int(),
    sizeLimitBytes: z.number().int(),
    inputFileName: z.string(),
    mountpoint: z.string(),
    cmd: z.array(z.string()),
    queued: z.number().int(),
    running: z.number().int(),
    policy: policySchema,
  })
  .meta({ id: 'Engine' });

export type EngineView = z.infer<typeof engineSchema>;

export function engineView(
  engine: EngineSpec,
  extra: {
    digest: string | null;
    registryDigest: string | null;
    available: boolean;
    queued: number;
    running: number;
  },
): EngineView {
  const p = engine.policy;
  return {
    name: engine.name,
    description: engine.description,
    image: engine.image,
    digest: extra.digest,
    registryDigest: extra.registryDigest,
    updateAvailable:
      extra.registryDigest && extra.digest ? !extra.digest.endsWith(`@${extra.registryDigest}`) : null,
    available: extra.available,
    workers: engine.workers,
    sizeLimitBytes: engine.sizeLimitBytes,
    inputFileName: engine.inputFileName,
    mountpoint: engine.mountpoint,
    cmd: [...engine.cmd],
    queued: extra.queued,
    running: extra.running,
    policy: {
      network: p.network,
      readOnlyRootfs: p.readOnlyRootfs,
      capabilities: { drop: ['ALL'], add: [...p.capAdd] },
      noNewPrivileges: p.noNewPrivileges,
      seccomp: p.seccomp,
      apparmor: p.apparmor,
      maskedPaths: p.maskedPaths,
      privileged: p.privileged,
      hostNamespaces: [...p.hostNamespaces],
      user: p.user,
      runtime: p.runtime,
      memoryBytes: p.memoryBytes,
      cpus: p.nanoCpus / 1e9,
      pidsLimit: p.pidsLimit,
      nofile: p.nofile,
      fsizeBytes: p.fsizeBytes,
      tmpfsBytes: p.tmpfsBytes,
      volumeBytes: p.volumeBytes,
      resultMaxBytes: p.resultMaxBytes,
      logMaxBytes: p.logMaxBytes,
      timeoutSeconds: p.timeoutMs / 1000,
      loosenings: [...engine.loosenings],
      dangerousLoosenings: engine.loosenings.filter(isDangerousLoosening),
    },
  };
}
