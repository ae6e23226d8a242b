import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { FsBlobStore } from './adapters/blob/fs/fs-blob-store.js';
import { HttpBlobStore } from './adapters/blob/http/http-blob-store.js';
import { InProcessJobEventBus } from './adapters/events/in-process-job-event-bus.js';
import { RabbitMqJobEventBus } from './adapters/events/rabbitmq-job-event-bus.js';
import { StorePollingJobEventBus } from './adapters/events/store-polling-job-event-bus.js';
import { EmbeddedJobQueue } from './adapters/queue/embedded/embedded-job-queue.js';
import { RabbitMqJobQueue } from './adapters/queue/rabbitmq/rabbitmq-job-queue.js';
import { createDockerRuntime, type DockerRuntime } from './adapters/runtime/docker/docker-runtime.js';
import { registryDigest } from './adapters/runtime/docker/registry-digest.js';
import { openJobStore } from './adapters/store/open-job-store.js';
import type { KyselyJobStore } from './adapters/store/sql/kysely-job-store.js';
import { KyselyTokenStore } from './adapters/store/sql/kysely-token-store.js';
import { parseEnginesConfig } from './config/engines-config.js';
import { ConfigError } from './config/load-config.js';
import type { Config } from './config/schema.js';
import { buildApp } from './http/build-app.js';
import type { ContainerRuntime } from './ports/container-runtime.js';
import type { JobEventBus } from './ports/job-event-bus.js';
import type { JobQueue } from './ports/job-queue.js';
import { EngineRegistry } from './services/engine-registry.js';
import { EngineReloader, type ReloadResult } from './services/engine-reloader.js';
import { Retention } from './services/retention.js';
import { Webhooks } from './services/webhooks.js';
import { KyselyWebhookStore } from './adapters/store/sql/kysely-webhook-store.js';
import { jobView } from './http/views.js';
import { relayJobEvents } from './services/job-event-relay.js';
import { JobEvents } from './services/job-events.js';
import { JobService } from './services/job-service.js';
import { TokenService } from './services/token-service.js';
import { createMetrics } from './services/metrics.js';
import { recoverWorker, sweepOutbox } from './services/recover.js';
import { JobRunner } from './services/run-job.js';
import { WorkerPool } from './worker/worker-pool.js';

/** A running service: its address (when it serves HTTP) and how to stop it. */
export interface RunningService {
  readonly url: string | null;
  readonly app: FastifyInstance | null;
  readonly workerId: string | null;
  /** Applies engines.json again (SIGHUP); a bad file keeps the engines in force. */
  reloadEngines(): Promise<ReloadResult>;
  stop(): Promise<void>;
}

/** The console's files, shipped beside dist/ and src/. */
export const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'web');

/** A secret made once and kept in the data directory (mode 0600), so it survives restarts. */
function keptSecret(dataDir: string, name: string): string {
  const file = path.join(dataDir, name);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(file, secret + '\n', { flag: 'wx', mode: 0o600 });
    return secret;
  }
}

/** A worker node's id, made once and kept in the data directory so a restart finds what it left. */
function workerIdFor(config: Readonly<Config>): string {
  if (config.workerId) return config.workerId;
  const file = path.join(config.data, 'worker-id');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const id = `w-${randomBytes(6).toString('hex')}`;
    writeFileSync(file, id + '\n', { flag: 'wx' });
    return id;
  }
}

