/**
 * Carries job changes between the processes of a deployment, so the live views
 * (server-sent events) of every API node see the changes made on every node.
 * It carries only job ids: the receiver re-reads the job, the store is the truth.
 * Best effort: a change lost here (broker away) shows at the viewer's next read.
 */
export interface JobEventBus {
  /** Announces that this process changed the job. Never throws and never waits. */
  publish(jobId: string): void;
  /**
   * Calls `listener` with the id of each job another process changed, about
   * as soon as it changed. @returns stops listening
   */
  subscribe(listener: (jobId: string) => void): () => void;
  close(): Promise<void>;
}
