import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { createScratchDatabase, testUrls, type ScratchDatabase } from '../contract/backends.js';
import { deleteQueues } from '../contract/queue-backends.js';
import {
  docker,
  leftoversOf,
  repoRoot,
  submit,
  testkitEngine,
  upload,
  waitFor,
  writeEngines,
  type JobJson,
} from '../helpers/service.js';

const run = promisify(execFile);
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

/** Log lines kept per node: enough for every line a 50-job run writes, so tests can count them. */
const keptLogLines = 2000;

/** One `menagerie serve` process of the cluster. */
export interface ClusterNode {
  readonly name: string;
  readonly args: string[];
  /** Environment variables set for it on top of the test's own. */
  readonly env: Record<string, string>;
  child: ChildProcess;
  /** The API's URL (API nodes only). */
  url: string | null;
  /** Its last log lines (up to {@link keptLogLines}), checked by tests and printed when one fails. */
  readonly logs: string[];
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a node and resolves once it serves (API) or its workers run (worker). */
async function startNode(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  logs: string[] = [],
): Promise<ClusterNode> {
  const child = spawn(process.execPath, [cli, 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const keep = (line: string): void => {
    logs.push(line);
    if (logs.length > keptLogLines) logs.shift();
  };
  createInterface({ input: child.stderr! }).on('line', keep);
  const url = await new Promise<string | null>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      keep(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'menagerie is serving' && entry.url) resolve(entry.url);
        if (entry.msg === 'worker started' && args.includes('worker')) resolve(null);
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`${name} exited (${code ?? signal}) while starting:\n${logs.slice(-30).join('\n')}`)),
    );
  });
  return { name, args, env, child, url, logs };
}

export interface Cluster {
  readonly engine: string;
  readonly api: ClusterNode;
  /** The API node's data directory (its blobs). */
  readonly apiData: string;
  readonly workers: ClusterNode[];
  readonly workerIds: string[];
  /** SIGKILLs a node and waits for it to be gone. */
  kill(node: ClusterNode): Promise<void>;
  /** Starts a stopped or killed node again with the same arguments. */
  restart(node: ClusterNode): Promise<void>;
  /** Polls until every job is final; returns them. */
  waitAllFinal(ids: readonly string[], timeoutMs?: number): Promise<JobJson[]>;
  /** Messages in the engine's dead-letter queue (RabbitMQ). */
  deadLetters(): Promise<number>;
  /** Messages still in the engine's work queue, ready or unacked (RabbitMQ). */
  messagesLeft(): Promise<number>;
  /** Stops every node, checks and removes what the cluster made. */
  stop(): Promise<{ leftovers: { containers: string[]; volumes: string[] }[] }>;
  dumpLogs(): string;
}

/**
 * An API node and `workers` worker nodes as real processes over PostgreSQL and
 * RabbitMQ (or the embedded queue), each worker with its own data directory,
 * reaching blobs only through the API.
 */
