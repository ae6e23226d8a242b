import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { RabbitMqJobEventBus } from '../../src/adapters/events/rabbitmq-job-event-bus.js';
import { testUrls, useTestServers } from '../contract/backends.js';
import { waitFor } from '../helpers/service.js';

useTestServers('shared');

describe('RabbitMqJobEventBus on the real broker', () => {
  // An exchange of this suite's own, so another run's events never mix in.
  const exchange = `menagerie.events.t-${randomBytes(4).toString('hex')}`;
  const logger = pino({ level: 'silent' });
  const buses: RabbitMqJobEventBus[] = [];
  const open = (): RabbitMqJobEventBus => {
    const bus = new RabbitMqJobEventBus({ url: testUrls.amqp, logger, exchange });
    buses.push(bus);
    return bus;
  };

  afterAll(async () => {
    for (const bus of buses) await bus.close();
    const model = await amqp.connect(testUrls.amqp);
    try {
      const channel = await model.createChannel();
      await channel.deleteExchange(exchange);
    } finally {
      await model.close();
    }
  });

  it("carries a node's changes to every other listening node, not back to itself", async () => {
    const [api1, api2, worker] = [open(), open(), open()];
    const got = { api1: [] as string[], api2: [] as string[] };
    api1.subscribe((id) => got.api1.push(id));
    api2.subscribe((id) => got.api2.push(id));
    // Each listener's queue is bound once its subscription is under way: announce until both hear.
    await waitFor('both API nodes to listen', async () => {
      worker.publish('probe');
      await new Promise((resolve) => setTimeout(resolve, 50));
      return got.api1.includes('probe') && got.api2.includes('probe') ? true : undefined;
    });
    // Probes still on their way may arrive after this point: they are left out below, not cleared here.
    const jobs = (ids: string[]): string[] => ids.filter((id) => id !== 'probe');
    worker.publish('job-1');
    api1.publish('job-2');
    await waitFor('the changes to arrive', async () =>
      got.api2.includes('job-1') && got.api2.includes('job-2') && got.api1.includes('job-1')
        ? true
        : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(jobs(got.api1)).toEqual(['job-1']);
    expect(jobs(got.api2)).toEqual(['job-1', 'job-2']);
  });

  it('publishing with no broker to reach neither throws nor waits', async () => {
    const bus = new RabbitMqJobEventBus({
      url: 'amqp://nobody:nothing@127.0.0.1:1',
      logger,
      exchange,
      publishWaitMs: 100,
      reconnect: { minMs: 50, maxMs: 50 },
    });
    buses.push(bus);
    const started = Date.now();
    bus.publish('lost');
    expect(Date.now() - started).toBeLessThan(50);
    await bus.close();
  });
});
