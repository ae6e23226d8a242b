import { afterAll, describe, expect, it } from 'vitest';
import { useTestServers } from '../contract/backends.js';
import { docker, getJob, submit, waitFor } from '../helpers/service.js';
import { expectEveryJobDoneOnce, notFinal, startCluster, submitMany, type Cluster } from './cluster.js';

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

  it('with 50 jobs in flight loses no job: its jobs finish on the other worker, each once, and the restarted one leaves nothing', async () => {
    cluster = await startCluster({ workers: 2, db, queue });
    const c = cluster;
    try {
      const ids = await submitMany(c, 'input', 50);
      const [victim, survivor] = c.workers;
      const victimId = c.workerIds[0]!;
      const finishedOn = (node: typeof victim): number =>
        node!.logs.filter((line) => line.includes('"msg":"job finished"')).length;
      // Into the run, not at its start: both nodes have finished jobs.
      await waitFor('both workers to finish jobs', async () =>
        finishedOn(victim) >= 2 && finishedOn(survivor) >= 2 ? true : undefined,
      );
      // The kill lands while every container of the victim runs: none of its jobs is between
      // its container's exit and its record, so each job's record is either made or not.
      const taken = await waitFor('the first worker to run jobs only', async () => {
        const its = await docker.listContainers({
          all: true,
          filters: { label: [`menagerie.worker=${victimId}`] },
        });
        return its.length > 0 && its.every((x) => x.State === 'running')
          ? its[0]!.Labels['menagerie.job']
          : undefined;
      });
      await c.kill(victim!);
      const inFlight = await notFinal(c, ids);
      // The embedded queue hands a lost lease on when it runs out (the engine's timeout plus a
      // margin: minutes) or at once when the node comes back; RabbitMQ redelivers when the
      // connection drops, so there the survivor must finish it alone.
      if (queue === 'embedded') await c.restart(victim!);
      else {
        await c.waitAllFinal([taken!], 120_000);
        expect(
          survivor!.logs.some((line) => line.includes(taken!) && line.includes('"msg":"job finished"')),
        ).toBe(true);
        // The killed node comes back while work is still queued, removes what its last run
        // left, and takes work again.
        const before = finishedOn(victim);
        await c.restart(victim!);
        await waitFor(
          'the restarted worker to finish a job',
          async () => (finishedOn(victim) > before ? true : undefined),
          120_000,
        );
      }

      const jobs = await c.waitAllFinal(ids, 240_000);
      expect(inFlight).toBeGreaterThanOrEqual(20);
      expect(jobs.find((j) => j.id === taken)!.attempts).toBeGreaterThanOrEqual(2);
      await expectEveryJobDoneOnce(c, ids, jobs);
      expect(survivor!.child.exitCode).toBeNull();
      expect(victim!.child.exitCode).toBeNull();

      const more = await submit(c.api.url!, c.engine, Buffer.from('after restart'));
      expect((await c.waitAllFinal([more]))[0]!.state).toBe('succeeded');
      await waitFor('no message left', async () => ((await c.messagesLeft()) === 0 ? true : undefined));
      for (const id of ids) expect((await getJob(c.api.url!, id)).state).toBe('succeeded');
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 300_000);
});
