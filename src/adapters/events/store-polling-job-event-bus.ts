import type { Logger } from 'pino';
import type { JobEventBus } from '../../ports/job-event-bus.js';
import type { JobStore } from '../../ports/job-store.js';

export interface StorePollingOptions {
  readonly store: Pick<JobStore, 'listChanges'>;
  readonly logger: Logger;
  /** Time between two looks at the store, ms. Default 1000. */
  readonly intervalMs?: number;
  /**
   * How far behind the newest change seen each look reaches again, ms: a change
   * stamped by a writer whose clock runs behind, or committed a little after it
   * was stamped, is still found. Default 5000.
   */
  readonly overlapMs?: number;
  /** Most changes read per page. Default 500. */
  readonly pageSize?: number;
  /** Most pages read per look before waiting for the next one. Default 10. */
  readonly maxPages?: number;
}

/**
 * No broker (the embedded queue) and other processes writing the shared
 * database: the store's `listChanges` is looked at every second. Publishing is
 * nothing to do, since the store write is the announcement.
 */
export class StorePollingJobEventBus implements JobEventBus {
  private readonly stops = new Set<() => Promise<void>>();

  constructor(private readonly options: StorePollingOptions) {}

  publish(): void {}

  subscribe(listener: (jobId: string) => void): () => void {
    const { store, logger } = this.options;
    const intervalMs = this.options.intervalMs ?? 1000;
    const overlapMs = this.options.overlapMs ?? 5000;
    const pageSize = this.options.pageSize ?? 500;
    const maxPages = this.options.maxPages ?? 10;
    // Changes from before the subscription are of no interest to a live view.
    let from = Date.now() - overlapMs;
    // Each change delivered still inside the window (job id → its time), so the overlap is not delivered twice.
    const delivered = new Map<string, number>();
    let failing = false;

    const look = async (): Promise<void> => {
      for (let page = 0; page < maxPages; page++) {
        const changes = await store.listChanges(new Date(from), pageSize);
        let newest = from;
        for (const change of changes) {
          const at = change.changedAt.getTime();
          newest = Math.max(newest, at);
          if (delivered.get(change.id) === at) continue;
          delivered.set(change.id, at);
          listener(change.id);
        }
        // A full page: read on from its last change (what repeats is skipped above).
        if (changes.length === pageSize) {
          from = newest;
          continue;
        }
        from = Math.max(from, newest - overlapMs);
        break;
      }
      for (const [id, at] of delivered) if (at < from) delivered.delete(id);
    };

    let running: Promise<void> | null = null;
    const timer = setInterval(() => {
      if (running) return;
      running = look()
        .then(() => {
          if (failing) logger.info('job changes are read from the store again');
          failing = false;
        })
        .catch((error: unknown) => {
          // Logged once per outage: the database being away is reported elsewhere too.
          if (!failing) logger.warn({ err: error }, 'could not read job changes from the store; retrying');
          failing = true;
        })
        .finally(() => (running = null));
    }, intervalMs);
    timer.unref();
    const stop = async (): Promise<void> => {
      clearInterval(timer);
      this.stops.delete(stop);
      await running;
    };
    this.stops.add(stop);
    return () => void stop();
  }

  /** Stops every subscription and waits for a look under way, so the store can close after. */
  async close(): Promise<void> {
    await Promise.all([...this.stops].map((stop) => stop()));
  }
}
