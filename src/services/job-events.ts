import { EventEmitter } from 'node:events';
import type { Job } from '../domain/index.js';

/** Job changes within this process, for live views (server-sent events). */
export class JobEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit(job: Job): void {
    this.emitter.emit('job', job);
  }

  /** Asks the node running a job to stop it. */
  requestCancel(jobId: string): void {
    this.emitter.emit('cancel', jobId);
  }

  onJob(listener: (job: Job) => void): () => void {
    this.emitter.on('job', listener);
    return () => this.emitter.off('job', listener);
  }

  onCancel(listener: (jobId: string) => void): () => void {
    this.emitter.on('cancel', listener);
    return () => this.emitter.off('cancel', listener);
  }
}
