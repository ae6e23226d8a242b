import { mkdir, open, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import {
  endedWithoutRun,
  isFinalState,
  type EngineSpec,
  type Job,
  type JobOutcome,
} from '../domain/index.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { ContainerRuntime, ResolvedImage, RunOutcome } from '../ports/container-runtime.js';
import type { Delivery } from '../ports/job-queue.js';
import type { JobStore } from '../ports/job-store.js';
import { blobKeys } from './blob-keys.js';
import type { EngineRegistry } from './engine-registry.js';
import type { JobEvents } from './job-events.js';
import type { Metrics } from './metrics.js';
import { cleanSummary, textHead } from './summarize.js';

export interface JobRunnerDeps {
  readonly store: JobStore;
  readonly blobs: BlobStore;
  readonly runtime: ContainerRuntime;
  readonly engines: EngineRegistry;
  readonly events: JobEvents;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly workerId: string;
  /** Directory for per-run scratch files (collected results, captured stdout). */
  readonly scratchDir: string;
  readonly maxAttempts: number;
  readonly summaryMaxBytes: number;
}

const shutdownReason = 'worker shutting down';

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}

/** Backoff before retrying a run that failed for a reason outside the job, ms. */
function retryDelayMs(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** (attempt - 1));
}

/**
 * Runs one delivered job to exactly one final state: claims it, runs the
 * engine, stores result and logs, records the outcome once, then acks.
 */
export class JobRunner {
  private readonly running = new Map<string, AbortController>();
  private readonly images = new Map<string, { image: ResolvedImage; at: number }>();
  private readonly stopListening: () => void;

  constructor(private readonly deps: JobRunnerDeps) {
    this.stopListening = deps.events.onCancel((jobId) => this.running.get(jobId)?.abort('cancelled'));
  }

  /** Number of jobs this runner has under way. */
  get busy(): number {
    return this.running.size;
  }

  /** Stops every run under way; their jobs go back to the queue. */
  abortAll(): void {
    for (const controller of this.running.values()) controller.abort(shutdownReason);
  }

  close(): void {
    this.stopListening();
  }

  /** Resolves an engine's image to the id that will run, cached briefly so a retag is noticed. */
  async resolveImage(engine: EngineSpec): Promise<ResolvedImage | undefined> {
    const cached = this.images.get(engine.image);
    if (cached && Date.now() - cached.at < 30_000) return cached.image;
    const image = await this.deps.runtime.resolveImage(engine.image, { pull: true });
    if (image) this.images.set(engine.image, { image, at: Date.now() });
    return image;
  }

