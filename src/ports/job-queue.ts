/** A message asking for one job to be run. */
export interface JobMessage {
  readonly jobId: string;
  readonly engine: string;
}

/** One delivery of a message to a consumer. Exactly one of ack, retry or reject must be called. */
export interface Delivery extends JobMessage {
  /** 1 on the first delivery, counting redeliveries after a lost worker or a retry. */
  readonly attempt: number;
  /** Done: the job's final state is committed. */
  ack(): Promise<void>;
  /** Deliver again after `delayMs`. */
  retry(delayMs: number): Promise<void>;
  /** Give up: moved aside (dead-lettered) with the reason. */
  reject(reason: string): Promise<void>;
}

export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

export interface Subscription {
  /** Stops taking new deliveries and waits for handlers under way to finish. */
  close(): Promise<void>;
}

export interface QueueDepth {
  readonly engine: string;
  readonly ready: number;
  readonly unacked: number;
}

/** At-least-once delivery of job messages, per engine. */
export interface JobQueue {
  /** Publishes durably; resolves once the message is safe. Publishing the same job twice is harmless. */
  publish(messages: readonly JobMessage[]): Promise<void>;
  /**
   * Delivers the engine's messages to `handler`, at most `concurrency` at once.
   * `leaseMs` is how long a delivery may stay unacknowledged before it is
   * given to another consumer (for backends that lease).
   */
  subscribe(
    engine: string,
    options: { concurrency: number; leaseMs: number; consumerId: string },
    handler: DeliveryHandler,
  ): Subscription;
  /** Makes deliveries held by a consumer that is gone available again at once. */
  releaseConsumer(consumerId: string): Promise<number>;
  depth(): Promise<QueueDepth[]>;
  close(): Promise<void>;
}
