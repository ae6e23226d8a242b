import type { Logger } from 'pino';
import type { JobEventBus } from '../../ports/job-event-bus.js';
import type { JobChange, JobStore } from '../../ports/job-store.js';

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
  /**
   * Most pages read per look; the next look goes on where this one stopped.
   * Default 10.
   */
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
    // The newest change time read so far; each look starts `overlapMs` before it.
    // Changes from before the subscription are of no interest to a live view.
    let newest = Date.now();
    // Where a look that stopped at `maxPages` left off: the next look goes on from there.
    let resumeAfter: JobChange | undefined;
    // Each change delivered still inside the window (job id → its time), so the overlap is not delivered twice.
    const delivered = new Map<string, number>();
    let failing = false;

    const look = async (): Promise<void> => {
      // The window and the paging cursor are kept apart: pages go on by (changed_at, id),
      // which passes any number of changes sharing one time, while every complete look
      // starts again `overlapMs` back, however many pages the last one read, so a change
      // committed late or stamped by a clock behind is still found.
      const since = new Date(newest - overlapMs);
      let after = resumeAfter;
      resumeAfter = undefined;
      for (let page = 0; ; page++) {
        if (page === maxPages) {
          resumeAfter = after;
          break;
        }
        const changes = await store.listChanges(since, pageSize, after);
        for (const change of changes) {
          const at = change.changedAt.getTime();
          newest = Math.max(newest, at);
          if (delivered.get(change.id) === at) continue;
          delivered.set(change.id, at);
          listener(change.id);
        }
        if (changes.length < pageSize) break;
        after = changes.at(-1);
      }
      const windowStart = newest - overlapMs;
      for (const [id, at] of delivered) if (at < windowStart) delivered.delete(id);
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
