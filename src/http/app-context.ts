import type { Config } from '../config/schema.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { JobQueue } from '../ports/job-queue.js';
import type { JobStore } from '../ports/job-store.js';
import type { AuditLog } from '../ports/token-store.js';
import type { EngineRegistry } from '../services/engine-registry.js';
import type { ReloadResult } from '../services/engine-reloader.js';
import type { Webhooks } from '../services/webhooks.js';
import type { JobEvents } from '../services/job-events.js';
import type { JobService } from '../services/job-service.js';
import type { Metrics } from '../services/metrics.js';
import type { TokenService } from '../services/token-service.js';

/** What the HTTP layer needs from the rest of the service. */
export interface AppContext {
  readonly config: Readonly<Config>;
  readonly service: JobService;
  readonly registry: EngineRegistry;
  readonly store: JobStore;
  readonly queue: JobQueue;
  readonly events: JobEvents;
  readonly metrics: Metrics;
  /** Where inputs, results and logs are kept (served to worker nodes by the internal blob routes). */
  readonly blobs: BlobStore;
  /** The console's static files. */
  readonly webDir: string;
  /** API tokens: checks the bearer token of each request. */
  readonly tokens: TokenService;
  /** Admin actions and refused requests. */
  readonly audit: AuditLog;
  /** Per-submission callbacks: allowlist check and delivery records. */
  readonly webhooks: Webhooks;
  /** Applies engines.json again; a bad file keeps the engines in force. */
  reloadEngines(): Promise<ReloadResult>;
  /** The outcome of the last reload, null before the first. */
  lastReload(): ReloadResult | null;
  /** The image an engine would run now: its digest, or unavailable. */
  /**
   * The image an engine would run now: its digest, or unavailable; with
   * `checkRegistry`, also the digest its registry serves under the tag now.
   */
  imageInfo(
    engineName: string,
    options?: { checkRegistry?: boolean },
  ): Promise<{ digest: string | null; available: boolean; registryDigest: string | null }>;
  /** Backends that must answer for the service to be ready, by name. */
  readinessChecks(): Record<string, () => Promise<void>>;
}
