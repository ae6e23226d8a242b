import { randomBytes } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { JobEventBus } from '../../ports/job-event-bus.js';
import { RabbitMqConnection, type BackoffOptions } from '../queue/rabbitmq/rabbitmq-connection.js';

export interface RabbitMqEventBusOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Name of the fanout exchange. Default `menagerie.events`. */
  readonly exchange?: string;
  /** This process's id in its messages, so it skips its own. Default: random. */
  readonly nodeId?: string;
  /** How long a publish waits for a connection before the change is dropped, ms. Default 1000. */
  readonly publishWaitMs?: number;
  readonly reconnect?: BackoffOptions;
}

/** Messages an API node that falls behind keeps before dropping the oldest (each is a hint, not a record). */
const maxQueuedEvents = 10_000;

interface EventMessage {
  readonly jobId: string;
  readonly node: string;
}

/**
 * Job changes over RabbitMQ: every node publishes `{jobId, node}` to a fanout
 * exchange; every node that listens consumes it through its own exclusive,
 * auto-delete, server-named queue, which goes with its connection. It has a
 * connection of its own, so events never hold the job messages back (the
 * broker applies flow control per connection), and that connection comes back
 * by itself after a broker restart; changes made while it is away are lost,
 * which live views survive (they re-read).
 */
export class RabbitMqJobEventBus implements JobEventBus {
  private readonly connection: RabbitMqConnection;
  private readonly exchange: string;
  /** This process, in the messages it sends. */
  readonly nodeId: string;
  private publishChannel: Promise<Channel> | null = null;
  private readonly stops = new Set<() => Promise<void>>();

  constructor(private readonly options: RabbitMqEventBusOptions) {
    this.exchange = options.exchange ?? 'menagerie.events';
    this.nodeId = options.nodeId ?? `n-${randomBytes(6).toString('hex')}`;
    this.connection = new RabbitMqConnection(options.url, options.logger, options.reconnect);
  }

  /**
   * Durable: it holds no messages, so durability only keeps its declaration
   * across a broker restart, and a node that publishes before any listener has
   * declared it again never meets a missing exchange (which would close the
   * channel). What must not outlive a node (its queue, its messages) is transient.
   */
  private async declare(channel: Channel): Promise<void> {
    await channel.assertExchange(this.exchange, 'fanout', { durable: true });
  }

  private channel(): Promise<Channel> {
    this.publishChannel ??= (async () => {
      const model = await this.connection.get(this.options.publishWaitMs ?? 1000);
      const channel = await model.createChannel();
      const forget = (): void => {
        this.publishChannel = null;
      };
      channel.on('close', forget);
      channel.on('error', (error: Error) => {
        this.options.logger.warn({ err: error }, 'RabbitMQ event channel error');
        forget();
      });
      await this.declare(channel);
      return channel;
    })().catch((error: unknown) => {
      this.publishChannel = null;
      throw error;
    });
    return this.publishChannel;
  }

  publish(jobId: string): void {
    if (this.connection.isClosed) return;
    const message: EventMessage = { jobId, node: this.nodeId };
    this.channel()
      .then((channel) => {
        channel.publish(this.exchange, '', Buffer.from(JSON.stringify(message)), {
          contentType: 'application/json',
          persistent: false,
        });
      })
      .catch((error: unknown) =>
        this.options.logger.debug({ err: error, jobId }, 'job change not announced; live views see it later'),
      );
  }

  subscribe(listener: (jobId: string) => void): () => void {
    const log = this.options.logger.child({ exchange: this.exchange });
    let stopping = false;
    let channel: Channel | null = null;

    const start = async (model: ChannelModel): Promise<void> => {
      const ch = await model.createChannel();
      try {
        ch.on('error', (error: Error) => log.warn({ err: error }, 'RabbitMQ event consumer channel error'));
        // Closed with its connection (broker restart) or by an error: listen again
        // once the connection is back (it reconnects by itself, with backoff).
        ch.on('close', () => {
          if (channel !== ch) return;
          channel = null;
          if (!stopping) void listen();
        });
        await this.declare(ch);
        const { queue } = await ch.assertQueue('', {
          exclusive: true,
          autoDelete: true,
          durable: false,
          maxLength: maxQueuedEvents,
        });
        await ch.bindQueue(queue, this.exchange, '');
        channel = ch;
        await ch.consume(
          queue,
          (msg) => {
            // null: cancelled by the broker (queue deleted); closing the channel listens again.
            if (!msg) ch.close().catch(() => undefined);
            else this.receive(msg, listener, log);
          },
          // A hint lost with a dying connection costs nothing: no acks.
          { noAck: true },
        );
        if (stopping) await ch.close().catch(() => undefined);
      } catch (error) {
        if (channel === ch) channel = null;
        await ch.close().catch(() => undefined);
        throw error;
      }
    };
    const listen = this.connection.opener(start, () => stopping, log, 'listen to job changes');
    void listen();

    const stop = async (): Promise<void> => {
      stopping = true;
      this.stops.delete(stop);
      const ch = channel;
      channel = null;
      await ch?.close().catch(() => undefined);
    };
    this.stops.add(stop);
    return () => void stop();
  }

  private receive(msg: ConsumeMessage, listener: (jobId: string) => void, log: Logger): void {
    let message: Partial<EventMessage> | null;
    try {
      message = JSON.parse(msg.content.toString('utf8')) as Partial<EventMessage> | null;
    } catch (error) {
      log.warn({ err: error }, 'unreadable job change message ignored');
      return;
    }
    if (typeof message?.jobId !== 'string' || message.node === this.nodeId) return;
    listener(message.jobId);
  }

  async close(): Promise<void> {
    await Promise.all([...this.stops].map((stop) => stop()));
    await this.connection.close();
  }
}
