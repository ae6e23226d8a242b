import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestServers } from './backends.js';
import type { RabbitMqJobQueue } from '../../src/adapters/queue/rabbitmq/rabbitmq-job-queue.js';
import { newJobId } from '../../src/domain/index.js';
import type { Delivery, JobQueue, Subscription } from '../../src/ports/job-queue.js';
import { testUrls } from './backends.js';
import { createQueueBackend, queueKinds, type QueueBackend } from './queue-backends.js';

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const options = (consumerId: string, concurrency = 1, leaseMs = 60_000) => ({
  concurrency,
  leaseMs,
  consumerId,
});

useTestServers('shared');

describe.each(queueKinds)('JobQueue contract: %s', (kind) => {
  let backend: QueueBackend;
  let queue: JobQueue;
  const subscriptions: Subscription[] = [];
  const engine = (): string => `e-${randomUUID().slice(0, 8)}`;
  const subscribe = (
    q: JobQueue,
    name: string,
    opts: ReturnType<typeof options>,
    handler: (d: Delivery) => Promise<void>,
  ) => {
    const s = q.subscribe(name, opts, handler);
    subscriptions.push(s);
    return s;
  };

  beforeAll(async () => {
    backend = await createQueueBackend(kind);
    queue = await backend.open();
  });
  afterAll(async () => {
    for (const s of subscriptions.splice(0)) await s.close();
    await backend?.destroy();
  });

  it('delivers a published message once, with attempt 1, and forgets it after ack', async () => {
    const name = engine();
    const jobId = newJobId();
    await queue.publish([{ jobId, engine: name }]);
    await waitFor('depth 1', async () =>
      (await queue.depth()).find((d) => d.engine === name && d.ready === 1),
    );
    const seen: Delivery[] = [];
    const sub = subscribe(queue, name, options('c1'), async (d) => {
      seen.push(d);
      await d.ack();
    });
    await waitFor('delivery', () => seen.length === 1);
    await sleep(300);
    await sub.close();
    expect(seen.map((d) => ({ jobId: d.jobId, engine: d.engine, attempt: d.attempt }))).toEqual([
      { jobId, engine: name, attempt: 1 },
    ]);
    const depth = (await queue.depth()).find((d) => d.engine === name);
    expect(depth?.ready ?? 0).toBe(0);
    expect(depth?.unacked ?? 0).toBe(0);
  });

  it('keeps engines apart and runs at most `concurrency` handlers at once', async () => {
    const a = engine();
    const b = engine();
    const jobs = Array.from({ length: 6 }, () => ({ jobId: newJobId(), engine: a }));
    await queue.publish([...jobs, { jobId: newJobId(), engine: b }]);
    let running = 0;
    let most = 0;
    const done: string[] = [];
    const sub = subscribe(queue, a, options('c1', 2), async (d) => {
      running += 1;
      most = Math.max(most, running);
      await sleep(100);
      running -= 1;
      done.push(d.jobId);
      await d.ack();
    });
    await waitFor('six deliveries', () => done.length === 6);
    await sub.close();
    expect(most).toBe(2);
    expect(done.sort()).toEqual(jobs.map((j) => j.jobId).sort());
    expect((await queue.depth()).find((d) => d.engine === b)?.ready).toBe(1);
  });

  it('gives each message to one consumer when several processes consume at once', async () => {
    const name = engine();
    const other = await backend.open();
    const jobs = Array.from({ length: 20 }, () => ({ jobId: newJobId(), engine: name }));
    await queue.publish(jobs);
    const seen: string[] = [];
    const handler = async (d: Delivery): Promise<void> => {
      seen.push(d.jobId);
      await sleep(20);
      await d.ack();
    };
    const s1 = subscribe(queue, name, options('p1', 4), handler);
    const s2 = subscribe(other, name, options('p2', 4), handler);
    await waitFor('twenty deliveries', () => seen.length >= 20);
    await sleep(300);
    await s1.close();
    await s2.close();
    await other.close();
    expect(seen.sort()).toEqual(jobs.map((j) => j.jobId).sort());
  });

  it('delivers again after retry, not before its delay, counting attempts', async () => {
    const name = engine();
    const jobId = newJobId();
    await queue.publish([{ jobId, engine: name }]);
    const seen: { attempt: number; at: number }[] = [];
    const sub = subscribe(queue, name, options('c1'), async (d) => {
      seen.push({ attempt: d.attempt, at: Date.now() });
      if (d.attempt === 1) await d.retry(600);
      else if (d.attempt === 2) await d.retry(0);
      else await d.ack();
    });
    await waitFor('three deliveries', () => seen.length === 3);
    await sleep(300);
    await sub.close();
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(550);
  });

  it('never delivers a rejected message again', async () => {
    const name = engine();
    const jobId = newJobId();
    await queue.publish([{ jobId, engine: name }]);
    const seen: number[] = [];
    const sub = subscribe(queue, name, options('c1'), async (d) => {
      seen.push(d.attempt);
      await d.reject('engine refused it');
    });
    await waitFor('delivery', () => seen.length === 1);
    await sleep(800);
    await sub.close();
    expect(seen).toEqual([1]);
    const depth = (await queue.depth()).find((d) => d.engine === name);
    expect(depth?.ready ?? 0).toBe(0);
  });

  it('treats publishing the same job twice as harmless', async () => {
    const name = engine();
    const jobId = newJobId();
    await queue.publish([{ jobId, engine: name }]);
    await queue.publish([{ jobId, engine: name }]);
    const seen: string[] = [];
    const sub = subscribe(queue, name, options('c1'), async (d) => {
      seen.push(d.jobId);
      await d.ack();
    });
    await waitFor('delivery', () => seen.length >= 1);
    await sleep(500);
    await sub.close();
    expect(new Set(seen)).toEqual(new Set([jobId]));
    expect((await queue.depth()).find((d) => d.engine === name)?.ready ?? 0).toBe(0);
  });

  it("gives a lost consumer's delivery to another consumer, as a later attempt", async () => {
    const name = engine();
    const jobId = newJobId();
    const lost = await backend.open();
    await queue.publish([{ jobId, engine: name }]);
    const hang = deferred();
    const first: number[] = [];
    const lostSub = lost.subscribe(name, options('lost-worker'), async (d) => {
      first.push(d.attempt);
      await hang.promise; // never settles: the process "dies" holding it
    });
    await waitFor('first delivery', () => first.length === 1);
    // The consumer's process is gone: its connection closes; on restart its leases are released.
    await lost.close();
    await queue.releaseConsumer('lost-worker');
    const again: number[] = [];
    const sub = subscribe(queue, name, options('survivor'), async (d) => {
      again.push(d.attempt);
      await d.ack();
    });
    await waitFor('redelivery', () => again.length === 1);
    await sub.close();
    const closing = lostSub.close();
    hang.resolve();
    await closing;
    expect(first).toEqual([1]);
    expect(again).toEqual([2]);
  });

  it('delivers again, as the same attempt, when a handler fails without settling', async () => {
    const name = engine();
    await queue.publish([{ jobId: newJobId(), engine: name }]);
    const seen: number[] = [];
    const sub = subscribe(queue, name, options('c1'), async (d) => {
      seen.push(d.attempt);
      if (seen.length === 1) throw new Error('database away');
      await d.ack();
    });
    await waitFor('second delivery', () => seen.length === 2);
    await sub.close();
    expect(seen).toEqual([1, 1]);
  });

  it('waits for handlers under way when a subscription closes', async () => {
    const name = engine();
    await queue.publish([{ jobId: newJobId(), engine: name }]);
    let finished = false;
    let started = false;
    const sub = subscribe(queue, name, options('c1'), async (d) => {
      started = true;
      await sleep(300);
      finished = true;
      await d.ack();
    });
    await waitFor('start', () => started);
    await sub.close();
    expect(finished).toBe(true);
  });
});

