import { afterEach, describe, expect, it } from 'vitest';
import { useTestServers } from '../contract/backends.js';
import { submit, upload } from '../helpers/service.js';
import {
  expectEveryJobDoneOnce,
  notFinal,
  postgresCluster,
  rabbitmqctl,
  startCluster,
  submitRetrying,
  submitMany,
  waitForRunning,
  type Cluster,
} from './cluster.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

useTestServers('exclusive');

describe('a backend restarted under load', () => {
  let cluster: Cluster | undefined;
  let restore: (() => Promise<void>) | undefined;

  afterEach(async () => {
    // Whatever happened, the shared servers are left running.
    await restore?.();
    restore = undefined;
    if (!cluster) return;
    const c = cluster;
    cluster = undefined;
    const { leftovers } = await c.stop();
    expect(leftovers).toEqual(c.workerIds.map(() => ({ containers: [], volumes: [] })));
  });

  it('RabbitMQ: with 50 jobs in flight nodes reconnect by themselves, no job is lost, each ends once', async () => {
    cluster = await startCluster({ workers: 2 });
    const c = cluster;
    try {
      const ids = await submitMany(c, 'before', 50);
      await sleep(1500);
      await waitForRunning(c);
      restore = () => rabbitmqctl('start_app');
      await rabbitmqctl('stop_app');
      const inFlight = await notFinal(c, ids);
      // Accepted while the broker is away: stored, and published by the outbox once it is back.
      for (let i = 0; i < 4; i++) ids.push(await submit(c.api.url!, c.engine, Buffer.from(`during ${i}`)));
      await sleep(2000);
      await rabbitmqctl('start_app');
      restore = undefined;
      for (let i = 0; i < 4; i++) ids.push(await submit(c.api.url!, c.engine, Buffer.from(`after ${i}`)));

      const jobs = await c.waitAllFinal(ids, 240_000);
      expect(inFlight).toBeGreaterThanOrEqual(30);
      await expectEveryJobDoneOnce(c, ids, jobs);
      expect(c.workers.every((w) => w.child.exitCode === null)).toBe(true);
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 300_000);

  it('PostgreSQL: with 50 jobs in flight the API answers 503 while it is gone, and everything completes after, each once', async () => {
    cluster = await startCluster({ workers: 2 });
    const c = cluster;
    try {
      const ids = await submitMany(c, 'before', 50);
      await sleep(1500);
      await waitForRunning(c);
      const inFlight = await notFinal(c, ids);
      restore = () => postgresCluster('start');
      await postgresCluster('stop');
      const ready = await fetch(`${c.api.url}/readyz`);
      expect(ready.status).toBe(503);
      const job = await fetch(`${c.api.url}/api/v1/jobs/${ids[0]}`);
      expect(job.status).toBe(503);
      expect(await job.json()).toMatchObject({ error: { code: 'NOT_READY' } });
      const refused = await upload(c.api.url!, c.engine, Buffer.from('during'));
      expect(refused.status).toBe(503);
      await sleep(2000);
      await postgresCluster('start');
      restore = undefined;
      ids.push(await submitRetrying(c.api.url!, c.engine, Buffer.from('after')));

      const jobs = await c.waitAllFinal(ids, 240_000);
      expect(inFlight).toBeGreaterThanOrEqual(30);
      await expectEveryJobDoneOnce(c, ids, jobs);
      expect((await fetch(`${c.api.url}/readyz`)).status).toBe(200);
      expect(c.workers.every((w) => w.child.exitCode === null)).toBe(true);
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 300_000);
});
