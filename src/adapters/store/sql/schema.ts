import type { Generated } from 'kysely';

/** Rows as stored. Times are milliseconds since the epoch, so every dialect stores them alike. */
export interface JobsTable {
  seq: Generated<number>;
  id: string;
  engine: string;
  state: string;
  reason: string | null;
  exit_code: number | null;
  image_digest: string | null;
  input_name: string;
  input_size: number;
  input_sha256: string;
  summary: string | null;
  result_kind: string | null;
  result_size: number | null;
  attempts: number;
  worker_id: string | null;
  peak_memory_bytes: number | null;
  cpu_ms: number | null;
  stdout_bytes: number | null;
  stderr_bytes: number | null;
  logs_truncated: number;
  enqueued: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  purged_at: number | null;
  callback_url: string | null;
  /** Name of the token that submitted the job; null without one. */
  owner: string | null;
  /** When the job last changed (inserted, ran, finished, requeued, purged), ms by the writer's clock. */
  changed_at: number;
}

export interface QueueMessagesTable {
  id: Generated<number>;
  job_id: string;
  engine: string;
  available_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  attempts: number;
  dead_reason: string | null;
}

export interface TokensTable {
  id: string;
  name: string;
  secret_sha256: string;
  /** Space-separated scopes. */
  scopes: string;
  /** JSON array of engine names; null when any. */
  engines: string | null;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  created_by: string;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor: string | null;
  action: string;
  target: string;
  outcome: string;
  address: string | null;
  detail: string | null;
}

export interface WebhookDeliveriesTable {
  job_id: string;
  url: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
}

export interface Database {
  jobs: JobsTable;
  queue_messages: QueueMessagesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  tokens: TokensTable;
  audit_log: AuditLogTable;
}
