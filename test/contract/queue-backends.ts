import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { pino } from 'pino';
import { EmbeddedJobQueue } from '../../src/adapters/queue/embedded/embedded-job-queue.js';
import { RabbitMqJobQueue } from '../../src/adapters/queue/rabbitmq/rabbitmq-job-queue.js';
import type { JobQueue } from '../../src/ports/job-queue.js';
import { createScratchDatabase, openStore, testUrls, type StoreKind } from './backends.js';

export const silentLogger = pino({ level: 'silent' });

/**
 * A queue backend for one suite. `open` gives a new client (its own
 * connection or pool), as another process would have; `destroy` removes
 * everything the suite made.
 */
export interface QueueBackend {
  open(): Promise<JobQueue>;
  destroy(): Promise<void>;
}

export const queueKinds = ['embedded-sqlite', 'embedded-postgres', 'embedded-mysql', 'rabbitmq'] as const;
export type QueueKind = (typeof queueKinds)[number];

export async function createQueueBackend(kind: QueueKind): Promise<QueueBackend> {
  if (kind === 'rabbitmq') return createRabbitBackend();
  const storeKind = kind.replace('embedded-', '') as StoreKind;
  const database = await createScratchDatabase(storeKind);
  const first = openStore(storeKind, database.url);
  await first.migrate();
  await first.close();
  const clients: { close(): Promise<void> }[] = [];
  return {
    open: async () => {
      const store = openStore(storeKind, database.url);
      const queue = new EmbeddedJobQueue(store.db, {
        pollIntervalMs: 50,
        logger: silentLogger,
        traits: store.traits,
      });
      let closed = false;
      const client = {
        close: async () => {
          if (closed) return;
          closed = true;
          await queue.close();
          await store.close();
        },
      };
      clients.push(client);
      // Closing the queue also closes its store: the client is gone, as a process would be.
      return new Proxy(queue, {
        get(target, prop, receiver) {
          if (prop === 'close') return client.close;
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
    },
    destroy: async () => {
      for (const c of clients) await c.close();
      await database.drop();
    },
  };
}

async function createRabbitBackend(): Promise<QueueBackend> {
  const prefix = `menagerie-t-${randomBytes(4).toString('hex')}`;
  const queues: RabbitMqJobQueue[] = [];
  // Fail at once (not skip) when the broker is not there.
  const probe = await amqp.connect(testUrls.amqp);
  await probe.close();
  return {
    open: async () => {
      const queue = new RabbitMqJobQueue({ url: testUrls.amqp, logger: silentLogger, prefix });
      queues.push(queue);
      return queue;
    },
    destroy: async () => {
      for (const q of queues) await q.close();
      await deleteQueues([...new Set(queues.flatMap((q) => q.declaredQueues()))]);
    },
  };
}

/** Deletes queues of the test broker by name. */
export async function deleteQueues(names: readonly string[]): Promise<void> {
  const model = await amqp.connect(testUrls.amqp);
  try {
    for (const name of names) {
      const channel = await model.createChannel();
      await channel.deleteQueue(name);
      await channel.close();
    }
  } finally {
    await model.close();
  }
}
