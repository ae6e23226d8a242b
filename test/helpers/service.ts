import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { startService, type RunningService } from '../../src/main.js';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const testkitEngines = path.join(repoRoot, 'test', 'fixtures', 'engines', 'engines.json');
export const sampleEngines = path.join(repoRoot, 'engines', 'engines.json');
export const frameworkApk = path.join(repoRoot, 'test', 'fixtures', 'generated', 'framework-res.apk');

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

export interface TestService {
  readonly url: string;
  readonly dataDir: string;
  readonly workerId: string;
  readonly service: RunningService;
  stop(): Promise<void>;
}

/** An engines.json entry for the test kit image. */
export function testkitEngine(name: string, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    workers: 2,
    image: 'localhost:5000/testkit:stable',
    runflags: ['--network', 'none', '--read-only'],
    mountpoint: '/var/data',
    sizelimit: 1_000_000,
    inputfilename: 'sample',
    user: 1000,
    timeout: 30,
    ...fields,
  };
}

/** Writes an engines.json into a fresh temporary directory and returns its path. */
export async function writeEngines(engines: Record<string, unknown>[]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'menagerie-engines-'));
  const file = path.join(dir, 'engines.json');
  await writeFile(file, JSON.stringify({ engines }, null, 2));
  return file;
}

/** Starts the whole service in this process on a free port, with its own data directory and worker id. */
export async function startTestService(options: {
  engines: string;
  flags?: Partial<Record<keyof Config, unknown>>;
  dataDir?: string;
}): Promise<TestService> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'menagerie-data-')));
  const workerId = `test-${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    env: {},
    flags: {
      port: 0,
      host: '127.0.0.1',
      data: dataDir,
      engines: options.engines,
      workerId,
      logLevel: process.env.MENAGERIE_TEST_LOG_LEVEL ?? 'silent',
      pollIntervalMs: 200,
      ...options.flags,
    },
  });
  const service = await startService(config, pino({ level: config.logLevel }));
  return {
    url: service.url as string,
    dataDir,
    workerId,
    service,
    stop: async () => {
      await service.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Containers and volumes Docker still holds for a worker id. */
export async function leftoversOf(workerId: string): Promise<{ containers: string[]; volumes: string[] }> {
  const filters = { label: [`menagerie.worker=${workerId}`] };
  const containers = await docker.listContainers({ all: true, filters });
  const { Volumes } = await docker.listVolumes({ filters });
  return { containers: containers.map((c) => c.Id), volumes: (Volumes ?? []).map((v) => v.Name) };
}

export interface JobJson {
  id: string;
  engine: string;
  state: string;
  reason: string | null;
  exitCode: number | null;
  summary: string | null;
  imageDigest: string | null;
  input: { name: string; size: number; sha256: string };
  result: { kind: string; size: number } | null;
  attempts: number;
}

export async function upload(
  url: string,
  engine: string,
  body: Buffer | Blob,
  fileName = 'sample.bin',
): Promise<Response> {
  const form = new FormData();
  form.append('upload', body instanceof Blob ? body : new Blob([body]), fileName);
  return fetch(`${url}/${engine}/upload`, { method: 'POST', body: form });
}

/** Submits through the compatible API and returns the job id. */
export async function submit(
  url: string,
  engine: string,
  body: Buffer | Blob,
  fileName?: string,
): Promise<string> {
  const response = await upload(url, engine, body, fileName);
  if (response.status !== 200) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { jobid: string }).jobid;
}

export async function getJob(url: string, id: string): Promise<JobJson> {
  const response = await fetch(`${url}/api/v1/jobs/${id}`);
  if (!response.ok) throw new Error(`job ${id}: ${response.status} ${await response.text()}`);
  return (await response.json()) as JobJson;
}

/** Polls a job until it is final (or until `timeoutMs`). */
export async function waitForFinal(url: string, id: string, timeoutMs = 60_000): Promise<JobJson> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(url, id);
    if (['succeeded', 'failed', 'cancelled'].includes(job.state)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
