import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import {
  docker,
  getJob,
  leftoversOf,
  repoRoot,
  submit,
  testkitEngine,
  waitFor,
  waitForFinal,
  writeEngines,
} from '../helpers/service.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

/** Starts `menagerie serve` as a real process and resolves once it serves. */
async function serve(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'menagerie is serving' && entry.url) resolve(entry.url);
      } catch {
        // Not a log line.
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('a crash of the server while a job runs', () => {
  const children: ChildProcess[] = [];
  let dataDir = '';
  const workerId = `crash-${randomBytes(4).toString('hex')}`;

  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited(child);
      }
    }
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('is recovered at the next start: the job ends Success once and nothing of the killed run remains', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'menagerie-crash-'));
    const engines = await writeEngines([
      testkitEngine('slow', { cmd: ['/bin/sh', '-c', 'sleep 3; echo done > /var/data/result'] }),
    ]);
    const args = [
      '--port',
      '0',
      '--data',
      dataDir,
      '--engines',
      engines,
      '--worker-id',
      workerId,
      '--log-level',
      'info',
    ];
    const first = await serve(args);
    children.push(first.child);
    const id = await submit(first.url, 'slow', Buffer.from('input'));
    const firstContainer = await waitFor('the job to run', async () => {
      const job = await getJob(first.url, id);
      if (job.state !== 'running') return undefined;
      const found = await docker.listContainers({ all: true, filters: { label: [`menagerie.job=${id}`] } });
      return found[0]?.Id;
    });

    first.child.kill('SIGKILL');
    await exited(first.child);

    const second = await serve(args);
    children.push(second.child);
    await waitFor('the killed run to be removed', async () => {
      const gone = await docker
        .getContainer(firstContainer)
        .inspect()
        .then(
          () => false,
          () => true,
        );
      return gone ? true : undefined;
    });
    const job = await waitForFinal(second.url, id, 60_000);
    expect(job.state).toBe('succeeded');
    expect(job.attempts).toBe(2);
    expect(await (await fetch(`${second.url}/link/${id}`)).text()).toBe('done\n');

    second.child.kill('SIGTERM');
    await exited(second.child);
    expect(second.child.exitCode).toBe(0);
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  }, 120_000);
});
