import type { Logger } from 'pino';
import type { JobQueue, Subscription } from '../ports/job-queue.js';
import type { EngineRegistry } from '../services/engine-registry.js';
import type { JobRunner } from '../services/run-job.js';

/** Extra lease time past an engine's timeout, for setup, result copy and cleanup, ms. */
const leaseMarginMs = 120_000;

/** Per engine, `workers` concurrent jobs taken from the queue and run. */
export class WorkerPool {
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly deps: {
      queue: JobQueue;
      runner: JobRunner;
      engines: EngineRegistry;
      workerId: string;
      logger: Logger;
    },
  ) {}

  start(): void {
    for (const engine of this.deps.engines.list()) {
      this.subscriptions.push(
        this.deps.queue.subscribe(
          engine.name,
          {
            concurrency: engine.workers,
            leaseMs: engine.policy.timeoutMs + leaseMarginMs,
            consumerId: this.deps.workerId,
          },
          (delivery) => this.deps.runner.handle(delivery),
        ),
      );
    }
  }

  /**
   * Stops taking jobs; waits up to `graceMs` for jobs under way, then stops
   * their containers and puts them back on the queue.
   */
  async stop(graceMs: number): Promise<void> {
    const closing = Promise.all(this.subscriptions.splice(0).map((s) => s.close()));
    const timer = setTimeout(() => {
      if (this.deps.runner.busy > 0) {
        this.deps.logger.info(
          { busy: this.deps.runner.busy },
          'stopping jobs under way; they will run again',
        );
      }
      this.deps.runner.abortAll();
    }, graceMs);
    await closing;
    clearTimeout(timer);
  }
}
