import { afterEach, describe, expect, it } from 'vitest';
import { useTestServers } from '../contract/backends.js';
import { submit, type JobJson } from '../helpers/service.js';
import { startCluster, type Cluster } from './cluster.js';

useTestServers('shared');

/** A job as an event delivered it, and when. */
type JobEvent = JobJson & { startedAt: string | null; finishedAt: string | null; receivedAt: number };

/** An open `GET /api/v1/events` stream: the job events it has delivered so far. */
interface EventStream {
  readonly jobs: JobEvent[];
  /** Resolves with the events of `jobId` once one is in `state`. */
  waitForState(jobId: string, state: string, timeoutMs: number): Promise<JobEvent[]>;
  close(): void;
}

async function openEvents(url: string): Promise<EventStream> {
  const abort = new AbortController();
  const response = await fetch(`${url}/api/v1/events`, { signal: abort.signal });
  expect(response.status).toBe(200);
  const jobs: JobEvent[] = [];
  const waiters = new Set<() => void>();
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        if (!lines.includes('event: job')) continue;
        const data = lines.find((l) => l.startsWith('data: '));
        if (data)
          jobs.push({ ...(JSON.parse(data.slice('data: '.length)) as JobEvent), receivedAt: Date.now() });
      }
      for (const wake of waiters) wake();
    }
  })().catch(() => undefined);
  return {
    jobs,
    waitForState: (jobId, state, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const mine = jobs.filter((j) => j.id === jobId);
          if (!mine.some((j) => j.state === state)) return;
          done();
          resolve(mine);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no "${state}" event for job ${jobId} within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () => abort.abort(),
  };
}

describe.each([
  { db: 'postgres', queue: 'rabbitmq' },
  { db: 'mysql', queue: 'embedded' },
] as const)('live events of jobs run on a worker node ($db, $queue)', ({ db, queue }) => {
  let cluster: Cluster | undefined;
  let events: EventStream | undefined;

  afterEach(async () => {
    events?.close();
    events = undefined;
    if (!cluster) return;
    const { leftovers } = await cluster.stop();
    const workerIds = cluster.workerIds;
    cluster = undefined;
    expect(leftovers).toEqual(workerIds.map(() => ({ containers: [], volumes: [] })));
  });

  it('reach the SSE clients of the API node as running, then succeeded', async () => {
    // The engine runs 3 s, so a poll of the store (every 1 s, over MySQL with the embedded
    // queue) lands while the job is running however late it comes: events are hints, and
    // one that arrives after the job ended shows only `succeeded`.
    cluster = await startCluster({ workers: 1, db, queue, script: 'sleep 3; echo done > /var/data/result' });
    const c = cluster;
    try {
      events = await openEvents(c.api.url!);
      const id = await submit(c.api.url!, c.engine, Buffer.from('live'));
      // The worker's `running` has three seconds to arrive before `succeeded`.
      const seen = await events.waitForState(id, 'succeeded', 60_000);
      const states = seen.map((j) => j.state);
      expect(states).toContain('running');
      expect(states.indexOf('running')).toBeLessThan(states.indexOf('succeeded'));
      expect(states.at(-1)).toBe('succeeded');
      // Each state once: the API node's own change (queued) does not come back to it.
      expect(states.filter((s) => s === 'queued').length).toBeLessThanOrEqual(1);
      expect(new Set(states).size).toBe(states.length);
      const final = seen.at(-1)!;
      expect(final.attempts).toBe(1);
      // About a second after the worker node recorded it (same host, same clock).
      expect(final.receivedAt - Date.parse(final.finishedAt!)).toBeLessThan(3000);
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 120_000);
});
