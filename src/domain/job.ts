import { randomBytes } from 'node:crypto';

/** Where a job is in its life. `queued` and `running` are live; the rest are final. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const finalStates: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];
export const jobStates: readonly JobState[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

export function isFinalState(state: JobState): boolean {
  return finalStates.includes(state);
}

/** How the result was made: a single file, a directory archived as .tar.gz, or the engine's stdout. */
export type ResultKind = 'file' | 'archive' | 'stdout';

export interface JobInput {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
}

export interface JobResultInfo {
  readonly kind: ResultKind;
  readonly size: number;
}

/** Resource use measured for one run. */
export interface JobUsage {
  readonly peakMemoryBytes: number | null;
  readonly cpuMs: number | null;
}

export interface Job {
  readonly id: string;
  readonly engine: string;
  readonly state: JobState;
  /** Why the job ended as it did, in words (`exit 3`, `timeout after 240 s` …); null while live or on plain success. */
  readonly reason: string | null;
  readonly exitCode: number | null;
  readonly imageDigest: string | null;
  readonly input: JobInput;
  readonly summary: string | null;
  readonly result: JobResultInfo | null;
  readonly attempts: number;
  readonly workerId: string | null;
  readonly usage: JobUsage;
  readonly stdoutBytes: number | null;
  readonly stderrBytes: number | null;
  readonly logsTruncated: boolean;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** When retention deleted the job's input, result and logs; null while they are kept. */
  readonly purgedAt: Date | null;
  /** Name of the token that submitted the job; null when submitted without one. */
  readonly owner: string | null;
}

/** What a worker records when a job reaches its final state. */
export interface JobOutcome {
  readonly state: 'succeeded' | 'failed' | 'cancelled';
  readonly reason: string | null;
  readonly exitCode: number | null;
  readonly imageDigest: string | null;
  readonly summary: string | null;
  readonly result: JobResultInfo | null;
  readonly usage: JobUsage;
  readonly stdoutBytes: number | null;
  readonly stderrBytes: number | null;
  readonly logsTruncated: boolean;
  readonly finishedAt: Date;
}

/** The outcome of a job that ended without running to a result (cancelled, or failed before or outside its run). */
export function endedWithoutRun(state: 'failed' | 'cancelled', reason: string): JobOutcome {
  return {
    state,
    reason,
    exitCode: null,
    imageDigest: null,
    summary: null,
    result: null,
    usage: { peakMemoryBytes: null, cpuMs: null },
    stdoutBytes: null,
    stderrBytes: null,
    logsTruncated: false,
    finishedAt: new Date(),
  };
}

const jobIdPattern = /^[A-Za-z0-9_-]{22}$/;

/**
 * A new opaque, unguessable job id: 128 random bits, base64url. One that would
 * begin with '-' or '_' is drawn again, so that no id reads as a command-line option.
 */
export function newJobId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

export function isJobId(value: string): boolean {
  return jobIdPattern.test(value);
}

/** The state as the 2016 API reports it: a queued job reads `Running`, as it did then. */
export function compatibleStatus(state: JobState): 'Running' | 'Success' | 'Failed' {
  switch (state) {
    case 'queued':
    case 'running':
      return 'Running';
    case 'succeeded':
      return 'Success';
    case 'failed':
    case 'cancelled':
      return 'Failed';
  }
}