describe.each(['embedded-sqlite', 'embedded-postgres', 'embedded-mysql'] as const)(
  'embedded queue lease: %s',
  (kind) => {
    let backend: QueueBackend;
    beforeAll(async () => {
      backend = await createQueueBackend(kind);
    });
    afterAll(async () => {
      await backend?.destroy();
    });

    it('delivers again when a lease runs out, without any release', async () => {
      const queue = await backend.open();
      const name = `e-${randomUUID().slice(0, 8)}`;
      await queue.publish([{ jobId: newJobId(), engine: name }]);
      const hang = deferred();
      const attempts: number[] = [];
      const stuck = queue.subscribe(name, options('stuck', 1, 400), async (d) => {
        attempts.push(d.attempt);
        await hang.promise;
      });
      // The other consumer comes once the stuck one holds the job, so that it can only get it by the lease.
      await waitFor('the stuck consumer to take the job', () => attempts.length === 1);
      const other = queue.subscribe(name, options('other', 1, 60_000), async (d) => {
        attempts.push(d.attempt);
        await d.ack();
      });
      await waitFor('redelivery after the lease', () => attempts.length === 2);
      const closing = Promise.all([stuck.close(), other.close()]);
      hang.resolve();
      await closing;
      expect(attempts).toEqual([1, 2]);
    });
  },
);

describe('RabbitMQ dead letters', () => {
  let backend: QueueBackend;
  beforeAll(async () => {
    backend = await createQueueBackend('rabbitmq');
  });
  afterAll(async () => {
    await backend?.destroy();
  });

  it('keeps a rejected message in the engine’s dead-letter queue with its reason', async () => {
    const queue = (await backend.open()) as RabbitMqJobQueue;
    const name = `e-${randomUUID().slice(0, 8)}`;
    const jobId = newJobId();
    await queue.publish([{ jobId, engine: name }]);
    let seen = 0;
    const sub = queue.subscribe(name, options('c1'), async (d) => {
      seen += 1;
      await d.reject('engine refused it');
    });
    await waitFor('rejection', () => seen === 1);
    await sub.close();
    await waitFor('a dead letter', async () => (await queue.deadLetterCount(name)) === 1);
    const model = await amqp.connect(testUrls.amqp);
    const channel = await model.createChannel();
    const message = await channel.get(queue.deadLetterQueueName(name), { noAck: true });
    await model.close();
    expect(message && JSON.parse(message.content.toString())).toEqual({ jobId, engine: name });
    expect(message && message.properties.headers?.['x-menagerie-reason']).toBe('engine refused it');
  });
});
