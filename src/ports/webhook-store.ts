/** The announcement of one job's final state to its callback URL. */
export interface WebhookDelivery {
  readonly jobId: string;
  readonly url: string;
  /** `pending` until delivered or out of attempts. */
  readonly state: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly deliveredAt: Date | null;
}

/** Durable webhook deliveries, so retries survive a restart and any API node can send them. */
export interface WebhookStore {
  /** Makes a pending delivery for each finished job with a callback that has none yet. @returns how many */
  createForFinishedJobs(now: Date, limit: number): Promise<number>;
  /** Pending deliveries whose next attempt is due, claimed until `leaseUntil` so one node sends each. */
  claimDue(now: Date, leaseUntil: Date, limit: number): Promise<WebhookDelivery[]>;
  recordAttempt(
    jobId: string,
    outcome: {
      state: WebhookDelivery['state'];
      status: number | null;
      error: string | null;
      nextAttemptAt: Date;
      at: Date;
    },
  ): Promise<void>;
  get(jobId: string): Promise<WebhookDelivery | undefined>;
}
