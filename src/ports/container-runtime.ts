import type { EngineSpec } from '../domain/index.js';

/** What a worker asks the runtime to run. */
export interface RunRequest {
  readonly jobId: string;
  readonly attempt: number;
  readonly workerId: string;
  readonly engine: EngineSpec;
  /** The image to run, resolved to an id so the digest recorded is the one that ran. */
  readonly image: ResolvedImage;
  /** A local file holding the input. */
  readonly inputPath: string;
  /** A directory this run may write the collected result into. */
  readonly scratchDir: string;
  /** Most bytes of the summary file kept. */
  readonly summaryMaxBytes: number;
  /** Aborting cancels the run: the container is killed. */
  readonly signal: AbortSignal;
  /** Called once the container exists. */
  onContainer?(containerId: string): void;
}

/** How the container ended, and who ended it. */
export type RunEnding =
  | { readonly kind: 'exited'; readonly exitCode: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'oom'; readonly exitCode: number }
  | { readonly kind: 'cancelled' };

/** The result taken out of the job volume, already made safe. */
export type CollectedResult =
  | { readonly kind: 'file' | 'archive'; readonly path: string; readonly size: number }
  | { readonly kind: 'none' }
  | { readonly kind: 'rejected'; readonly reason: string };

/** stdout, kept in a file up to the engine's result cap (it is the result when the engine writes none). */
export interface CapturedStdout {
  readonly path: string;
  readonly keptBytes: number;
  /** Every byte written, counted. */
  readonly totalBytes: number;
}

/** stderr, kept in memory up to the engine's log cap. */
export interface CapturedStderr {
  readonly head: Buffer;
  readonly totalBytes: number;
}

export interface RunOutcome {
  readonly containerId: string;
  readonly ending: RunEnding;
  readonly stdout: CapturedStdout;
  readonly stderr: CapturedStderr;
  readonly result: CollectedResult;
  /** The text of `<mountpoint>/summary`, when the engine wrote one. */
  readonly summary: string | null;
  /** Limits the kernel enforced on the run, in words ("the process limit (64) was reached"); may be absent. */
  readonly limitsHit?: readonly string[];
  /** From container start to exit. */
  readonly runMs: number;
  /** Peak memory and CPU time as last sampled while the container ran; null when not measured. */
  readonly usage: { readonly peakMemoryBytes: number | null; readonly cpuMs: number | null };
  /** From the request to the container running. */
  readonly startMs: number;
  /** Removes the container, its volume and its filesystem; call once the outcome is recorded. */
  release(): Promise<void>;
}

export interface ResolvedImage {
  /** Content id (`sha256:…`), used to create the container. */
  readonly id: string;
  /** Registry digest (`repo@sha256:…`) when the image came from a registry, else the id. */
  readonly digest: string;
}

/** Runs engines in containers. */
export interface ContainerRuntime {
  /** How input and result cross: through a mounted filesystem, or archive copies. */
  readonly jobIo: 'volume' | 'archive';
  /** Resolves an image present on the engine; pulls it when `pull` and it is missing. */
  resolveImage(image: string, options: { pull: boolean }): Promise<ResolvedImage | undefined>;
  run(request: RunRequest): Promise<RunOutcome>;
  /** Removes containers, volumes and job filesystems a previous run of this worker left behind. */
  removeLeftovers(workerId: string): Promise<{ containers: number; volumes: number }>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
