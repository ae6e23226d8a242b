import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestServers } from '../contract/backends.js';
import { docker, submit, waitFor } from '../helpers/service.js';
import { startCluster, type Cluster } from './cluster.js';

useTestServers('shared');

describe('a job whose worker is lost more often than maxAttempts', () => {
  let cluster: Cluster | undefined;
  let configDir = '';

  afterAll(async () => {
    if (cluster) {
      const { leftovers } = await cluster.stop();
      expect(leftovers).toEqual(cluster.workerIds.map(() => ({ containers: [], volumes: [] })));
    }
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  it('fails once with the reason and goes to the dead-letter queue', async () => {
    configDir = await mkdtemp(path.join(tmpdir(), 'menagerie-give-up-'));
    const config = path.join(configDir, 'config.json');
    await writeFile(config, JSON.stringify({ maxAttempts: 1 }));
    cluster = await startCluster({ workers: 2, script: 'sleep 60', extraArgs: ['--config', config] });
    const c = cluster;
    try {
      const id = await submit(c.api.url!, c.engine, Buffer.from('doomed'));
      const runner = await waitFor('the job to run', async () => {
        const found = await docker.listContainers({
          filters: { label: [`menagerie.job=${id}`], status: ['running'] },
        });
        return found[0]?.Labels['menagerie.worker'];
      });
      await c.kill(c.workers[c.workerIds.indexOf(runner)]!);
      const [job] = await c.waitAllFinal([id], 30_000);
      expect(job).toMatchObject({
        state: 'failed',
        reason: 'gave up after 1 attempts (the worker running it was lost each time)',
      });
      await waitFor('the dead letter', async () => ((await c.deadLetters()) === 1 ? true : undefined));
      expect(await c.messagesLeft()).toBe(0);
      // The killed node comes back and removes the container it left running.
      await c.restart(c.workers[c.workerIds.indexOf(runner)]!);
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 120_000);
});
