import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JobChange } from '../../ports/job-store.js';
import { StorePollingJobEventBus } from './store-polling-job-event-bus.js';

/** The store's answer to `listChanges`, over a list the test writes. */
function fakeStore() {
  const latest = new Map<string, number>();
  const calls: number[] = [];
  return {
    calls,
    change(id: string, at = Date.now()): void {
      latest.set(id, at);
    },
    listChanges: async (since: Date, limit: number, after?: JobChange): Promise<JobChange[]> => {
      calls.push(since.getTime());
      const cursor = after && ([after.id, after.changedAt.getTime()] as const);
      const order = (a: readonly [string, number], b: readonly [string, number]): number =>
        a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
      return [...latest]
        .filter(([, at]) => at >= since.getTime())
        .filter((change) => !cursor || order(change, cursor) > 0)
        .sort(order)
        .slice(0, limit)
        .map(([id, at]) => ({ id, changedAt: new Date(at) }));
    },
  };
}

describe('StorePollingJobEventBus', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers each change once, about a second after it, and each later change of a job again', async () => {
    const store = fakeStore();
    const bus = new StorePollingJobEventBus({ store, logger: pino({ level: 'silent' }) });
    const got: string[] = [];
    const stop = bus.subscribe((id) => got.push(id));
    store.change('a');
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(['a']);
    // Still inside the look-back window: read again, not delivered again.
    await vi.advanceTimersByTimeAsync(3000);
    expect(got).toEqual(['a']);
    store.change('a');
    store.change('b');
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(['a', 'a', 'b']);
    stop();
    store.change('c');
    await vi.advanceTimersByTimeAsync(2000);
    expect(got).toEqual(['a', 'a', 'b']);
  });

  it('finds a change stamped a little in the past (a clock behind, a late commit)', async () => {
    const store = fakeStore();
    const bus = new StorePollingJobEventBus({ store, logger: pino({ level: 'silent' }) });
    const got: string[] = [];
    bus.subscribe((id) => got.push(id));
    store.change('a');
    await vi.advanceTimersByTimeAsync(3000);
    store.change('late', Date.now() - 2500);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(['a', 'late']);
    await bus.close();
  });

  it('reads on page after page when many jobs changed, and looks no further back than the window', async () => {
    const store = fakeStore();
    const bus = new StorePollingJobEventBus({ store, logger: pino({ level: 'silent' }), pageSize: 3 });
    const got: string[] = [];
    bus.subscribe((id) => got.push(id));
    const ids = Array.from({ length: 8 }, (_, i) => `j${i}`);
    for (const [i, id] of ids.entries()) store.change(id, Date.now() + i);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(ids);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(got).toEqual(ids);
    expect(Math.min(...store.calls.slice(-3))).toBeGreaterThanOrEqual(1_000_000 + 7 - 5000);
    await bus.close();
  });

  it('reads on past more changes sharing one time than a page holds', async () => {
    const store = fakeStore();
    const bus = new StorePollingJobEventBus({ store, logger: pino({ level: 'silent' }), pageSize: 2 });
    const got: string[] = [];
    bus.subscribe((id) => got.push(id));
    const ids = Array.from({ length: 5 }, (_, i) => `j${i}`);
    const at = Date.now();
    for (const id of ids) store.change(id, at);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(ids);
    store.change('next', at + 1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual([...ids, 'next']);
    await bus.close();
  });

  it('finds a change stamped inside the window after a look that read full pages', async () => {
    const store = fakeStore();
    const bus = new StorePollingJobEventBus({ store, logger: pino({ level: 'silent' }), pageSize: 3 });
    const got: string[] = [];
    bus.subscribe((id) => got.push(id));
    const ids = Array.from({ length: 7 }, (_, i) => `j${i}`);
    for (const [i, id] of ids.entries()) store.change(id, Date.now() + i);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(ids);
    // Committed late (or stamped by a clock behind): older than everything read so far.
    store.change('late', Date.now() - 2500);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual([...ids, 'late']);
    await bus.close();
  });

  it('goes on where a look stopped at its most pages', async () => {
    const store = fakeStore();
    const bus = new StorePollingJobEventBus({
      store,
      logger: pino({ level: 'silent' }),
      pageSize: 2,
      maxPages: 2,
    });
    const got: string[] = [];
    bus.subscribe((id) => got.push(id));
    const ids = Array.from({ length: 9 }, (_, i) => `j${i}`);
    for (const id of ids) store.change(id, Date.now());
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(ids.slice(0, 4));
    await vi.advanceTimersByTimeAsync(2000);
    expect(got).toEqual(ids);
    await vi.advanceTimersByTimeAsync(3000);
    expect(got).toEqual(ids);
    await bus.close();
  });

  it('keeps looking after the store failed', async () => {
    const store = fakeStore();
    const listChanges = store.listChanges;
    let failing = true;
    store.listChanges = async (since, limit, after) => {
      if (failing) throw new Error('database away');
      return listChanges(since, limit, after);
    };
    const bus = new StorePollingJobEventBus({ store, logger: pino({ level: 'silent' }) });
    const got: string[] = [];
    bus.subscribe((id) => got.push(id));
    store.change('a');
    await vi.advanceTimersByTimeAsync(2000);
    expect(got).toEqual([]);
    failing = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(got).toEqual(['a']);
    await bus.close();
  });
});
