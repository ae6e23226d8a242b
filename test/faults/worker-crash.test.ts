import { afterAll, describe, expect, it } from 'vitest';
import { useTestServers } from '../contract/backends.js';
import { docker, getJob, submit, waitFor } from '../helpers/service.js';
import { startCluster, type Cluster } from './cluster.js';

useTestServers('shared');

describe.each([
  ['postgres', 'rabbitmq'],
  ['mysql', 'embedded'],
] as const)('a worker node SIGKILLed mid-job (%s, %s queue)', (db, queue) => {
  let cluster: Cluster | undefined;

  afterAll(async () => {
    if (!cluster) return;
    const { leftovers } = await cluster.stop();
    expect(leftovers).toEqual(cluster.workerIds.map(() => ({ containers: [], volumes: [] })));
  });

  it('loses no job: its jobs finish on the other worker, each once, and the restarted one leaves nothing', async () => {
    cluster = await startCluster({ workers: 2, db, queue });
    const c = cluster;
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await submit(c.api.url!, c.engine, Buffer.from(`input ${i}`)));
      const [victim, survivor] = c.workers;
      const victimId = c.workerIds[0]!;
      const taken = await waitFor('the first worker to run a job', async () => {
        const running = await docker.listContainers({
          filters: { label: [`menagerie.worker=${victimId}`], status: ['running'] },
        });
        return running[0]?.Labels['menagerie.job'];
      });
      await c.kill(victim!);
      // The embedded queue hands a lost lease on when it runs out (the engine's timeout plus a
      // margin: minutes) or at once when the node comes back; RabbitMQ redelivers when the
      // connection drops, so there the survivor must finish it alone.
      if (queue === 'embedded') await c.restart(victim!);

      const jobs = await c.waitAllFinal(ids, 90_000);
      expect(jobs.map((j) => j.state)).toEqual(ids.map(() => 'succeeded'));
      const retaken = jobs.find((j) => j.id === taken)!;
      expect(retaken.attempts).toBeGreaterThanOrEqual(2);
      if (queue === 'rabbitmq')
        expect(
          survivor!.logs.some((line) => line.includes(taken) && line.includes('"msg":"job finished"')),
        ).toBe(true);
      for (const id of ids) expect(await (await fetch(`${c.api.url}/link/${id}`)).text()).toBe('done\n');
      expect(survivor!.child.exitCode).toBeNull();

      // The killed node comes back, removes what its last run left, and takes work again.
      if (queue === 'rabbitmq') await c.restart(victim!);
      const more = await submit(c.api.url!, c.engine, Buffer.from('after restart'));
      expect((await c.waitAllFinal([more]))[0]!.state).toBe('succeeded');
      await waitFor('no message left', async () => ((await c.messagesLeft()) === 0 ? true : undefined));
      for (const id of ids) expect((await getJob(c.api.url!, id)).state).toBe('succeeded');
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 150_000);
});
