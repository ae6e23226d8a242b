import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { MenagerieError, type Job } from '../domain/index.js';
import type { WebhookDelivery, WebhookStore } from '../ports/webhook-store.js';

export interface WebhookSettings {
  /** URL prefixes a callback may start with; empty: callbacks are refused. */
  readonly allow: readonly string[];
  /** Key of the HMAC-SHA256 signature on every delivery. */
  readonly secret: string;
  /** Attempts before a delivery is given up. */
  readonly maxAttempts: number;
  /** How long one attempt may take, ms. */
  readonly timeoutMs: number;
}

/** Backoff before the next attempt, ms: 1 s, 2 s, 4 s … at most 5 minutes. */
function backoffMs(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** (attempts - 1));
}

/** The signature header value for a body sent at `timestamp` (seconds). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Per-submission webhooks: a callback URL, checked against the operator's
 * allowlist (no request goes anywhere else), is called once its job is final,
 * signed, and retried with backoff; each delivery is recorded on the job.
 */
export class Webhooks {
  constructor(
    private readonly deps: {
      store: WebhookStore;
      settings: WebhookSettings;
      /** The job as the API shows it, for the payload. */
      render: (jobId: string) => Promise<unknown>;
      logger: Logger;
    },
  ) {}

  /**
   * Checks a callback URL against the allowlist.
   * @returns the normalized URL
   * @throws MenagerieError CALLBACK_NOT_ALLOWED
   */
  checkCallback(raw: string): string {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new MenagerieError(
        'CALLBACK_NOT_ALLOWED',
        `callback ${JSON.stringify(raw.slice(0, 200))} is not a URL`,
      );
    }
    const href = url.href;
    const allowed =
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.username === '' &&
      url.password === '' &&
      this.deps.settings.allow.some((prefix) => href.startsWith(prefix));
    if (!allowed) {
      throw new MenagerieError(
        'CALLBACK_NOT_ALLOWED',
        this.deps.settings.allow.length === 0
          ? 'callbacks are off on this server; the operator can allow URL prefixes with the webhooks.allow setting'
          : `callback ${href} is not under an allowed prefix (${this.deps.settings.allow.join(', ')})`,
      );
    }
    return href;
  }

  /** One pass: makes deliveries for newly finished jobs and sends those due. */
  async pass(now = new Date()): Promise<void> {
    await this.deps.store.createForFinishedJobs(now, 100);
    const due = await this.deps.store.claimDue(
      now,
      new Date(now.getTime() + this.deps.settings.timeoutMs * 2),
      20,
    );
    await Promise.all(due.map((d) => this.send(d.jobId, d.url, d.attempts + 1)));
  }

  private async send(jobId: string, url: string, attempt: number): Promise<void> {
    const body = JSON.stringify({ event: 'job.finished', job: await this.deps.render(jobId) });
    const timestamp = Math.floor(Date.now() / 1000);
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.deps.settings.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'menagerie-webhook',
          'x-menagerie-event': 'job.finished',
          'x-menagerie-job': jobId,
          'x-menagerie-attempt': String(attempt),
          'x-menagerie-timestamp': String(timestamp),
          'x-menagerie-signature': signWebhook(this.deps.settings.secret, timestamp, body),
        },
        body,
      });
      status = response.status;
      await response.body?.cancel();
      if (status < 200 || status >= 300) error = `answered ${status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    const now = new Date();
    const delivered = error === null;
    const exhausted = !delivered && attempt >= this.deps.settings.maxAttempts;
    await this.deps.store.recordAttempt(jobId, {
      state: delivered ? 'delivered' : exhausted ? 'failed' : 'pending',
      status,
      error,
      at: now,
      nextAttemptAt: new Date(now.getTime() + backoffMs(attempt)),
    });
    if (!delivered)
      this.deps.logger.warn({ jobId, url, attempt, error, gaveUp: exhausted }, 'webhook delivery failed');
  }

  /** How a job's webhook went, for the job's view; null without a callback. */
  async deliveryOf(job: Job): Promise<WebhookDelivery | null> {
    return (await this.deps.store.get(job.id)) ?? null;
  }
}
