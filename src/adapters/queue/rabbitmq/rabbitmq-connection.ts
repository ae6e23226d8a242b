import { setTimeout as delay } from 'node:timers/promises';
import amqp, { type ChannelModel } from 'amqplib';
import type { Logger } from 'pino';

/** Reconnect delays: doubling from `minMs` up to `maxMs`. */
export interface BackoffOptions {
  /** First delay after a lost connection, ms. Default 250. */
  readonly minMs?: number;
  /** Longest delay between attempts, ms. Default 5000. */
  readonly maxMs?: number;
}

/** Hides user and password of a URL for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//…@');
}

/**
 * One AMQP connection that comes back by itself: when the broker goes away it
 * reconnects with backoff; consumers notice their channel closing and subscribe again.
 */
export class RabbitMqConnection {
  private current: ChannelModel | null = null;
  private connecting: Promise<ChannelModel> | null = null;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly logger: Logger,
    private readonly backoff: BackoffOptions = {},
  ) {}

  /** True once `close` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * For a consumer: a function that opens it (`open` makes its channel on the
   * live connection), trying again with backoff until it succeeds, unless
   * `stopped()` or the connection is closed; every tenth failure is logged.
   * Call it at first and whenever the consumer's channel closes; a call while
   * an opening is under way joins it, so one consumer never becomes two.
   */
  opener(
    open: (model: ChannelModel) => Promise<void>,
    stopped: () => boolean,
    log: Logger,
    what: string,
  ): () => Promise<void> {
    let opening: Promise<void> | null = null;
    const keepOpening = async (): Promise<void> => {
      for (let failures = 0; !stopped() && !this.closed; failures++) {
        try {
          await open(await this.get());
          return;
        } catch (error) {
          if (stopped() || this.closed) return;
          if (failures % 10 === 0) log.warn({ err: error }, `could not ${what}; trying again`);
          await delay(
            Math.min(this.backoff.maxMs ?? 5000, (this.backoff.minMs ?? 250) * 2 ** Math.min(failures, 5)),
          );
        }
      }
    };
    return () =>
      (opening ??= keepOpening().finally(() => {
        opening = null;
      }));
  }

  /** The live connection, waiting for one at most `waitMs`. */
  async get(waitMs = Number.POSITIVE_INFINITY): Promise<ChannelModel> {
    if (this.current) return this.current;
    const pending = this.connect();
    if (!Number.isFinite(waitMs)) return pending;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new Error(`RabbitMQ at ${redactUrl(this.url)} does not answer (waited ${waitMs} ms)`)),
            waitMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private connect(): Promise<ChannelModel> {
    this.connecting ??= this.loop().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async loop(): Promise<ChannelModel> {
    let wait = this.backoff.minMs ?? 250;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new Error('the RabbitMQ connection is closed');
      try {
        const model = await amqp.connect(this.url, { timeout: 5000 });
        if (this.closed) {
          await model.close().catch(() => undefined);
          throw new Error('the RabbitMQ connection is closed');
        }
        model.on('error', (error: Error) => this.logger.warn({ err: error }, 'RabbitMQ connection error'));
        model.on('close', () => {
          if (this.current !== model) return;
          this.current = null;
          if (this.closed) return;
          this.logger.warn({ url: redactUrl(this.url) }, 'RabbitMQ connection lost; reconnecting');
          this.connect().catch(() => undefined);
        });
        this.current = model;
        if (attempt > 1) this.logger.info({ url: redactUrl(this.url), attempt }, 'RabbitMQ connected again');
        return model;
      } catch (error) {
        if (this.closed) throw error;
        if (attempt === 1 || attempt % 10 === 0)
          this.logger.warn(
            { url: redactUrl(this.url), attempt, err: error },
            'RabbitMQ does not answer; retrying with backoff',
          );
        await delay(wait);
        wait = Math.min(this.backoff.maxMs ?? 5000, wait * 2);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const model = this.current;
    this.current = null;
    await model?.close().catch(() => undefined);
  }
}
