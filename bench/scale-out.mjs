#!/usr/bin/env node
// Scale-out throughput, measured by hand (not a test):
//   npm run build && bash scripts/ensure-services.sh && node bench/scale-out.mjs
// Runs an API node and one, then two worker nodes as real processes over
// PostgreSQL and RabbitMQ, with an engine that sleeps 1 s and `workers: 8` on
// each node. For each layout it submits BENCH_N jobs (default 8 per worker
// slot × 4 rounds) and reports jobs/s against the ideal (worker slots ÷ 1 s),
// from the first upload to the last final state, and against what this host
// does with the same containers run by bare `docker run --rm`, as many at a
// time as the layout has worker slots (the host's own ceiling).
// Env: MENAGERIE_TEST_PG_URL, MENAGERIE_TEST_AMQP_URL (as the tests),
// BENCH_WORKERS (slots per node, default 8), BENCH_ROUNDS (default 4).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { bareDockerRun, image, pool } from './bare-docker-run.mjs';
import pg from 'pg';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const pgUrl = process.env.MENAGERIE_TEST_PG_URL ?? 'postgres://menagerie:menagerie@127.0.0.1:5432/menagerie';
const amqpUrl = process.env.MENAGERIE_TEST_AMQP_URL ?? 'amqp://menagerie:menagerie@127.0.0.1:5672';
const slots = Number(process.env.BENCH_WORKERS ?? 8);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const engineCmd = ['/bin/sh', '-c', 'sleep 1; echo done > /var/data/result'];

function serve(args) {
  const child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  const keep = (line) => {
    logs.push(line);
    if (logs.length > 200) logs.shift();
  };
  createInterface({ input: child.stderr }).on('line', keep);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      try {
        const entry = JSON.parse(line);
        if (entry.msg === 'menagerie is serving') resolve({ child, url: entry.url });
        if (entry.msg === 'worker started') resolve({ child, url: null });
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${logs.slice(-20).join('\n')}`)));
  });
}

function stopNode(node) {
  if (node.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    node.child.once('exit', resolve);
    node.child.kill('SIGTERM');
  });
}

async function layout(nodes) {
  const tag = randomBytes(4).toString('hex');
  const engine = `bench-${tag}`;
  const dbName = `menagerie_bench_${tag}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const dbUrl = new URL(pgUrl);
  dbUrl.pathname = `/${dbName}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'menagerie-bench-'));
  const engines = path.join(dir, 'engines.json');
  await writeFile(
    engines,
    JSON.stringify({
      engines: [
        {
          name: engine,
          workers: slots,
          image,
          runflags: ['--network', 'none', '--read-only'],
          cmd: engineCmd,
          mountpoint: '/var/data',
          sizelimit: 1000000,
          inputfilename: 'sample',
          user: 1000,
          timeout: 60,
        },
      ],
    }),
  );
  const secret = randomBytes(24).toString('hex');
  const common = ['--engines', engines, '--db', dbUrl.toString(), '--queue', amqpUrl];
  common.push('--worker-secret', secret, '--log-level', 'info');
  const started = [];
  try {
    const api = await serve([...common, '--role', 'api', '--port', '0', '--data', path.join(dir, 'api')]);
    started.push(api);
    for (let i = 0; i < nodes; i++) {
      started.push(
        await serve([
          ...common,
          '--role',
          'worker',
          '--api',
          api.url,
          '--worker-id',
          `bench-${tag}-${i}`,
          '--data',
          path.join(dir, `w${i}`),
        ]),
      );
    }
    const total = slots * nodes * rounds;
    const t0 = performance.now();
    const ids = [];
    await pool(total, 8, async (i) => {
      const form = new FormData();
      form.append('upload', new Blob([`input ${i}`]), 'sample.bin');
      const response = await fetch(`${api.url}/${engine}/upload`, { method: 'POST', body: form });
      if (!response.ok) throw new Error(`upload ${response.status}`);
      ids.push((await response.json()).jobid);
    });
    const submitted = performance.now();
    for (;;) {
      const response = await fetch(`${api.url}/api/v1/jobs?engine=${engine}&limit=${total}`);
      const { jobs } = await response.json();
      const final = jobs.filter((j) => ['succeeded', 'failed', 'cancelled'].includes(j.state));
      if (final.length === total) {
        const failed = final.filter((j) => j.state !== 'succeeded').length;
        const seconds = (performance.now() - t0) / 1000;
        const ideal = slots * nodes;
        return {
          nodes,
          jobs: total,
          failed,
          seconds,
          submitSeconds: (submitted - t0) / 1000,
          rate: total / seconds,
          ideal,
        };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    for (const node of started.reverse()) await stopNode(node);
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    const model = await amqp.connect(amqpUrl);
    for (const name of [`menagerie.jobs.${engine}`, `menagerie.dead.${engine}`]) {
      const channel = await model.createChannel();
      await channel.deleteQueue(name);
      await channel.close();
    }
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const nodes of [1, 2]) {
  const result = await layout(nodes);
  // What this host does with the same containers and no Menagerie: as many at a time as the layout has slots.
  const work = await mkdtemp(path.join(tmpdir(), 'menagerie-bench-bare-'));
  try {
    const bare = await bareDockerRun({ count: result.jobs, concurrency: result.ideal, work, cmd: engineCmd });
    results.push({ ...result, bareRate: bare.jobsPerSecond });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
console.log(
  `scale-out: engine sleeps 1 s, ${slots} workers per node, ${rounds} rounds, PostgreSQL + RabbitMQ`,
);
console.log(
  'nodes  jobs  failed  seconds  jobs/s  ideal  of ideal | bare docker run, same concurrency: jobs/s  menagerie/bare  (uploads took)',
);
for (const r of results) {
  console.log(
    `${String(r.nodes).padStart(5)}  ${String(r.jobs).padStart(4)}  ${String(r.failed).padStart(6)}  ` +
      `${r.seconds.toFixed(1).padStart(7)}  ${r.rate.toFixed(2).padStart(6)}  ${String(r.ideal).padStart(5)}  ` +
      `${((100 * r.rate) / r.ideal).toFixed(0).padStart(7)} % |` +
      `${r.bareRate.toFixed(2).padStart(42)}  ${((100 * r.rate) / r.bareRate).toFixed(0).padStart(13)} %  ` +
      `(${r.submitSeconds.toFixed(1)} s)`,
  );
}
