import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type {
  Delivery,
  DeliveryHandler,
  JobMessage,
  JobQueue,
  QueueDepth,
  Subscription,
} from '../../../ports/job-queue.js';
import { RabbitMqConnection, type BackoffOptions } from './rabbitmq-connection.js';

export interface RabbitMqQueueOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Prefix of every queue name. Default `menagerie`. */
  readonly prefix?: string;
  /** How long `publish` waits for a connection before failing (the outbox publishes later), ms. Default 5000. */
  readonly publishWaitMs?: number;
  readonly reconnect?: BackoffOptions;
}

/** Header carrying the number of deliveries before this message was republished (a retry). */
const attemptsHeader = 'x-menagerie-attempts';
/** Delay before a delivery whose handler failed without settling it is tried again, ms. */
const unsettledRetryDelayMs = 2000;
/** Header set on dead-lettered messages: why they were given up. */
const reasonHeader = 'x-menagerie-reason';

/**
 * RabbitMQ as the job queue. Per engine: a durable quorum queue (its
 * `x-delivery-count` counts redeliveries after a lost consumer), delay queues
 * whose messages expire back into it (retry with backoff), and a dead-letter
 * queue. Messages are persistent and published with confirms; a delivery is
 * acked only when the handler says so, so a worker that dies gives its
 * messages back to the broker.
 */
export class RabbitMqJobQueue implements JobQueue {
  private readonly connection: RabbitMqConnection;
  private readonly prefix: string;
  private readonly engines = new Set<string>();
  private readonly made = new Set<string>();
  private publishChannel: Promise<ConfirmChannel> | null = null;
  private readonly declared = new WeakMap<ChannelModel, Set<string>>();

  constructor(private readonly options: RabbitMqQueueOptions) {
    this.prefix = options.prefix ?? 'menagerie';
    this.connection = new RabbitMqConnection(options.url, options.logger, options.reconnect);
  }

  /** Name of the engine's work queue. */
  queueName(engine: string): string {
    return `${this.prefix}.jobs.${engine}`;
  }

  /** Name of the engine's dead-letter queue. */
  deadLetterQueueName(engine: string): string {
    return `${this.prefix}.dead.${engine}`;
  }

  private delayQueueName(engine: string, delayMs: number): string {
    return `${this.prefix}.delay.${engine}.${Math.ceil(delayMs)}`;
  }

  /** Names of every queue this client declared (for operators' tooling and test cleanup). */
  declaredQueues(): string[] {
    return [...this.made];
  }

