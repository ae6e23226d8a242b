import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useTestServers } from '../contract/backends.js';
import {
  expectEveryJobDoneOnce,
  notFinal,
  startCluster,
  submitRetrying,
  submitMany,
  waitForRunning,
  type Cluster,
} from './cluster.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

useTestServers('shared');

describe('the API node SIGKILLed', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    if (!cluster) return;
    const c = cluster;
    cluster = undefined;
    const { leftovers } = await c.stop();
    expect(leftovers).toEqual(c.workerIds.map(() => ({ containers: [], volumes: [] })));
  });

  it('during an upload leaves no half-stored job or blob; with 50 jobs in flight clients retry and all completes once', async () => {
    cluster = await startCluster({ workers: 2 });
    const c = cluster;
    const url = c.api.url!;
    try {
      // An upload that stalls half-way, so the kill lands inside it.
      const boundary = '----menagerie-fault';
      const head = `--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === 0) controller.enqueue(new TextEncoder().encode(head));
          if (sent < 6) {
            controller.enqueue(new Uint8Array(64 * 1024).fill(65 + sent));
            sent += 1;
            return;
          }
          await sleep(60_000);
        },
      });
      const pending = fetch(`${url}/${c.engine}/upload`, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
        duplex: 'half',
      } as RequestInit).then(
        (r) => r.status,
        () => 'connection lost',
      );
      while (sent < 6) await sleep(50);
      await sleep(300);
      await c.kill(c.api);
      expect(await pending).toBe('connection lost');
      await c.restart(c.api);
      const listed = (await (await fetch(`${url}/api/v1/jobs?engine=${c.engine}`)).json()) as {
        jobs: unknown[];
      };
      expect(listed.jobs).toEqual([]);
      expect(await filesUnder(path.join(c.apiData, 'blobs'))).toEqual([]);

      const ids = await submitMany(c, 'steady', 46);
      await sleep(1500);
      await waitForRunning(c);
      const inFlight = await notFinal(c, ids);
      await c.kill(c.api);
      const restarting = sleep(1000).then(() => c.restart(c.api));
      for (let i = 0; i < 4; i++)
        ids.push(await submitRetrying(url, c.engine, Buffer.from(`while down ${i}`)));
      await restarting;

      const jobs = await c.waitAllFinal(ids, 240_000);
      expect(inFlight).toBeGreaterThanOrEqual(30);
      await expectEveryJobDoneOnce(c, ids, jobs);
      expect(c.workers.every((w) => w.child.exitCode === null)).toBe(true);
    } catch (error) {
      console.error(c.dumpLogs());
      throw error;
    }
  }, 300_000);
});
