import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import {
  MenagerieError,
  endedWithoutRun,
  isFinalState,
  isJobId,
  newJobId,
  listOwnerFilter,
  mayRead,
  maySubmitTo,
  ownerOf,
  hasScope,
  type Job,
  type Principal,
} from '../domain/index.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { JobFilter, JobPage, JobStore, NewJob } from '../ports/job-store.js';
import type { EngineRegistry } from './engine-registry.js';
import type { JobEvents } from './job-events.js';
import type { Metrics } from './metrics.js';
import { blobKeys } from './blob-keys.js';

/** An upload written to the blob store but not yet visible: commit or abort it. */
export interface StagedInput {
  readonly sha256: string;
  readonly size: number;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface JobServiceDeps {
  readonly store: JobStore;
  readonly queue: JobQueue;
  readonly blobs: BlobStore;
  readonly engines: EngineRegistry;
  readonly events: JobEvents;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f]/g;

/** A file name is metadata only: the last path component, without control characters, at most 255 characters. */
export function cleanFileName(name: string | undefined): string {
  const base = (name ?? '').split(/[/\\]/).pop() ?? '';
  const clean = base.replace(controlCharacters, '').trim().slice(0, 255);
  return clean === '' || clean === '.' || clean === '..' ? 'upload' : clean;
}

function tooLarge(limitBytes: number, engines?: string): MenagerieError {
  return new MenagerieError(
    'UPLOAD_TOO_LARGE',
    `the upload exceeds ${limitBytes} bytes, the size limit${engines ? ` of engine ${engines}` : ''}; send a smaller file or raise "sizelimit" in engines.json`,
  );
}

/** Use cases around jobs: accepting uploads, reading jobs and results, cancelling. */
export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  /**
   * Streams an upload into the blob store while hashing it; past `limitBytes`
   * it stops at once with UPLOAD_TOO_LARGE and keeps nothing.
   */
  async stageInput(source: Readable, limitBytes: number, limitOwner?: string): Promise<StagedInput> {
    const upload = await this.deps.blobs.begin();
    // A source dropped while the blob store got ready would never end the pipeline below.
    if (source.destroyed) {
      await upload.abort();
      throw new MenagerieError(
        'MALFORMED_MULTIPART',
        'the upload ended before the file did; resend it whole',
      );
    }
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (size > limitBytes) return callback(tooLarge(limitBytes, limitOwner));
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, upload.stream);
    } catch (error) {
      await upload.abort();
      throw error;
    }
    const sha256 = hash.digest('hex');
    let settled = false;
    return {
      sha256,
      size,
      commit: async () => {
        settled = true;
        await upload.commit(blobKeys.input(sha256));
      },
      abort: async () => {
        if (settled) return;
        settled = true;
        await upload.abort();
      },
    };
  }

  /**
   * Creates one job per engine for a staged input and queues them.
   * @throws UPLOAD_TOO_LARGE (the staged input is discarded), ENGINE_NOT_FOUND
   */
  async submit(
    engineNames: readonly string[],
    staged: StagedInput,
    fileName: string | undefined,
    options: { callbackUrl?: string; principal: Principal },
  ): Promise<Job[]> {
    const { principal } = options;
    let engines;
    try {
      engines = [...new Set(engineNames)].map((name) => this.deps.engines.get(name));
      for (const engine of engines) {
        if (!maySubmitTo(principal, engine.name))
          throw new MenagerieError(
            'FORBIDDEN',
            `token ${principal.name} may not submit to engine ${engine.name}${principal.engines ? `; it may submit to ${principal.engines.join(', ')}` : ''}`,
          );
      }
    } catch (error) {
      await staged.abort();
      throw error;
    }
    if (engines.length === 0) {
      await staged.abort();
      throw new MenagerieError('ENGINE_MISSING', 'name at least one engine (form field "engine")');
    }
    for (const engine of engines) {
      if (staged.size > engine.sizeLimitBytes) {
        await staged.abort();
        throw tooLarge(engine.sizeLimitBytes, engine.name);
      }
    }
    await staged.commit();
    const createdAt = new Date();
    const input = { name: cleanFileName(fileName), size: staged.size, sha256: staged.sha256 };
    const jobs: NewJob[] = engines.map((engine) => ({
      id: newJobId(),
      engine: engine.name,
      input,
      ...(options.callbackUrl ? { callbackUrl: options.callbackUrl } : {}),
      owner: ownerOf(principal),
      createdAt,
    }));
    await this.deps.store.insertJobs(jobs);
    try {
      await this.deps.queue.publish(jobs.map((j) => ({ jobId: j.id, engine: j.engine })));
      await this.deps.store.markEnqueued(jobs.map((j) => j.id));
    } catch (error) {
      // The jobs are stored; the outbox sweep publishes them once the queue answers again.
      this.deps.logger.warn(
        { err: error, jobs: jobs.map((j) => j.id) },
        'queue publish failed; left to the outbox sweep',
      );
    }
    this.deps.metrics.uploadBytes.inc(staged.size);
    const stored: Job[] = [];
    for (const job of jobs) {
      this.deps.metrics.jobsSubmitted.inc({ engine: job.engine });
      const row = await this.deps.store.getJob(job.id);
      if (row) {
        stored.push(row);
        this.deps.events.emit(row);
      }
    }
    return stored;
  }

  /**
   * A job the principal may read: another owner's job is JOB_NOT_FOUND, the
   * same answer as a job that does not exist. @throws INVALID_JOB_ID, JOB_NOT_FOUND
   */
  async getJob(id: string, principal: Principal): Promise<Job> {
    if (!isJobId(id)) {
      throw new MenagerieError(
        'INVALID_JOB_ID',
        `${JSON.stringify(id.slice(0, 64))} is not a job id; ids are 22 characters of A-Z, a-z, 0-9, "-" and "_"`,
      );
    }
    const job = await this.deps.store.getJob(id);
    if (!job || !mayRead(principal, job.owner))
      throw new MenagerieError('JOB_NOT_FOUND', `no job has id ${id}`);
    return job;
  }

  /** Jobs the principal may read: its own, or every job with read-all. */
  listJobs(filter: JobFilter, cursor: string | null, limit: number, principal: Principal): Promise<JobPage> {
    const owner = listOwnerFilter(principal);
    return this.deps.store.listJobs(owner === undefined ? filter : { ...filter, owner }, cursor, limit);
  }

  /** The result's bytes. @throws RESULT_NOT_READY, RESULT_NOT_AVAILABLE */
  async openResult(id: string, principal: Principal): Promise<{ job: Job; stream: Readable; size: number }> {
    const job = await this.getJob(id, principal);
    if (!isFinalState(job.state)) {
      throw new MenagerieError(
        'RESULT_NOT_READY',
        `job ${id} is ${job.state}; ask again when it has finished`,
      );
    }
    this.refusePurged(job);
    const key = blobKeys.result(job.id, job.attempts);
    const info = job.result ? await this.deps.blobs.stat(key) : undefined;
    if (!job.result || !info) {
      throw new MenagerieError(
        'RESULT_NOT_AVAILABLE',
        `job ${id} ${job.state === 'succeeded' ? 'has no result' : `${job.state}${job.reason ? ` (${job.reason})` : ''} and has no result`}`,
      );
    }
    return { job, stream: await this.deps.blobs.open(key), size: info.size };
  }

  /** The capped stdout and stderr of the job's last run. */
  async readLogs(id: string, principal: Principal): Promise<{ job: Job; stdout: Buffer; stderr: Buffer }> {
    const job = await this.getJob(id, principal);
    this.refusePurged(job);
    const read = async (key: string): Promise<Buffer> => {
      if (!(await this.deps.blobs.stat(key))) return Buffer.alloc(0);
      const chunks: Buffer[] = [];
      for await (const chunk of await this.deps.blobs.open(key)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    const [stdout, stderr] = await Promise.all([
      read(blobKeys.stdout(job.id, job.attempts)),
      read(blobKeys.stderr(job.id, job.attempts)),
    ]);
    return { job, stdout, stderr };
  }

  private refusePurged(job: Job): void {
    if (job.purgedAt) {
      throw new MenagerieError(
        'RESULT_PURGED',
        `job ${job.id}'s input, result and logs were deleted by retention at ${job.purgedAt.toISOString()}; submit the file again to rerun it`,
      );
    }
  }

  /**
   * Cancels a live job: it is final at once; a running container is stopped by its worker.
   * The owner may cancel its jobs; another's (visible with read-all) needs admin.
   * @throws JOB_ALREADY_FINISHED, FORBIDDEN
   */
  async cancel(id: string, principal: Principal): Promise<Job> {
    const job = await this.getJob(id, principal);
    const own = job.owner === ownerOf(principal);
    if (!hasScope(principal, 'admin') && !(own && hasScope(principal, 'submit')))
      throw new MenagerieError(
        'FORBIDDEN',
        own
          ? `token ${principal.name} may not cancel: it needs scope submit`
          : `job ${id} belongs to another token; cancelling it needs scope admin`,
      );
    const changed = await this.deps.store.finishJob(id, {
      ...endedWithoutRun('cancelled', 'cancelled by request'),
      imageDigest: job.imageDigest,
    });
    if (!changed) {
      throw new MenagerieError(
        'JOB_ALREADY_FINISHED',
        `job ${id} has already finished (${job.state}); nothing to cancel`,
      );
    }
    this.deps.events.requestCancel(id);
    const cancelled = await this.getJob(id, principal);
    this.deps.metrics.jobsFinished.inc({ engine: cancelled.engine, state: 'cancelled' });
    this.deps.events.emit(cancelled);
    return cancelled;
  }
}
