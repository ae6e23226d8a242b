#!/usr/bin/env node
// Menagerie's overhead over a bare hardened `docker run --rm`, measured by hand:
//   npm run build && node bench/overhead.mjs            (BENCH_N jobs per level, default 40)
// For each concurrency level it runs N jobs of the trivial test-kit engine through
// Menagerie, and the same N containers with `docker run --rm` (same image, same
// hardening flags, the input bind-mounted), and prints jobs/s, p50/p90 latency and
// the ratio. Latency is per job: container request to result recorded (Menagerie:
// claim to final state; docker run: the command's wall time).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bareDockerRun, image } from './bare-docker-run.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.BENCH_N ?? 40);
const levels = (process.env.BENCH_LEVELS ?? '1,2,4').split(',').map(Number);

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function bare(concurrency, work) {
  return bareDockerRun({ count: N, concurrency, work, cmd: ['/engine/ok.sh'] });
}

async function serve(concurrency, work) {
  const engines = path.join(work, `engines-${concurrency}.json`);
  await writeFile(
    engines,
    JSON.stringify({
      engines: [
        {
          name: 'ok',
          workers: concurrency,
          image,
          cmd: '/engine/ok.sh',
          mountpoint: '/var/data',
          sizelimit: 1_000_000,
          inputfilename: 'sample',
          user: 1000,
          timeout: 30,
        },
      ],
    }),
  );
  const data = path.join(work, `data-${concurrency}`);
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'dist/cli/main.js'),
      'serve',
      '--port',
      '0',
      '--data',
      data,
      '--engines',
      engines,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const url = await new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      const m = /Menagerie is serving on (\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

async function submitAll(url, count) {
  const ids = [];
  for (let i = 0; i < count; i++) {
    const form = new FormData();
    form.append('upload', new Blob(['benchmark input\n']), 'sample');
    const response = await fetch(`${url}/ok/upload`, { method: 'POST', body: form });
    const body = await response.json();
    if (!body.jobid) throw new Error(`upload refused: ${JSON.stringify(body)}`);
    ids.push(body.jobid);
  }
  return ids;
}

async function waitAll(url, ids) {
  const done = new Map();
  const wanted = new Set(ids);
  while (done.size < ids.length) {
    const page = await (await fetch(`${url}/api/v1/jobs?engine=ok&limit=500`)).json();
    for (const job of page.jobs) {
      if (wanted.has(job.id) && ['succeeded', 'failed', 'cancelled'].includes(job.state))
        done.set(job.id, job);
    }
    if (done.size < ids.length) await new Promise((r) => setTimeout(r, 50));
  }
  return ids.map((id) => done.get(id));
}

async function menagerie(concurrency, work) {
  const { url, stop } = await serve(concurrency, work);
  try {
    await waitAll(url, await submitAll(url, concurrency * 2)); // warm-up
    const ids = await submitAll(url, N);
    const jobs = await waitAll(url, ids);
    const failed = jobs.filter((j) => j.state !== 'succeeded');
    if (failed.length) throw new Error(`${failed.length} jobs did not succeed: ${failed[0].reason}`);
    const first = Math.min(...jobs.map((j) => Date.parse(j.createdAt)));
    const last = Math.max(...jobs.map((j) => Date.parse(j.finishedAt)));
    return {
      jobsPerSecond: N / ((last - first) / 1000),
      latencies: jobs.map((j) => Date.parse(j.finishedAt) - Date.parse(j.startedAt)),
    };
  } finally {
    await stop();
  }
}

const work = await mkdtemp(path.join(tmpdir(), 'menagerie-bench-'));
const rows = [];
try {
  await bare(1, work).catch(() => undefined); // warm-up: page cache, image layers
  for (const c of levels) {
    const b = await bare(c, work);
    const m = await menagerie(c, work);
    rows.push({ c, b, m });
    console.error(`concurrency ${c} done`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
const f = (x) => x.toFixed(1).padStart(6);
const ms = (x) => `${Math.round(x)}`.padStart(5);
console.log(
  `Menagerie vs bare hardened docker run --rm, N=${N} jobs per level, trivial engine (testkit ok.sh)`,
);
console.log('conc | docker run: jobs/s  p50 ms  p90 ms | menagerie: jobs/s  p50 ms  p90 ms | ratio (jobs/s)');
for (const { c, b, m } of rows) {
  console.log(
    `${String(c).padStart(4)} |             ${f(b.jobsPerSecond)}  ${ms(quantile(b.latencies, 0.5))}   ${ms(quantile(b.latencies, 0.9))} |` +
      `            ${f(m.jobsPerSecond)}  ${ms(quantile(m.latencies, 0.5))}   ${ms(quantile(m.latencies, 0.9))} | ${(m.jobsPerSecond / b.jobsPerSecond).toFixed(2)}`,
  );
}
