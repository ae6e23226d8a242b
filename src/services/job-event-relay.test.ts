import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Job } from '../domain/index.js';
import type { JobEventBus } from '../ports/job-event-bus.js';
import { relayJobEvents } from './job-event-relay.js';
import { JobEvents } from './job-events.js';

function job(id: string, state: Job['state'], attempts = 0): Job {
  return {
    id,
    engine: 'e',
    state,
    reason: null,
    exitCode: null,
    imageDigest: null,
    input: { name: 'f', size: 1, sha256: 'a'.repeat(64) },
    summary: null,
    result: null,
    attempts,
    workerId: state === 'queued' ? null : 'w-1',
    usage: { peakMemoryBytes: null, cpuMs: null },
    stdoutBytes: null,
    stderrBytes: null,
    logsTruncated: false,
    createdAt: new Date(1000),
    startedAt: state === 'queued' ? null : new Date(2000),
    finishedAt: state === 'succeeded' ? new Date(3000) : null,
    purgedAt: null,
    owner: null,
  };
}

/** A bus that records what is published and lets the test announce other nodes' changes. */
function fakeBus(): JobEventBus & { published: string[]; announce(id: string): void; listening: boolean } {
  let listener: ((id: string) => void) | null = null;
  return {
    published: [],
    get listening() {
      return listener !== null;
    },
    publish(id) {
      this.published.push(id);
    },
    subscribe(l) {
      listener = l;
      return () => (listener = null);
    },
    announce(id) {
      listener?.(id);
    },
    close: async () => undefined,
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

function setup(receive = true) {
  const events = new JobEvents();
  const bus = fakeBus();
  const rows = new Map<string, Job>();
  let reads = 0;
  const store = {
    getJob: async (id: string) => {
      reads++;
      // Read as of the call, answered a little later.
      const row = rows.get(id);
      await settle();
      return row;
    },
  };
  const seen: string[] = [];
  events.onJob((j) => seen.push(`${j.id}:${j.state}`));
  const stop = relayJobEvents({ events, bus, store, logger: pino({ level: 'silent' }), receive });
  return { events, bus, rows, seen, stop, reads: () => reads };
}

describe('relayJobEvents', () => {
  it('announces the changes made here and emits them here once', () => {
    const { events, bus, seen } = setup();
    events.emit(job('a', 'queued'));
    events.emit(job('a', 'running', 1));
    expect(bus.published).toEqual(['a', 'a']);
    expect(seen).toEqual(['a:queued', 'a:running']);
  });

  it("re-reads another node's change, emits it here and does not announce it again", async () => {
    const { bus, rows, seen } = setup();
    rows.set('b', job('b', 'running', 1));
    bus.announce('b');
    await settle();
    await settle();
    expect(seen).toEqual(['b:running']);
    expect(bus.published).toEqual([]);
  });

  it('skips a state already emitted: its own change coming back, or an announcement repeated', async () => {
    const { events, bus, rows, seen } = setup();
    const queued = job('c', 'queued');
    rows.set('c', queued);
    events.emit(queued);
    bus.announce('c');
    await settle();
    await settle();
    expect(seen).toEqual(['c:queued']);
    rows.set('c', job('c', 'succeeded', 1));
    bus.announce('c');
    await settle();
    await settle();
    bus.announce('c');
    await settle();
    await settle();
    expect(seen).toEqual(['c:queued', 'c:succeeded']);
  });

  it('reads one job at a time: announcements during a read make one more read, never an older state last', async () => {
    const { bus, rows, seen, reads } = setup();
    rows.set('d', job('d', 'running', 1));
    bus.announce('d');
    rows.set('d', job('d', 'succeeded', 1));
    bus.announce('d');
    bus.announce('d');
    for (let i = 0; i < 6; i++) await settle();
    expect(reads()).toBe(2);
    expect(seen).toEqual(['d:running', 'd:succeeded']);
  });

  it('does not listen on a node that serves no live views, and stops when asked', () => {
    const quiet = setup(false);
    expect(quiet.bus.listening).toBe(false);
    const { bus, events, stop } = setup();
    expect(bus.listening).toBe(true);
    stop();
    expect(bus.listening).toBe(false);
    events.emit(job('e', 'queued'));
    expect(bus.published).toEqual([]);
  });
});