export async function startCluster(options: {
  workers: number;
  db?: 'postgres' | 'mysql';
  queue?: 'rabbitmq' | 'embedded';
  /** Shell command of the engine; default: sleep 1 s and write a result. */
  script?: string;
  /** More `serve` arguments for every node. */
  extraArgs?: string[];
  /** Per worker node, the Docker engine it runs containers on (DOCKER_HOST); default the shared one. */
  workerDockerHosts?: (string | undefined)[];
}): Promise<Cluster> {
  const tag = randomBytes(4).toString('hex');
  const engine = `fault-${tag}`;
  const secret = randomBytes(24).toString('hex');
  const database: ScratchDatabase = await createScratchDatabase(options.db ?? 'postgres');
  const queueUrl = (options.queue ?? 'rabbitmq') === 'rabbitmq' ? testUrls.amqp : 'embedded';
  const engines = await writeEngines([
    testkitEngine(engine, {
      workers: 2,
      timeout: 60,
      cmd: ['/bin/sh', '-c', options.script ?? 'sleep 1; echo done > /var/data/result'],
    }),
  ]);
  const dirs: string[] = [path.dirname(engines)];
  const common = ['--engines', engines, '--db', database.url, '--queue', queueUrl, '--log-level', 'info'];
  common.push('--worker-secret', secret, ...(options.extraArgs ?? []));
  const apiData = await mkdtemp(path.join(tmpdir(), 'menagerie-fault-api-'));
  dirs.push(apiData);
  const nodes: ClusterNode[] = [];
  // A fixed port, so the API can be restarted where the workers look for it.
  const port = await freePort();
  const workerIds: string[] = [];
  const workers: ClusterNode[] = [];
  let api!: ClusterNode;
  try {
    api = await startNode('api', [...common, '--role', 'api', '--port', String(port), '--data', apiData]);
    nodes.push(api);
    for (let i = 0; i < options.workers; i++) {
      const id = `fw-${tag}-${i}`;
      const data = await mkdtemp(path.join(tmpdir(), `menagerie-fault-${id}-`));
      dirs.push(data);
      workerIds.push(id);
      const args = [...common, '--role', 'worker', '--api', api.url!, '--worker-id', id, '--data', data];
      const dockerHost = options.workerDockerHosts?.[i];
      const node = await startNode(id, args, dockerHost ? { DOCKER_HOST: dockerHost } : {});
      nodes.push(node);
      workers.push(node);
    }
  } catch (error) {
    // A node that did not start: leave nothing behind either.
    for (const node of nodes) {
      node.child.kill('SIGTERM');
      await exited(node.child);
    }
    await database.drop().catch(() => undefined);
    for (const dir of dirs) await removeDir(dir);
    throw error;
  }

  const cluster: Cluster = {
    engine,
    api,
    apiData,
    workers,
    workerIds,
    kill: async (node) => {
      node.child.kill('SIGKILL');
      await exited(node.child);
    },
    restart: async (node) => {
      const again = await startNode(node.name, node.args, node.env, node.logs);
      node.child = again.child;
      node.url = again.url;
    },
    waitAllFinal: async (ids, timeoutMs = 60_000) => {
      const final = ['succeeded', 'failed', 'cancelled'];
      const deadline = Date.now() + timeoutMs;
      // One list request per poll: a patient client, well inside the API's rate limit.
      for (;;) {
        const response = await fetch(`${api.url}/api/v1/jobs?engine=${engine}&limit=500`).catch(
          () => undefined,
        );
        if (response?.ok) {
          const { jobs } = (await response.json()) as { jobs: JobJson[] };
          const byId = new Map(jobs.map((j) => [j.id, j]));
          const wanted = ids.map((id) => byId.get(id));
          if (wanted.every((j) => j && final.includes(j.state))) return wanted as JobJson[];
        }
        if (Date.now() > deadline) throw new Error('timed out waiting for every job to be final');
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    deadLetters: async () =>
      queueUrl === 'embedded' ? 0 : ((await queueMessages()).get(`menagerie.dead.${engine}`) ?? 0),
    messagesLeft: async () =>
      queueUrl === 'embedded' ? 0 : ((await queueMessages()).get(`menagerie.jobs.${engine}`) ?? 0),
    stop: async () => {
      for (const node of nodes) {
        if (node.child.exitCode === null && node.child.signalCode === null) {
          node.child.kill('SIGTERM');
          await exited(node.child);
        }
      }
      const leftovers = await Promise.all(workerIds.map((id) => leftoversOf(id)));
      // Reported above; removed here so a failed run leaves nothing on the shared Docker engine.
      for (const { containers, volumes } of leftovers) {
        for (const id of containers) await docker.getContainer(id).remove({ force: true, v: true });
        for (const name of volumes) {
          // A killed worker's job filesystem is still mounted on its volume's directory.
          const volume = docker.getVolume(name);
          const mountpoint = await volume.inspect().then(
            (v) => v.Mountpoint,
            () => undefined,
          );
          if (mountpoint) await run('umount', ['-l', mountpoint]).catch(() => undefined);
          await volume.remove().catch(() => undefined);
        }
      }
      await database.drop();
      if (queueUrl !== 'embedded') await deleteEngineQueues(engine);
      for (const dir of dirs) await removeDir(dir);
      return { leftovers };
    },
    dumpLogs: () => nodes.map((n) => `--- ${n.name}\n${n.logs.slice(-60).join('\n')}`).join('\n'),
  };
  return cluster;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Lazily unmounts `dir` and everything mounted below it, deepest first. */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort()
    .reverse();
  for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
}

/**
 * Removes a data directory; a job filesystem a killed, never restarted worker left
 * mounted is unmounted first (the leftovers check above has already reported it).
 */
async function removeDir(dir: string): Promise<void> {
  await unmountUnder(dir);
  await rm(dir, { recursive: true, force: true });
}

/** Messages in each queue of the broker, by queue name. */
async function queueMessages(): Promise<Map<string, number>> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_queues', 'name', 'messages'], {
    env: { ...process.env, RABBITMQ_NODENAME: 'rabbit@localhost' },
  });
  return new Map(
    stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, messages]) => [name!, Number(messages ?? 0)]),
  );
}

