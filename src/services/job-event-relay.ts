import type { Logger } from 'pino';
import type { Job } from '../domain/index.js';
import type { JobEventBus } from '../ports/job-event-bus.js';
import type { JobStore } from '../ports/job-store.js';
import type { JobEvents } from './job-events.js';

/** Jobs whose last emitted state is remembered to skip repeats; the oldest are forgotten first. */
const rememberedJobs = 2000;

/** What a live view shows changing; the same again is not emitted twice. */
function fingerprint(job: Job): string {
  return [
    job.state,
    job.attempts,
    job.workerId,
    job.startedAt?.getTime(),
    job.finishedAt?.getTime(),
    job.purgedAt?.getTime(),
  ].join('|');
}

/**
 * Joins this process's JobEvents to the other nodes': announces every change
 * made here on the bus and, when `receive` (a node serving live views), re-reads
 * each job another node announces and emits it here. A job already emitted in
 * the state read (its own change coming back, an announcement repeated) is
 * skipped. @returns stops relaying
 */
export function relayJobEvents(deps: {
  events: JobEvents;
  bus: JobEventBus;
  store: Pick<JobStore, 'getJob'>;
  logger: Logger;
  receive: boolean;
}): () => void {
  const { events, bus, store, logger } = deps;
  const emitted = new Map<string, string>();
  /** Jobs being re-read → whether another announcement came meanwhile. */
  const reading = new Map<string, boolean>();

  /** @returns false when the job was last emitted in this very state. */
  const remember = (job: Job): boolean => {
    const print = fingerprint(job);
    if (emitted.get(job.id) === print) return false;
    emitted.delete(job.id);
    emitted.set(job.id, print);
    if (emitted.size > rememberedJobs) emitted.delete(emitted.keys().next().value as string);
    return true;
  };

  // Announcements of one job are read one after another, so a slow read never
  // emits an older state after a newer one; those arriving meanwhile make one more read.
  const reread = async (jobId: string): Promise<void> => {
    if (reading.has(jobId)) {
      reading.set(jobId, true);
      return;
    }
    try {
      do {
        reading.set(jobId, false);
        const job = await store.getJob(jobId);
        if (job && remember(job)) events.emitFromPeer(job);
      } while (reading.get(jobId));
    } catch (error) {
      logger.warn(
        { err: error, jobId },
        'could not read a job another node changed; live views see it later',
      );
    } finally {
      reading.delete(jobId);
    }
  };

  const stopLocal = events.onLocalJob((job) => {
    remember(job);
    bus.publish(job.id);
  });
  const stopRemote = deps.receive ? bus.subscribe((jobId) => void reread(jobId)) : () => undefined;
  return () => {
    stopLocal();
    stopRemote();
  };
}
