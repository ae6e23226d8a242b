import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestServers } from '../contract/backends.js';
import { submit, waitFor } from '../helpers/service.js';
import { startCluster, type Cluster } from './cluster.js';
import { startPrivateDockerd, type PrivateDockerd } from './private-dockerd.js';

useTestServers('shared');

const testkitImage = 'localhost:5000/testkit:stable';
/** The shared engine's bridge, which image builds need: a second daemon must leave it alone. */
const sharedBridge = '/sys/class/net/docker0';

/**
 * Two worker nodes over PostgreSQL and RabbitMQ: the first runs its containers
 * on a Docker engine of its own, restarted (live-restore) while it runs a job;
 * the second on the shared engine.
 */
describe('dockerd restarted under load (live-restore)', () => {
  let dockerd: PrivateDockerd | undefined;
  let cluster: Cluster | undefined;
  const bridgeBefore = existsSync(sharedBridge);

  afterEach(async () => {
    const c = cluster;
    cluster = undefined;
    try {
      if (c) {
        const { leftovers } = await c.stop();
        expect(leftovers).toEqual(c.workerIds.map(() => ({ containers: [], volumes: [] })));
      }
    } finally {
      await dockerd?.destroy();
      dockerd = undefined;
    }
    expect(existsSync(sharedBridge)).toBe(bridgeBefore);
  });

  async function start(script: string): Promise<{ c: Cluster; d: PrivateDockerd }> {
    dockerd = await startPrivateDockerd();
    await dockerd.copyImage(testkitImage);
    cluster = await startCluster({ workers: 2, script, workerDockerHosts: [dockerd.host] });
    return { c: cluster, d: dockerd };
  }

  /** Waits until the first worker runs a container on its own engine; returns that job's id. */
  function runningOnPrivate(c: Cluster, d: PrivateDockerd): Promise<string> {
    return waitFor(
      'a job running on the restarted engine',
      async () => {
        const running = await d.docker.listContainers({
          filters: { label: [`menagerie.worker=${c.workerIds[0]}`], status: ['running'] },
        });
        return running[0]?.Labels['menagerie.job'];
      },
      60_000,
    );
  }

  /** What the first worker left on its own engine: nothing, once its deferred cleanups ran. */
  async function privateLeftovers(c: Cluster, d: PrivateDockerd): Promise<string[]> {
    const filters = { label: [`menagerie.worker=${c.workerIds[0]}`] };
    const containers = await d.docker.listContainers({ all: true, filters });
    const { Volumes } = await d.docker.listVolumes({ filters });
    return [...containers.map((x) => x.Id), ...(Volumes ?? []).map((v) => v.Name)];
  }

  it('with 50 jobs in flight: the running ones finish, every job ends once, nothing is left', async () => {
    const { c, d } = await start('sleep 3; echo done > /var/data/result');
    try {
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) ids.push(await submit(c.api.url!, c.engine, Buffer.from(`input ${i}`)));
      const during = await runningOnPrivate(c, d);
      await d.restart();

      const jobs = await c.waitAllFinal(ids, 240_000);
      expect(jobs.map((j) => j.state)).toEqual(ids.map(() => 'succeeded'));
      for (const id of ids) expect(await (await fetch(`${c.api.url}/link/${id}`)).text()).toBe('done\n');
      // Its container ran on through the restart and the worker waited for it: one attempt.
      const survivor = jobs.find((j) => j.id === during)!;
      expect(survivor.attempts).toBe(1);
      const worker = c.workers[0]!;
      expect(
        worker.logs.some(
          (line) => line.includes(during) && line.includes('the Docker engine went away during the run'),
        ),
      ).toBe(true);
      // Both workers took part, and the first one ran jobs after the restart too.
      const finishedOn = (w: number): number =>
        c.workers[w]!.logs.filter((line) => line.includes('"msg":"job finished"')).length;
      expect(finishedOn(0)).toBeGreaterThan(1);
      expect(finishedOn(1)).toBeGreaterThan(0);
      expect(worker.child.exitCode).toBeNull();
      // Its last container goes just after its job is recorded.
      await waitFor('nothing left on the restarted engine', async () =>
        (await privateLeftovers(c, d)).length === 0 ? true : undefined,
      );
      await waitFor('no message left', async () => ((await c.messagesLeft()) === 0 ? true : undefined));
      expect(await c.deadLetters()).toBe(0);
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 300_000);

  it('a job whose stdout is its result runs again: its output was cut', async () => {
    const { c, d } = await start('sleep 3; echo done');
    try {
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(await submit(c.api.url!, c.engine, Buffer.from(`input ${i}`)));
      const during = await runningOnPrivate(c, d);
      await d.restart();

      const jobs = await c.waitAllFinal(ids, 120_000);
      expect(jobs.map((j) => j.state)).toEqual(ids.map(() => 'succeeded'));
      for (const id of ids) expect(await (await fetch(`${c.api.url}/link/${id}`)).text()).toBe('done\n');
      expect(jobs.find((j) => j.id === during)!.attempts).toBeGreaterThanOrEqual(2);
      expect(
        c.workers[0]!.logs.some((line) => line.includes(during) && line.includes('cutting its output')),
      ).toBe(true);
      // The cut attempt's container and volume, removed once the engine answered again.
      await waitFor('the cut attempt cleaned up', async () =>
        (await privateLeftovers(c, d)).length === 0 ? true : undefined,
      );
      await waitFor('no message left', async () => ((await c.messagesLeft()) === 0 ? true : undefined));
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 300_000);

  it('a job that closed its output is followed through the restart to its end', async () => {
    const { c, d } = await start('exec >&- 2>&-; sleep 4; echo done > /var/data/result');
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await submit(c.api.url!, c.engine, Buffer.from(`input ${i}`)));
      const during = await runningOnPrivate(c, d);
      // Past the moment the worker saw its output end and found the container running on.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await d.restart(200);

      const jobs = await c.waitAllFinal(ids, 120_000);
      expect(jobs.map((j) => j.state)).toEqual(ids.map(() => 'succeeded'));
      for (const id of ids) expect(await (await fetch(`${c.api.url}/link/${id}`)).text()).toBe('done\n');
      // Its result is a file, so the restart cost it nothing: one attempt.
      expect(jobs.find((j) => j.id === during)!.attempts).toBe(1);
      const logs = (await (await fetch(`${c.api.url}/api/v1/jobs/${during}/logs`)).json()) as {
        stderr: string;
      };
      expect(logs.stderr).toContain('the Docker engine restarted during the run');
      await waitFor('nothing left on the restarted engine', async () =>
        (await privateLeftovers(c, d)).length === 0 ? true : undefined,
      );
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 300_000);
});
