import { EventEmitter } from 'node:events';
import type { Job } from '../domain/index.js';

/**
 * Job changes within this process, for live views (server-sent events). The
 * relay (job-event-relay.ts) announces this process's changes to the other
 * nodes and brings theirs in through `emitFromPeer`.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** A change made in this process: to the listeners, and announced to other nodes. */
  emit(job: Job): void {
    this.emitter.emit('job', job);
    this.emitter.emit('local', job);
  }

  /** A change another node made, as re-read from the store: to the listeners only. */
  emitFromPeer(job: Job): void {
    this.emitter.emit('job', job);
  }

  /** Asks the node running a job to stop it. */
  requestCancel(jobId: string): void {
    this.emitter.emit('cancel', jobId);
  }

  /** Every change this process sees: its own and other nodes'. */
  onJob(listener: (job: Job) => void): () => void {
    this.emitter.on('job', listener);
    return () => this.emitter.off('job', listener);
  }

  /** Only the changes made in this process. */
  onLocalJob(listener: (job: Job) => void): () => void {
    this.emitter.on('local', listener);
    return () => this.emitter.off('local', listener);
  }

  onCancel(listener: (jobId: string) => void): () => void {
    this.emitter.on('cancel', listener);
    return () => this.emitter.off('cancel', listener);
  }
}
