import { afterAll, describe, expect, it } from 'vitest';
import { useTestServers } from '../contract/backends.js';
import { docker, getJob, submit, waitFor } from '../helpers/service.js';
import { startCluster, type Cluster } from './cluster.js';

useTestServers('shared');

describe('cancel on an API node of a job a worker node runs', () => {
  let cluster: Cluster | undefined;

  afterAll(async () => {
    if (!cluster) return;
    const { leftovers } = await cluster.stop();
    expect(leftovers).toEqual(cluster.workerIds.map(() => ({ containers: [], volumes: [] })));
  });

  it('stops the container on the worker node and the job stays cancelled', async () => {
    cluster = await startCluster({ workers: 1, script: 'sleep 60; echo done > /var/data/result' });
    const c = cluster;
    try {
      const id = await submit(c.api.url!, c.engine, Buffer.from('long'));
      const container = await waitFor('the job to run', async () => {
        const found = await docker.listContainers({
          filters: { label: [`menagerie.job=${id}`], status: ['running'] },
        });
        return found[0]?.Id;
      });
      const response = await fetch(`${c.api.url}/api/v1/jobs/${id}`, { method: 'DELETE' });
      expect(response.status).toBe(200);
      await waitFor(
        'the container to be gone',
        async () => {
          const gone = await docker
            .getContainer(container)
            .inspect()
            .then(
              () => false,
              () => true,
            );
          return gone ? true : undefined;
        },
        20_000,
      );
      const job = await getJob(c.api.url!, id);
      expect(job.state).toBe('cancelled');
      expect(job.reason).toBe('cancelled by request');
      expect(await c.messagesLeft()).toBe(0);
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 90_000);
});
