import type { Kysely, Selectable } from 'kysely';
import { finalStates } from '../../../domain/index.js';
import type { WebhookDelivery, WebhookStore } from '../../../ports/webhook-store.js';
import type { Database, WebhookDeliveriesTable } from './schema.js';

function toDelivery(row: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    jobId: row.job_id,
    url: row.url,
    state: row.state as WebhookDelivery['state'],
    attempts: row.attempts,
    nextAttemptAt: new Date(Number(row.next_attempt_at)),
    lastStatus: row.last_status,
    lastError: row.last_error,
    deliveredAt: row.delivered_at === null ? null : new Date(Number(row.delivered_at)),
  };
}

/** Webhook deliveries in the job store's database (any dialect). */
export class KyselyWebhookStore implements WebhookStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createForFinishedJobs(now: Date, limit: number): Promise<number> {
    const jobs = await this.db
      .selectFrom('jobs')
      .select(['id', 'callback_url'])
      .where('callback_url', 'is not', null)
      .where('state', 'in', [...finalStates])
      .where('id', 'not in', (q) => q.selectFrom('webhook_deliveries').select('job_id'))
      .limit(limit)
      .execute();
    let created = 0;
    for (const job of jobs) {
      try {
        await this.db
          .insertInto('webhook_deliveries')
          .values({
            job_id: job.id,
            url: job.callback_url as string,
            state: 'pending',
            attempts: 0,
            next_attempt_at: now.getTime(),
          })
          .execute();
        created += 1;
      } catch {
        // Another node made it first (primary key): nothing to do.
      }
    }
    return created;
  }

  async claimDue(now: Date, leaseUntil: Date, limit: number): Promise<WebhookDelivery[]> {
    const due = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', now.getTime())
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
    const claimed: WebhookDelivery[] = [];
    for (const row of due) {
      const result = await this.db
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: leaseUntil.getTime() })
        .where('job_id', '=', row.job_id)
        .where('state', '=', 'pending')
        .where('next_attempt_at', '=', row.next_attempt_at)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) > 0) claimed.push(toDelivery(row));
    }
    return claimed;
  }

  async recordAttempt(
    jobId: string,
    outcome: {
      state: WebhookDelivery['state'];
      status: number | null;
      error: string | null;
      nextAttemptAt: Date;
      at: Date;
    },
  ): Promise<void> {
    await this.db
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        state: outcome.state,
        attempts: eb('attempts', '+', 1),
        last_status: outcome.status,
        last_error: outcome.error,
        next_attempt_at: outcome.nextAttemptAt.getTime(),
        delivered_at: outcome.state === 'delivered' ? outcome.at.getTime() : null,
      }))
      .where('job_id', '=', jobId)
      .execute();
  }

  async get(jobId: string): Promise<WebhookDelivery | undefined> {
    const row = await this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('job_id', '=', jobId)
      .executeTakeFirst();
    return row ? toDelivery(row) : undefined;
  }
}
