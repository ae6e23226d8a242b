// The baseline both benchmarks compare with: N hardened `docker run --rm` of the
// test-kit image, `concurrency` at a time, each with its own input directory
// bind-mounted (what an engine sees, without Menagerie).
import { spawn } from 'node:child_process';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';

export const image = 'localhost:5000/testkit:stable';
const docker = new Docker();

/** Runs `task(i)` for i in 0..count-1, `concurrency` at a time. */
export async function pool(count, concurrency, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

async function uidBase() {
  const info = await docker.info();
  const m = /\/(\d+)\.(\d+)$/.exec(info.DockerRootDir ?? '');
  return (info.SecurityOptions ?? []).some((o) => o.includes('userns')) && m ? Number(m[1]) : 0;
}

let runs = 0;

/**
 * `count` containers running `cmd` (argv), `concurrency` at a time.
 * @returns jobs/s over the whole run and each container's wall time, ms
 */
export async function bareDockerRun({ count, concurrency, work, cmd }) {
  const batch = runs++;
  const base = await uidBase();
  const latencies = [];
  const dirs = [];
  for (let i = 0; i < count; i++) {
    const dir = path.join(work, `bare-${batch}-${i}`);
    await mkdir(dir);
    await writeFile(path.join(dir, 'sample'), 'benchmark input\n');
    await chown(dir, base + 1000, base + 1000);
    dirs.push(dir);
  }
  const t0 = performance.now();
  await pool(count, concurrency, async (i) => {
    const start = performance.now();
    await run('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '--read-only',
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '--user',
      '1000',
      '--memory',
      '512m',
      '--memory-swap',
      '512m',
      '--cpus',
      '1',
      '--pids-limit',
      '256',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'core=0:0',
      '--tmpfs',
      '/tmp:rw,noexec,nosuid,nodev,size=64m',
      '--log-driver',
      'none',
      '-v',
      `${dirs[i]}:/var/data`,
      image,
      ...cmd,
    ]);
    latencies.push(performance.now() - start);
  });
  return { jobsPerSecond: count / ((performance.now() - t0) / 1000), latencies };
}
