import type { Logger } from 'pino';
import type { ContainerRuntime } from '../ports/container-runtime.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { JobStore } from '../ports/job-store.js';

/**
 * Undoes what a crash of this worker node left: its containers, volumes and
 * job filesystems are removed, its running jobs go back to the queue, and its
 * leases are released so they are delivered again at once.
 */
export async function recoverWorker(deps: {
  store: JobStore;
  queue: JobQueue;
  runtime: ContainerRuntime;
  workerId: string;
  logger: Logger;
}): Promise<void> {
  const removed = await deps.runtime.removeLeftovers(deps.workerId);
  const running = await deps.store.listRunningByWorker(deps.workerId);
  for (const job of running) await deps.store.requeueJob(job.id);
  const released = await deps.queue.releaseConsumer(deps.workerId);
  if (removed.containers + removed.volumes + running.length + released > 0) {
    deps.logger.info(
      { ...removed, requeued: running.map((j) => j.id), released },
      'recovered what the previous run of this worker left behind',
    );
  }
}

/**
 * Publishes jobs whose queue message was never confirmed (a crash or a queue
 * outage between storing the job and publishing it): the jobs table is the outbox.
 */
export async function sweepOutbox(deps: {
  store: JobStore;
  queue: JobQueue;
  logger: Logger;
  olderThanMs: number;
}): Promise<number> {
  const jobs = await deps.store.listUnenqueued(new Date(Date.now() - deps.olderThanMs), 500);
  if (jobs.length === 0) return 0;
  await deps.queue.publish(jobs.map((j) => ({ jobId: j.id, engine: j.engine })));
  await deps.store.markEnqueued(jobs.map((j) => j.id));
  deps.logger.info({ count: jobs.length }, 'published jobs left in the outbox');
  return jobs.length;
}
