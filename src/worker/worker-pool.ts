import type { Logger } from 'pino';
import type { JobQueue, Subscription } from '../ports/job-queue.js';
import type { JobStore } from '../ports/job-store.js';
import type { EngineRegistry } from '../services/engine-registry.js';
import type { JobEvents } from '../services/job-events.js';
import type { JobRunner } from '../services/run-job.js';

/** Extra lease time past an engine's timeout, for setup, result copy and cleanup, ms. */
const leaseMarginMs = 120_000;

interface EngineSubscription {
  /** What the subscription was made for; a change means a new subscription. */
  readonly key: string;
  readonly subscription: Subscription;
}

/** How often a worker looks for cancels, recorded by an API node in another process, of the jobs it runs, ms. */
const cancelPollMs = 2000;

/** Per engine, `workers` concurrent jobs taken from the queue and run. */
export class WorkerPool {
  private readonly subscriptions = new Map<string, EngineSubscription>();
  /** Subscriptions closing after a reload: their jobs under way finish first. */
  private readonly draining = new Set<Promise<void>>();
  /** Jobs under way here, watched for cancels made elsewhere. */
  private readonly active = new Set<string>();
  private cancelTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: {
      queue: JobQueue;
      runner: JobRunner;
      engines: EngineRegistry;
      workerId: string;
      logger: Logger;
      /** With both, a cancel recorded by another process stops the run here. */
      store?: JobStore;
      events?: JobEvents;
    },
  ) {}

  start(): void {
    const { store, events } = this.deps;
    if (store && events) {
      // A cancel on another node is only a row in the database: stop the run
      // through the in-process signal the runner listens to.
      this.cancelTimer = setInterval(() => {
        void (async () => {
          for (const jobId of [...this.active]) {
            const job = await store.getJob(jobId).catch(() => undefined);
            if (job?.state === 'cancelled') events.requestCancel(jobId);
          }
        })();
      }, cancelPollMs);
      this.cancelTimer.unref();
    }
    this.reconcile();
  }

  /**
   * Brings the subscriptions in line with the engines in force (after a reload):
   * new engines start taking jobs, removed ones stop taking jobs while their jobs
   * under way finish, changed ones (workers, timeout) are subscribed anew.
   */
  reconcile(): void {
    const wanted = new Map(this.deps.engines.list().map((e) => [e.name, e]));
    for (const [name, current] of this.subscriptions) {
      const engine = wanted.get(name);
      if (engine && current.key === subscriptionKey(engine.workers, engine.policy.timeoutMs)) continue;
      this.subscriptions.delete(name);
      const closing = current.subscription.close().finally(() => this.draining.delete(closing));
      this.draining.add(closing);
    }
    for (const engine of wanted.values()) {
      if (this.subscriptions.has(engine.name)) continue;
      this.subscriptions.set(engine.name, {
        key: subscriptionKey(engine.workers, engine.policy.timeoutMs),
        subscription: this.deps.queue.subscribe(
          engine.name,
          {
            concurrency: engine.workers,
            leaseMs: engine.policy.timeoutMs + leaseMarginMs,
            consumerId: this.deps.workerId,
          },
          async (delivery) => {
            this.active.add(delivery.jobId);
            try {
              await this.deps.runner.handle(delivery);
            } finally {
              this.active.delete(delivery.jobId);
            }
          },
        ),
      });
    }
  }

  /**
   * Stops taking jobs; waits up to `graceMs` for jobs under way, then stops
   * their containers and puts them back on the queue.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.cancelTimer) clearInterval(this.cancelTimer);
    const closing = Promise.all([
      ...[...this.subscriptions.values()].map((s) => s.subscription.close()),
      ...this.draining,
    ]);
    this.subscriptions.clear();
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

function subscriptionKey(workers: number, timeoutMs: number): string {
  return `${workers}/${timeoutMs}`;
}