  /** Declares the engine's work and dead-letter queues once per connection. */
  private async declare(model: ChannelModel, channel: Channel, engine: string): Promise<void> {
    let done = this.declared.get(model);
    if (!done) this.declared.set(model, (done = new Set()));
    if (done.has(engine)) return;
    await channel.assertQueue(this.queueName(engine), {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    await channel.assertQueue(this.deadLetterQueueName(engine), { durable: true });
    this.made.add(this.queueName(engine)).add(this.deadLetterQueueName(engine));
    done.add(engine);
    this.engines.add(engine);
  }

  private async confirmChannel(): Promise<{ model: ChannelModel; channel: ConfirmChannel }> {
    const model = await this.connection.get(this.options.publishWaitMs ?? 5000);
    this.publishChannel ??= model.createConfirmChannel().then((channel) => {
      const forget = (): void => {
        this.publishChannel = null;
      };
      channel.on('close', forget);
      channel.on('error', (error: Error) => {
        this.options.logger.warn({ err: error }, 'RabbitMQ publish channel error');
        forget();
      });
      return channel;
    });
    try {
      return { model, channel: await this.publishChannel };
    } catch (error) {
      this.publishChannel = null;
      throw error;
    }
  }

  /** Sends to a queue and waits for the broker's confirm. */
  private async send(
    queue: string,
    message: JobMessage,
    headers: Record<string, unknown>,
    declare: (model: ChannelModel, channel: Channel) => Promise<void>,
  ): Promise<void> {
    const { model, channel } = await this.confirmChannel();
    await declare(model, channel);
    const body = Buffer.from(JSON.stringify({ jobId: message.jobId, engine: message.engine }));
    await new Promise<void>((resolve, reject) => {
      channel.sendToQueue(
        queue,
        body,
        { persistent: true, contentType: 'application/json', messageId: message.jobId, headers },
        (error: unknown) => (error ? reject(error as Error) : resolve()),
      );
    });
  }

  async publish(messages: readonly JobMessage[]): Promise<void> {
    for (const message of messages) {
      await this.send(this.queueName(message.engine), message, { [attemptsHeader]: 0 }, (model, channel) =>
        this.declare(model, channel, message.engine),
      );
    }
  }

  subscribe(
    engine: string,
    options: { concurrency: number; leaseMs: number; consumerId: string },
    handler: DeliveryHandler,
  ): Subscription {
    let stopping = false;
    let channel: Channel | null = null;
    let consumerTag: string | null = null;
    const inFlight = new Set<Promise<void>>();
    const log = this.options.logger.child({ engine, queue: this.queueName(engine) });

    const start = async (model: ChannelModel): Promise<void> => {
      const ch = await model.createChannel();
      try {
        ch.on('error', (error: Error) => log.warn({ err: error }, 'RabbitMQ consumer channel error'));
        // A channel closes with its connection (broker restart) or on a channel error: consume again.
        ch.on('close', () => {
          if (channel !== ch) return;
          channel = null;
          consumerTag = null;
          if (!stopping) void resubscribe();
        });
        await this.declare(model, ch, engine);
        // Prefetch = concurrency: the broker hands out no more than the handlers can run.
        await ch.prefetch(options.concurrency);
        channel = ch;
        const reply = await ch.consume(
          this.queueName(engine),
          (msg) => {
            // null: cancelled by the broker (queue deleted); closing the channel consumes again.
            if (!msg) {
              ch.close().catch(() => undefined);
              return;
            }
            const running = this.deliver(ch, msg, engine, handler, log).finally(() =>
              inFlight.delete(running),
            );
            inFlight.add(running);
          },
          { noAck: false },
        );
        consumerTag = reply.consumerTag;
        if (stopping) await ch.cancel(reply.consumerTag);
      } catch (error) {
        if (channel === ch) channel = null;
        await ch.close().catch(() => undefined);
        throw error;
      }
    };
    const resubscribe = this.connection.opener(start, () => stopping, log, 'subscribe');
    void resubscribe();

    return {
      close: async () => {
        stopping = true;
        const ch = channel;
        if (ch && consumerTag) await ch.cancel(consumerTag).catch(() => undefined);
        await Promise.allSettled([...inFlight]);
        await ch?.close().catch(() => undefined);
      },
    };
  }

  private async deliver(
    channel: Channel,
    msg: ConsumeMessage,
    engine: string,
    handler: DeliveryHandler,
    log: Logger,
  ): Promise<void> {
    let message: JobMessage;
    try {
      const parsed = JSON.parse(msg.content.toString('utf8')) as Partial<JobMessage>;
      if (typeof parsed.jobId !== 'string') throw new Error('no jobId');
      message = { jobId: parsed.jobId, engine: typeof parsed.engine === 'string' ? parsed.engine : engine };
    } catch (error) {
      log.error({ err: error }, 'unreadable message dead-lettered');
      await this.deadLetter(engine, { jobId: 'unreadable', engine }, `unreadable message: ${String(error)}`);
      channel.ack(msg);
      return;
    }
    const headers = msg.properties.headers ?? {};
    const before = Number(headers[attemptsHeader] ?? 0) || 0;
    // Quorum queues count deliveries that came back unacked (a lost consumer).
    const redeliveries = Number(headers['x-delivery-count'] ?? (msg.fields.redelivered ? 1 : 0)) || 0;
    const attempt = before + redeliveries + 1;
    let settled = false;
    const settle = (what: string): boolean => {
      if (settled) throw new Error(`delivery of job ${message.jobId} already settled; ${what} ignored`);
      settled = true;
      return true;
    };
    // After a lost connection the broker has already given the message back;
    // acking on the dead channel would fail, and the redelivery finds the job final.
    const ackQuietly = (): void => {
      try {
        channel.ack(msg);
      } catch (error) {
        log.warn({ jobId: message.jobId, err: error }, 'ack after a lost connection; the message comes back');
      }
    };
    const delivery: Delivery = {
      ...message,
      attempt,
      ack: async () => {
        settle('ack');
        ackQuietly();
      },
      retry: async (delayMs: number) => {
        settle('retry');
        await this.republish(message, attempt, delayMs);
        ackQuietly();
      },
      reject: async (reason: string) => {
        settle('reject');
        await this.deadLetter(engine, message, reason, attempt);
        ackQuietly();
      },
    };
    try {
      await handler(delivery);
    } catch (error) {
      log.error({ jobId: message.jobId, err: error }, 'job handler failed');
    }
    if (!settled) {
      // The handler failed before deciding (its database away, say): deliver again
      // a little later, not counted as an attempt, rather than lose it or spin on it.
      settled = true;
      try {
        await this.republish(message, attempt - 1, unsettledRetryDelayMs);
        ackQuietly();
      } catch {
        try {
          channel.nack(msg, false, true);
        } catch {
          // the connection is gone; the broker gives it back anyway
        }
      }
    }
  }

  /** Back to the work queue after `delayMs`, through a delay queue whose messages expire into it. */
  private async republish(message: JobMessage, attempt: number, delayMs: number): Promise<void> {
    const headers = { [attemptsHeader]: attempt };
    const target = this.queueName(message.engine);
    if (delayMs <= 0) {
      await this.send(target, message, headers, (model, channel) =>
        this.declare(model, channel, message.engine),
      );
      return;
    }
    const ms = Math.ceil(delayMs);
    const delayQueue = this.delayQueueName(message.engine, ms);
    await this.send(delayQueue, message, headers, async (model, channel) => {
      await this.declare(model, channel, message.engine);
      // One queue per delay, so a long delay never holds a short one behind it;
      // it deletes itself when unused for a minute past its delay.
      await channel.assertQueue(delayQueue, {
        durable: true,
        messageTtl: ms,
        expires: ms + 60_000,
        deadLetterExchange: '',
        deadLetterRoutingKey: target,
      });
      this.made.add(delayQueue);
    });
  }

  private async deadLetter(engine: string, message: JobMessage, reason: string, attempt = 0): Promise<void> {
    await this.send(
      this.deadLetterQueueName(engine),
      message,
      { [attemptsHeader]: attempt, [reasonHeader]: reason.slice(0, 1000) },
      (model, channel) => this.declare(model, channel, engine),
    );
  }

  /** The broker gives back a lost consumer's messages when its connection closes; nothing to do. */
  async releaseConsumer(): Promise<number> {
    return 0;
  }

  /** Ready and unacked counts of the engines this process has seen; unacked is the consumers' share. */
  async depth(): Promise<QueueDepth[]> {
    const model = await this.connection.get(2000);
    const channel = await model.createChannel();
    // checkQueue on a missing queue closes the channel; one channel per call keeps that local.
    channel.on('error', () => undefined);
    try {
      const out: QueueDepth[] = [];
      for (const engine of this.engines) {
        const q = await channel.checkQueue(this.queueName(engine));
        out.push({ engine, ready: q.messageCount, unacked: 0 });
      }
      return out;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Messages in the engine's dead-letter queue (for operators and tests). */
  async deadLetterCount(engine: string): Promise<number> {
    const model = await this.connection.get(2000);
    const channel = await model.createChannel();
    channel.on('error', () => undefined);
    try {
      return (await channel.checkQueue(this.deadLetterQueueName(engine))).messageCount;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