function openQueue(url: string, store: KyselyJobStore, config: Readonly<Config>, logger: Logger): JobQueue {
  if (url === 'embedded')
    return new EmbeddedJobQueue(store.db, {
      pollIntervalMs: config.pollIntervalMs,
      logger,
      traits: store.traits,
    });
  if (/^amqps?:\/\//.test(url)) return new RabbitMqJobQueue({ url, logger });
  throw new Error(
    `unsupported queue URL ${JSON.stringify(url.replace(/\/\/[^@]*@/, '//…@'))}; use "embedded" or amqp://…`,
  );
}

/**
 * How job changes reach the live views of other nodes: the broker when there is
 * one; without one, an API node reads them from the shared database (the worker
 * nodes are other processes); a node of role all runs its own jobs and needs nothing.
 */
function openEventBus(store: KyselyJobStore, config: Readonly<Config>, logger: Logger): JobEventBus {
  if (/^amqps?:\/\//.test(config.queue)) return new RabbitMqJobEventBus({ url: config.queue, logger });
  if (config.role === 'api') return new StorePollingJobEventBus({ store, logger });
  return new InProcessJobEventBus();
}

/** A worker node given an API URL keeps no blobs: it reaches the API's over HTTP. */
function openBlobs(config: Readonly<Config>): FsBlobStore | HttpBlobStore {
  if (config.role === 'worker' && config.api) {
    if (!config.workerSecret)
      throw new ConfigError(
        'a worker node with --api needs the worker secret the API nodes have (--worker-secret or MENAGERIE_WORKER_SECRET)',
      );
    return new HttpBlobStore({
      apiUrl: config.api,
      workerSecret: config.workerSecret,
      tmpDir: path.join(config.data, 'blob-uploads'),
    });
  }
  return new FsBlobStore(path.join(config.data, 'blobs'));
}

/**
 * The composition root: picks the adapters from the configuration, wires the
 * services, recovers what a crash left, and starts the roles asked for.
 */
export async function startService(config: Readonly<Config>, logger: Logger): Promise<RunningService> {
  mkdirSync(config.data, { recursive: true });
  const engines = parseEnginesConfig(
    await readFile(config.engines, 'utf8'),
    config.engineDefaults,
    config.engines,
  );
  const registry = new EngineRegistry(engines);
  const store = openJobStore(config.db as string, logger);
  const stops: (() => Promise<void>)[] = [async () => store.close()];
  const stop = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) {
      await s().catch((error: unknown) => logger.warn({ err: error }, 'shutdown step failed'));
    }
  };
  try {
    await store.migrate();
    const queue = openQueue(config.queue, store, config, logger);
    stops.push(() => queue.close());
    const blobs = openBlobs(config);
    await blobs.init();
    const metrics = createMetrics();
    const events = new JobEvents();
    const bus = openEventBus(store, config, logger);
    stops.push(() => bus.close());
    const stopRelay = relayJobEvents({ events, bus, store, logger, receive: config.role !== 'worker' });
    stops.push(async () => stopRelay());
    const service = new JobService({ store, queue, blobs, engines: registry, events, metrics, logger });
    const tokenStore = new KyselyTokenStore(store.db);
    const tokens = new TokenService(tokenStore, tokenStore);

    let pool: WorkerPool | null = null;
    let runtime: ContainerRuntime | null = null;
    let dockerRuntime: DockerRuntime | null = null;
    let runner: JobRunner | null = null;
    let workerId: string | null = null;
    if (config.role !== 'api') {
      workerId = workerIdFor(config);
      runtime = dockerRuntime = await createDockerRuntime({
        dockerHost: config.dockerHost,
        jobIo: config.jobIo,
        workDir: path.join(config.data, 'jobfs', workerId),
        logger,
      });
      const scratchDir = path.join(config.data, 'scratch', workerId);
      mkdirSync(scratchDir, { recursive: true });
      runner = new JobRunner({
        store,
        blobs,
        runtime,
        engines: registry,
        events,
        metrics,
        logger,
        workerId,
        scratchDir,
        maxAttempts: config.maxAttempts,
        summaryMaxBytes: config.summaryMaxBytes,
      });
      stops.push(async () => runner?.close());
      await recoverWorker({ store, queue, runtime, workerId, logger });
      const missingImages: string[] = [];
      for (const engine of engines) {
        const image = await runner.resolveImage(engine).catch(() => undefined);
        if (!image) {
          missingImages.push(engine.name);
          logger.error(
            { engine: engine.name, image: engine.image, workerId },
            'engine image is missing on this worker node and could not be pulled; its jobs taken here will fail',
          );
        }
      }
      const workers = new WorkerPool({
        queue,
        runner,
        engines: registry,
        workerId,
        logger,
        store,
        events,
      });
      pool = workers;
      workers.start();
      stops.push(() => workers.stop(10_000));
      logger.info(
        { workerId, jobIo: runtime.jobIo, engines: engines.map((e) => e.name), missingImages },
        'worker started',
      );
    }

    const reloader = new EngineReloader({
      file: config.engines,
      defaults: config.engineDefaults,
      registry,
      onChange: () => pool?.reconcile(),
      logger,
    });
    const stopWatching = reloader.watch();
    stops.push(async () => stopWatching());

    const webhooks = new Webhooks({
      store: new KyselyWebhookStore(store.db),
      settings: {
        allow: config.webhooks.allow,
        secret: config.webhooks.secret ?? keptSecret(config.data, 'webhook-secret'),
        maxAttempts: config.webhooks.maxAttempts,
        timeoutMs: config.webhooks.timeoutMs,
      },
      render: async (jobId) => {
        const job = await store.getJob(jobId);
        return job ? jobView(job) : { id: jobId };
      },
      logger,
    });

    let app: FastifyInstance | null = null;
    let url: string | null = null;
    if (config.role !== 'worker') {
      const activeRunner = runner;
      const activeRuntime = runtime;
      app = await buildApp(
        {
          config,
          service,
          registry,
          store,
          queue,
          events,
          metrics,
          blobs,
          webDir,
          tokens,
          audit: tokenStore,
          webhooks,
          reloadEngines: () => reloader.reload(),
          lastReload: () => reloader.lastResult,
          imageInfo: async (name, options) => {
            const engine = registry.find(name);
            const image =
              engine && activeRunner
                ? await activeRunner.resolveImage(engine).catch(() => undefined)
                : undefined;
            const latest =
              options?.checkRegistry && engine && dockerRuntime
                ? await registryDigest(dockerRuntime.docker, engine.image)
                : null;
            return { digest: image?.digest ?? null, available: Boolean(image), registryDigest: latest };
          },
          readinessChecks: () => ({
            database: () => store.ping(),
            ...(activeRuntime ? { docker: () => activeRuntime.ping() } : {}),
          }),
        },
        logger,
      );
      const sweep = setInterval(() => {
        sweepOutbox({ store, queue, logger, olderThanMs: 5000 }).catch((error: unknown) =>
          logger.warn({ err: error }, 'outbox sweep failed'),
        );
      }, 5000);
      stops.push(async () => clearInterval(sweep));
      const retention = new Retention({
        store,
        blobs,
        settings: {
          days: config.retention.days,
          engineDays: config.retention.engineDays,
          minFreeBytes: config.retention.minFreeMb * 1024 * 1024,
        },
        dataDir: config.data,
        logger,
      });
      let retaining = false;
      const retentionTimer = setInterval(() => {
        if (retaining) return;
        retaining = true;
        retention
          .sweep()
          .catch((error: unknown) => logger.warn({ err: error }, 'retention pass failed'))
          .finally(() => (retaining = false));
      }, config.retention.intervalSeconds * 1000);
      stops.push(async () => clearInterval(retentionTimer));
      let delivering = false;
      const webhookTimer = setInterval(() => {
        if (delivering) return;
        delivering = true;
        webhooks
          .pass()
          .catch((error: unknown) => logger.warn({ err: error }, 'webhook pass failed'))
          .finally(() => (delivering = false));
      }, config.webhooks.intervalMs);
      stops.push(async () => clearInterval(webhookTimer));
      const listening = app;
      stops.push(() => listening.close());
      url = await app.listen({ port: config.port, host: config.host });
    }
    return { url, app, workerId, stop, reloadEngines: () => reloader.reload() };
  } catch (error) {
    await stop();
    throw error;
  }
}
