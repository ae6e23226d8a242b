import { statfs } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { MenagerieError } from '../../domain/index.js';
import type { JobStore } from '../../ports/job-store.js';

const MiB = 1024 * 1024;

/** Checks an upload passes before any byte of it is written. */
export interface Admission {
  /** @throws INSUFFICIENT_STORAGE when the data directory is below its free-space watermark. */
  checkDisk(): Promise<void>;
  /** @throws QUEUE_FULL (429, Retry-After) when an engine's queue is at its cap. */
  checkQueues(engines: readonly string[]): Promise<void>;
}

export interface AdmissionOptions {
  /** Directory whose filesystem holds the blobs. */
  readonly dataDir: string;
  readonly minFreeDiskMb: number;
  readonly maxQueuedPerEngine: number;
  readonly maxQueuedByEngine: Readonly<Record<string, number>>;
  readonly store: JobStore;
  /** Retry-After sent with QUEUE_FULL, s. */
  readonly retryAfterSeconds?: number;
}

export function createAdmission(options: AdmissionOptions): Admission {
  const retryAfterSeconds = options.retryAfterSeconds ?? 30;
  return {
    async checkDisk() {
      if (options.minFreeDiskMb <= 0) return;
      const fs = await statfs(options.dataDir);
      const freeBytes = Number(fs.bavail) * Number(fs.bsize);
      if (freeBytes < options.minFreeDiskMb * MiB)
        throw new MenagerieError(
          'INSUFFICIENT_STORAGE',
          `the service's data directory has ${Math.floor(freeBytes / MiB)} MiB free, below its ${options.minFreeDiskMb} MiB watermark; uploads are refused until space is freed (retention, or a larger disk)`,
        );
    },
    async checkQueues(engines) {
      if (engines.length === 0) return;
      const stats = new Map((await options.store.engineStats()).map((s) => [s.engine, s.queued]));
      for (const engine of new Set(engines)) {
        const cap = options.maxQueuedByEngine[engine] ?? options.maxQueuedPerEngine;
        const queued = stats.get(engine) ?? 0;
        if (queued >= cap)
          throw new MenagerieError(
            'QUEUE_FULL',
            `engine ${engine} has ${queued} jobs queued, its cap; nothing was stored, retry after ${retryAfterSeconds} s`,
            { retryAfterSeconds },
          );
      }
    },
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Upload admission (disk watermark, queue caps); null when not registered. */
    admission: Admission | null;
  }
}

/** Makes `app.admission` available to upload routes. */
export const admissionPlugin = fp<{ admission: Admission }>(
  async (app: FastifyInstance, options) => {
    app.decorate('admission', options.admission);
  },
  { name: 'menagerie-admission' },
);