  async handle(delivery: Delivery): Promise<void> {
    const { store, logger } = this.deps;
    let log = logger.child({ jobId: delivery.jobId, engine: delivery.engine, attempt: delivery.attempt });
    const job = await store.getJob(delivery.jobId);
    if (!job || isFinalState(job.state)) {
      await delivery.ack();
      return;
    }
    const engine = this.deps.engines.find(job.engine);
    if (!engine) {
      await this.fail(job, `engine ${job.engine} is no longer configured`, delivery, null);
      return;
    }
    if (delivery.attempt > this.deps.maxAttempts) {
      await this.fail(
        job,
        `gave up after ${this.deps.maxAttempts} attempts (the worker running it was lost each time)`,
        delivery,
        null,
        true,
      );
      return;
    }
    let image: ResolvedImage | undefined;
    try {
      image = await this.resolveImage(engine);
    } catch (error) {
      await this.retryOrFail(
        job,
        delivery,
        `the Docker engine did not answer: ${(error as Error).message}`,
        log,
      );
      return;
    }
    if (!image) {
      await this.fail(
        job,
        `engine image ${engine.image} is not on this worker and could not be pulled`,
        delivery,
        null,
      );
      return;
    }
    const startedAt = new Date();
    if (!(await store.markRunning(job.id, this.deps.workerId, delivery.attempt, startedAt))) {
      await delivery.ack();
      return;
    }
    this.emit(job.id);
    const scratch = path.join(this.deps.scratchDir, `${job.id}-${delivery.attempt}`);
    const controller = new AbortController();
    this.running.set(job.id, controller);
    this.deps.metrics.activeWorkers.inc({ engine: engine.name });
    let outcome: RunOutcome | undefined;
    try {
      await rm(scratch, { recursive: true, force: true });
      await mkdir(scratch, { recursive: true });
      if (!(await this.deps.blobs.stat(blobKeys.input(job.input.sha256)))) {
        // Retrying cannot bring it back: fail now, saying so.
        await this.fail(
          job,
          'the input file is no longer stored (deleted by retention, or lost); submit the file again',
          delivery,
          null,
        );
        return;
      }
      const inputPath = await this.materializeInput(job, scratch);
      try {
        outcome = await this.deps.runtime.run({
          jobId: job.id,
          attempt: delivery.attempt,
          workerId: this.deps.workerId,
          engine,
          image,
          inputPath,
          scratchDir: scratch,
          summaryMaxBytes: this.deps.summaryMaxBytes,
          signal: controller.signal,
          onContainer: (containerId) => {
            // Every later line of this job names its container.
            log = log.child({ containerId });
            log.debug('container created');
          },
        });
      } catch (error) {
        if (controller.signal.reason === shutdownReason) {
          await this.putBack(job, delivery);
        } else if (controller.signal.aborted) {
          await delivery.ack();
        } else {
          await this.retryOrFail(job, delivery, `could not run the engine: ${(error as Error).message}`, log);
        }
        return;
      }
      if (controller.signal.reason === shutdownReason) {
        await this.putBack(job, delivery);
        return;
      }
      this.deps.metrics.containerStartSeconds.observe({ engine: engine.name }, outcome.startMs / 1000);
      this.deps.metrics.runSeconds.observe({ engine: engine.name }, outcome.runMs / 1000);
      this.deps.metrics.waitSeconds.observe(
        { engine: engine.name },
        (startedAt.getTime() + outcome.startMs - job.createdAt.getTime()) / 1000,
      );
      const final = await this.record(job, engine, image, delivery.attempt, outcome);
      if (final) {
        log.info(
          {
            state: final.state,
            reason: final.reason,
            runMs: Math.round(outcome.runMs),
          },
          'job finished',
        );
      }
      await delivery.ack();
    } finally {
      this.running.delete(job.id);
      this.deps.metrics.activeWorkers.dec({ engine: engine.name });
      await outcome?.release();
      await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async materializeInput(job: Job, scratch: string): Promise<string> {
    const key = blobKeys.input(job.input.sha256);
    const local = await this.deps.blobs.localPath?.(key);
    if (local) return local;
    const target = path.join(scratch, 'input');
    await pipeline(await this.deps.blobs.open(key), createWriteStream(target, { flags: 'wx' }));
    return target;
  }

  /** Turns what the container did into the job's outcome, stores result and logs, and records it once. */
  private async record(
    job: Job,
    engine: EngineSpec,
    image: ResolvedImage,
    attempt: number,
    run: RunOutcome,
  ): Promise<Job | undefined> {
    const { blobs } = this.deps;
    const p = engine.policy;
    let state: JobOutcome['state'] = 'failed';
    let reason: string | null = null;
    let exitCode: number | null = null;
    let result: JobOutcome['result'] = null;
    let summary: string | null = null;
    switch (run.ending.kind) {
      case 'timeout':
        reason = `timeout after ${p.timeoutMs / 1000} s (killed)`;
        break;
      case 'cancelled':
        state = 'cancelled';
        reason = 'cancelled by request';
        break;
      case 'oom':
        exitCode = run.ending.exitCode;
        // Docker's OOMKilled flag says the kernel, not Menagerie, killed; it may have been a child.
        reason = `out of memory: the kernel killed a process at the ${formatMiB(p.memoryBytes)} memory limit (exit ${exitCode})`;
        break;
      case 'exited':
        exitCode = run.ending.exitCode;
        if (exitCode !== 0) reason = `exit ${exitCode}`;
        break;
    }
    if (run.ending.kind === 'exited') {
      const r = run.result;
      if (r.kind === 'rejected') {
        state = 'failed';
        reason = reason ? `${reason}; ${r.reason}` : r.reason;
      } else if (r.kind === 'file' || r.kind === 'archive') {
        await blobs.putFile(blobKeys.result(job.id, attempt), r.path);
        result = { kind: r.kind, size: r.size };
        summary = r.kind === 'file' ? await textHead(r.path, this.deps.summaryMaxBytes) : null;
        if (exitCode === 0) state = 'succeeded';
      } else if (run.stdout.totalBytes > run.stdout.keptBytes) {
        reason = reason ?? `result too large (stdout passed ${formatMiB(p.resultMaxBytes)})`;
      } else {
        await blobs.putFile(blobKeys.result(job.id, attempt), run.stdout.path);
        result = { kind: 'stdout', size: run.stdout.keptBytes };
        summary = await textHead(run.stdout.path, this.deps.summaryMaxBytes);
        if (exitCode === 0) state = 'succeeded';
      }
      if (run.summary !== null) summary = run.summary;
      if (summary === null && result?.kind === 'archive')
        summary = `directory archived as .tar.gz (${result.size} bytes)`;
    }
    if (state === 'failed' && run.limitsHit && run.limitsHit.length > 0) {
      reason = [reason ?? 'failed', ...run.limitsHit].join('; ');
    }
    const stdoutHead = await textHeadBytes(run.stdout.path, p.logMaxBytes);
    await this.putBuffer(blobKeys.stdout(job.id, attempt), stdoutHead);
    await this.putBuffer(blobKeys.stderr(job.id, attempt), run.stderr.head);
    const finished = await this.deps.store.finishJob(job.id, {
      state,
      reason,
      exitCode,
      imageDigest: image.digest,
      summary: cleanSummary(summary, this.deps.summaryMaxBytes),
      result,
      usage: run.usage,
      stdoutBytes: run.stdout.totalBytes,
      stderrBytes: run.stderr.totalBytes,
      logsTruncated: run.stdout.totalBytes > p.logMaxBytes || run.stderr.totalBytes > p.logMaxBytes,
      finishedAt: new Date(),
    });
    if (!finished) return undefined;
    this.deps.metrics.jobsFinished.inc({ engine: engine.name, state });
    return this.emit(job.id);
  }

  private async putBuffer(key: string, bytes: Buffer): Promise<void> {
    const upload = await this.deps.blobs.begin();
    upload.stream.end(bytes);
    await upload.commit(key);
  }

  /** Records the job failed; a job given up on after its attempts goes to the dead-letter queue too. */
  private async fail(
    job: Job,
    reason: string,
    delivery: Delivery,
    exitCode: number | null,
    deadLetter = false,
  ): Promise<void> {
    const finished = await this.deps.store.finishJob(job.id, {
      ...endedWithoutRun('failed', reason),
      exitCode,
    });
    if (finished) {
      this.deps.metrics.jobsFinished.inc({ engine: job.engine, state: 'failed' });
      this.emit(job.id);
    }
    if (deadLetter) await delivery.reject(reason);
    else await delivery.ack();
  }

  private async retryOrFail(job: Job, delivery: Delivery, reason: string, log: Logger): Promise<void> {
    if (delivery.attempt >= this.deps.maxAttempts) {
      await this.fail(job, `${reason} (after ${delivery.attempt} attempts)`, delivery, null, true);
      return;
    }
    log.warn({ reason }, 'run failed outside the job; retrying');
    await this.deps.store.requeueJob(job.id);
    this.emit(job.id);
    await delivery.retry(retryDelayMs(delivery.attempt));
  }

  private async putBack(job: Job, delivery: Delivery): Promise<void> {
    await this.deps.store.requeueJob(job.id);
    this.emit(job.id);
    await delivery.retry(0);
  }

  private emit(jobId: string): Promise<Job | undefined> {
    const pending = this.deps.store.getJob(jobId).then((job) => {
      if (job) this.deps.events.emit(job);
      return job;
    });
    return pending;
  }
}

async function textHeadBytes(filePath: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(filePath, 'r').catch(() => undefined);
  if (!handle) return Buffer.alloc(0);
  try {
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
