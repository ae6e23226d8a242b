import type { Job, JobInput, JobOutcome, JobState } from '../domain/index.js';

export interface NewJob {
  readonly id: string;
  readonly engine: string;
  readonly input: JobInput;
  readonly createdAt: Date;
  /** Where to announce the final state (an allowlisted URL), if the submitter asked. */
  readonly callbackUrl?: string;
  /** Name of the submitting token; null or absent without one. */
  readonly owner?: string | null;
}

export interface JobFilter {
  readonly engine?: string;
  readonly state?: JobState;
  readonly sha256?: string;
  /** Only jobs of this owner (a caller without read-all sees only its own). */
  readonly owner?: string;
}

export interface JobPage {
  readonly jobs: Job[];
  /** Opaque cursor for the next (older) page; null on the last page. */
  readonly nextCursor: string | null;
}

/** Which finished jobs retention may delete. */
export interface PurgeFilter {
  readonly engine?: string;
  /** Engines with a retention of their own, left to their own pass. */
  readonly excludeEngines?: readonly string[];
  /** Only jobs that finished before this; none: any finished job (oldest first). */
  readonly finishedBefore?: Date;
}

/** When a job last changed, as `listChanges` reports it. */
export interface JobChange {
  readonly id: string;
  /** By the clock of the node that wrote the change. */
  readonly changedAt: Date;
}

/** Counts used by readiness, metrics and the engines view. */
export interface EngineStats {
  readonly engine: string;
  readonly queued: number;
  readonly running: number;
}

/** Durable record of jobs. Every method is safe to call from several processes. */
export interface JobStore {
  /** Creates or upgrades the schema. */
  migrate(): Promise<void>;
  insertJobs(jobs: readonly NewJob[]): Promise<void>;
  getJob(id: string): Promise<Job | undefined>;
  /** Newest first. */
  listJobs(filter: JobFilter, cursor: string | null, limit: number): Promise<JobPage>;
  /** Records that the jobs' queue messages were published (the outbox mark). */
  markEnqueued(ids: readonly string[]): Promise<void>;
  /** Queued jobs whose publish was never confirmed, older than `olderThan`. */
  listUnenqueued(olderThan: Date, limit: number): Promise<Job[]>;
  /**
   * Moves a live job to `running` for an attempt by a worker.
   * @returns false when the job is already final (nothing to do).
   */
  markRunning(id: string, workerId: string, attempt: number, startedAt: Date): Promise<boolean>;
  /**
   * Records the final state once. @returns false when the job was already
   * final, so a redelivered job is never recorded twice.
   */
  finishJob(id: string, outcome: JobOutcome): Promise<boolean>;
  /** Puts a running job back to queued (its worker was lost). */
  requeueJob(id: string): Promise<void>;
  /** Jobs left `running` by the given worker. */
  listRunningByWorker(workerId: string): Promise<Job[]>;
  /**
   * Jobs whose latest change (inserted, running, final, requeued, purged) was
   * at or after `since`, in (changedAt, id) order, at most `limit`. Lets a node
   * that shares the database but no broker see the changes other processes make.
   * @param after the last change of the page before: only changes after it in
   *   (changedAt, id) order, so pages go on even where many share one time.
   */
  listChanges(since: Date, limit: number, after?: JobChange): Promise<JobChange[]>;
  engineStats(): Promise<EngineStats[]>;
  /** Finished jobs whose files are still kept, oldest finished first. */
  listPurgeable(filter: PurgeFilter, limit: number): Promise<Job[]>;
  /** Records that retention deleted a job's files. @returns false when already recorded. */
  markPurged(id: string, at: Date): Promise<boolean>;
  /** Jobs still keeping their files that share this input. */
  countKeptInputs(sha256: string): Promise<number>;
  /** Cheap round trip for readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