/** Removes the work, dead-letter and retry queues the RabbitMQ adapter made for an engine. */
async function deleteEngineQueues(engine: string): Promise<void> {
  const names = [...(await queueMessages()).keys()].filter(
    (n) => n.startsWith('menagerie.') && (n.endsWith(`.${engine}`) || n.includes(`.${engine}.`)),
  );
  await deleteQueues(names);
}

/** A patient client's upload: retried while the API is down or answers 503. */
export async function submitRetrying(url: string, engine: string, body: Buffer): Promise<string> {
  for (let tries = 0; ; tries++) {
    const response = await upload(url, engine, body).catch(() => undefined);
    if (response?.status === 200) return ((await response.json()) as { jobid: string }).jobid;
    if (response && response.status !== 503)
      throw new Error(`upload: ${response.status} ${await response.text()}`);
    if (tries > 60) throw new Error('the API did not come back');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** rabbitmqctl against the broker scripts/ensure-services.sh started. */
export async function rabbitmqctl(...args: string[]): Promise<void> {
  await run('rabbitmqctl', ['-q', ...args], {
    env: { ...process.env, RABBITMQ_NODENAME: 'rabbit@localhost' },
    timeout: 120_000,
  });
}

/** Stops or starts the local PostgreSQL cluster (the newest one pg_lsclusters lists). */
export async function postgresCluster(action: 'stop' | 'start'): Promise<void> {
  const { stdout } = await run('pg_lsclusters', ['-h']);
  const [version, name] = stdout.trim().split('\n').sort().at(-1)!.split(/\s+/);
  await run('pg_ctlcluster', [version!, name!, action, ...(action === 'stop' ? ['-m', 'fast'] : [])]);
}

/**
 * Submits `count` jobs (inputs `<label> 0`, `<label> 1` …), `concurrency` uploads at a time;
 * returns their ids in input order.
 */
export async function submitMany(
  c: Cluster,
  label: string,
  count: number,
  concurrency = 8,
): Promise<string[]> {
  const ids: string[] = new Array<string>(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++)
      ids[i] = await submit(c.api.url!, c.engine, Buffer.from(`${label} ${i}`));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return ids;
}

/** How many of `ids` are not final yet. */
export async function notFinal(c: Cluster, ids: readonly string[]): Promise<number> {
  const response = await fetch(`${c.api.url}/api/v1/jobs?engine=${c.engine}&limit=500`);
  const { jobs } = (await response.json()) as { jobs: JobJson[] };
  const final = new Set(
    jobs.filter((j) => ['succeeded', 'failed', 'cancelled'].includes(j.state)).map((j) => j.id),
  );
  return ids.filter((id) => !final.has(id)).length;
}

/** Waits until a container of one of the cluster's worker nodes runs: work is in flight. */
export async function waitForRunning(c: Cluster): Promise<void> {
  await waitFor('a job container to run', async () => {
    const running = await docker.listContainers({
      filters: { label: [`menagerie.worker`], status: ['running'] },
    });
    return running.some((x) => c.workerIds.includes(x.Labels['menagerie.worker'] ?? '')) ? true : undefined;
  });
}

/** Per job, how many `job finished` lines the worker nodes logged for it. */
export function timesFinished(c: Cluster, ids: readonly string[]): number[] {
  const lines = c.workers.flatMap((w) => w.logs.filter((line) => line.includes('"msg":"job finished"')));
  return ids.map((id) => lines.filter((line) => line.includes(`"jobId":"${id}"`)).length);
}

/**
 * The end every fault run must reach: each job succeeded and was recorded once (one
 * `job finished` line across the worker nodes), its result is the engine's output, and
 * the broker holds no message for the engine, none dead-lettered.
 */
export async function expectEveryJobDoneOnce(
  c: Cluster,
  ids: readonly string[],
  jobs: JobJson[],
): Promise<void> {
  expect(jobs.map((j) => j.state)).toEqual(ids.map(() => 'succeeded'));
  expect(timesFinished(c, ids)).toEqual(ids.map(() => 1));
  for (const id of ids) expect(await (await fetch(`${c.api.url}/link/${id}`)).text()).toBe('done\n');
  await waitFor('no message left', async () => ((await c.messagesLeft()) === 0 ? true : undefined));
  expect(await c.deadLetters()).toBe(0);
}
