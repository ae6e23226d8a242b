import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Job } from '../domain/index.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { JobStore, PurgeFilter } from '../ports/job-store.js';
import { blobKeys } from './blob-keys.js';

const dayMs = 24 * 60 * 60 * 1000;
const batchSize = 100;

export interface RetentionSettings {
  /** Age after which finished jobs' files go, days; 0 keeps them forever. */
  readonly days: number;
  /** Per-engine ages, days (0: forever). */
  readonly engineDays: Readonly<Record<string, number>>;
  /** Free space to keep in the data directory, bytes. */
  readonly minFreeBytes: number;
}

/**
 * Deletes the input, result and logs of finished jobs past their engine's
 * age, and the oldest ones first when the data directory runs short of
 * space. The job rows stay, marked purged, so history is kept.
 */
export class Retention {
  constructor(
    private readonly deps: {
      store: JobStore;
      blobs: BlobStore;
      settings: RetentionSettings;
      /** The directory whose free space is watched. */
      dataDir: string;
      logger: Logger;
    },
  ) {}

  /** One pass: by age, then by free space. @returns the number of jobs purged */
  async sweep(now = new Date()): Promise<number> {
    const { days, engineDays } = this.deps.settings;
    let purged = 0;
    for (const [engine, engineAge] of Object.entries(engineDays)) {
      if (engineAge > 0) {
        purged += await this.purgeAll(
          { engine, finishedBefore: new Date(now.getTime() - engineAge * dayMs) },
          'age',
        );
      }
    }
    if (days > 0) {
      purged += await this.purgeAll(
        { excludeEngines: Object.keys(engineDays), finishedBefore: new Date(now.getTime() - days * dayMs) },
        'age',
      );
    }
    while ((await this.freeBytes()) < this.deps.settings.minFreeBytes) {
      const jobs = await this.deps.store.listPurgeable({}, batchSize);
      if (jobs.length === 0) {
        this.deps.logger.warn(
          { dataDir: this.deps.dataDir, minFreeBytes: this.deps.settings.minFreeBytes },
          'data directory is below its free-space watermark and no finished job is left to purge',
        );
        break;
      }
      for (const job of jobs) purged += (await this.purge(job, 'disk space')) ? 1 : 0;
    }
    return purged;
  }

  private async purgeAll(filter: PurgeFilter, why: string): Promise<number> {
    let purged = 0;
    for (;;) {
      const jobs = await this.deps.store.listPurgeable(filter, batchSize);
      for (const job of jobs) purged += (await this.purge(job, why)) ? 1 : 0;
      if (jobs.length < batchSize) return purged;
    }
  }

  /** Files go first, then the mark: a crash in between is finished by the next pass. */
  private async purge(job: Job, why: string): Promise<boolean> {
    const { blobs, store } = this.deps;
    for (let attempt = 1; attempt <= Math.max(1, job.attempts); attempt++) {
      await blobs.delete(blobKeys.result(job.id, attempt));
      await blobs.delete(blobKeys.stdout(job.id, attempt));
      await blobs.delete(blobKeys.stderr(job.id, attempt));
    }
    const marked = await store.markPurged(job.id, new Date());
    // Inputs are shared by hash: the last job keeping one takes it along. A re-upload of the
    // same file landing between this count and the delete would lose its input (a window of
    // milliseconds; its job then fails with a clear reason rather than running on nothing).
    if ((await store.countKeptInputs(job.input.sha256)) === 0) {
      await blobs.delete(blobKeys.input(job.input.sha256));
    }
    if (marked)
      this.deps.logger.info({ jobId: job.id, engine: job.engine, why }, 'job files deleted by retention');
    return marked;
  }

  private async freeBytes(): Promise<number> {
    const st = await statfs(this.deps.dataDir);
    return st.bavail * st.bsize;
  }
}
