import { EventEmitter } from 'node:events';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type {
  Delivery,
  DeliveryHandler,
  JobMessage,
  JobQueue,
  QueueDepth,
  Subscription,
} from '../../../ports/job-queue.js';
import type { DialectTraits } from '../../store/sql/migrations.js';
import type { Database } from '../../store/sql/schema.js';

export interface EmbeddedQueueOptions {
  /** How often idle consumers look for messages published by other processes, ms. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
  /** What the database can do: picks the claim statement. */
  readonly traits: Pick<DialectTraits, 'supportsReturning' | 'supportsSkipLocked'>;
}

/** Delay before a delivery whose handler failed without settling it is offered again, ms. */
const unsettledRetryDelayMs = 2000;

interface Claimed {
  id: number;
  job_id: string;
  engine: string;
  attempts: number;
}

/**
 * The queue kept in the job store's own database: a message is a row, a
 * delivery is a lease on it. A lease that runs out (its consumer died) makes
 * the message deliverable again; ack deletes the row.
 */
export class EmbeddedJobQueue implements JobQueue {
  private readonly wake = new EventEmitter();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: EmbeddedQueueOptions,
  ) {
    this.wake.setMaxListeners(0);
  }

  async publish(messages: readonly JobMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const now = Date.now();
    for (const message of messages) {
      // Publishing a job twice (outbox replay) must not make two messages.
      if (await this.exists(message.jobId)) continue;
      try {
        await this.db
          .insertInto('queue_messages')
          .values({ job_id: message.jobId, engine: message.engine, available_at: now, attempts: 0 })
          .execute();
      } catch (error) {
        // Another publisher inserted it between our check and insert (unique job_id).
        if (!(await this.exists(message.jobId))) throw error;
      }
    }
    for (const engine of new Set(messages.map((m) => m.engine))) this.wake.emit(engine);
  }

  private async exists(jobId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('queue_messages')
      .select('id')
      .where('job_id', '=', jobId)
      .executeTakeFirst();
    return row !== undefined;
  }

  subscribe(
    engine: string,
    options: { concurrency: number; leaseMs: number; consumerId: string },
    handler: DeliveryHandler,
  ): Subscription {
    let stopping = false;
    const sleepers = new Set<() => void>();
    const wakeAll = (): void => {
      for (const wake of [...sleepers]) wake();
    };
    this.wake.on(engine, wakeAll);
    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          sleepers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        sleepers.add(done);
      });

    const slot = async (): Promise<void> => {
      while (!stopping) {
        let claimed: Claimed | undefined;
        try {
          claimed = await this.claim(engine, options.consumerId, options.leaseMs);
        } catch (error) {
          this.options.logger.warn({ engine, err: error }, 'queue claim failed; trying again');
        }
        if (!claimed) {
          await sleep(this.options.pollIntervalMs);
          continue;
        }
        // Another slot may find more work at once.
        wakeAll();
        const delivery = this.delivery(claimed, options.consumerId);
        try {
          await handler(delivery);
        } catch (error) {
          this.options.logger.error({ engine, jobId: claimed.job_id, err: error }, 'job handler failed');
        }
        if (!delivery.settled) await this.putBackUncounted(claimed, options.consumerId);
      }
    };
    const slots = Array.from({ length: options.concurrency }, () => slot());
    return {
      close: async () => {
        stopping = true;
        this.wake.off(engine, wakeAll);
        wakeAll();
        await Promise.all(slots);
      },
    };
  }

  private async claim(engine: string, consumerId: string, leaseMs: number): Promise<Claimed | undefined> {
    const now = Date.now();
    const claimable = sql`engine = ${engine} and dead_reason is null and available_at <= ${now}
                      and (lease_until is null or lease_until < ${now})`;
    const { supportsReturning, supportsSkipLocked } = this.options.traits;
    // Concurrent claimers pass over each other's rows instead of queueing behind their locks.
    const skipLocked = supportsSkipLocked ? sql`for update skip locked` : sql``;
    if (supportsReturning) {
      const result = await sql<Claimed>`
        update queue_messages
           set lease_owner = ${consumerId}, lease_until = ${now + leaseMs}, attempts = attempts + 1
         where id = (select id from queue_messages where ${claimable} order by id limit 1 ${skipLocked})
           and (lease_until is null or lease_until < ${now})
        returning id, job_id, engine, attempts`.execute(this.db);
      return result.rows[0];
    }
    // No RETURNING (MySQL, MariaDB): lock the row in a transaction, then update it.
    return this.db.transaction().execute(async (trx) => {
      const found = await sql<Claimed>`
        select id, job_id, engine, attempts from queue_messages
         where ${claimable} order by id limit 1 ${skipLocked}`.execute(trx);
      const row = found.rows[0];
      if (!row) return undefined;
      await trx
        .updateTable('queue_messages')
        .set({ lease_owner: consumerId, lease_until: now + leaseMs, attempts: Number(row.attempts) + 1 })
        .where('id', '=', row.id)
        .execute();
      return { ...row, attempts: Number(row.attempts) + 1 };
    });
  }

  /**
   * A handler that failed without settling its delivery (its database away,
   * say): offered again shortly, not counted as an attempt. When even this
   * fails, the lease runs out instead.
   */
  private async putBackUncounted(row: Claimed, consumerId: string): Promise<void> {
    await this.db
      .updateTable('queue_messages')
      .set({
        lease_owner: null,
        lease_until: null,
        available_at: Date.now() + unsettledRetryDelayMs,
        attempts: Math.max(0, Number(row.attempts) - 1),
      })
      .where('id', '=', row.id)
      .where('lease_owner', '=', consumerId)
      .execute()
      .catch((error: unknown) =>
        this.options.logger.warn(
          { jobId: row.job_id, err: error },
          'could not put the job back; its lease will run out',
        ),
      );
  }

  private delivery(row: Claimed, consumerId: string): Delivery & { readonly settled: boolean } {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- delete and update builders share only these calls
    const mine = (q: any) => q.where('id', '=', row.id).where('lease_owner', '=', consumerId);
    let settled = false;
    return {
      jobId: row.job_id,
      engine: row.engine,
      attempt: Number(row.attempts),
      get settled() {
        return settled;
      },
      ack: async () => {
        settled = true;
        await mine(this.db.deleteFrom('queue_messages')).execute();
      },
      retry: async (delayMs: number) => {
        settled = true;
        await mine(
          this.db
            .updateTable('queue_messages')
            .set({ lease_owner: null, lease_until: null, available_at: Date.now() + delayMs }),
        ).execute();
      },
      reject: async (reason: string) => {
        settled = true;
        await mine(
          this.db
            .updateTable('queue_messages')
            .set({ lease_owner: null, lease_until: null, dead_reason: reason }),
        ).execute();
      },
    };
  }

  async releaseConsumer(consumerId: string): Promise<number> {
    const result = await this.db
      .updateTable('queue_messages')
      .set({ lease_owner: null, lease_until: null })
      .where('lease_owner', '=', consumerId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async depth(): Promise<QueueDepth[]> {
    const now = Date.now();
    const rows = await this.db
      .selectFrom('queue_messages')
      .select([
        'engine',
        sql<number>`sum(case when lease_until is not null and lease_until >= ${now} then 1 else 0 end)`.as(
          'unacked',
        ),
        sql<number>`sum(case when lease_until is null or lease_until < ${now} then 1 else 0 end)`.as('ready'),
      ])
      .where('dead_reason', 'is', null)
      .groupBy('engine')
      .execute();
    return rows.map((r) => ({ engine: r.engine, ready: Number(r.ready), unacked: Number(r.unacked) }));
  }

  async close(): Promise<void> {
    this.wake.removeAllListeners();
  }
}
