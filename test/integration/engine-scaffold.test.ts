import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { docker, leftoversOf, repoRoot, startTestService, submit, waitForFinal } from '../helpers/service.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

function menagerie(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd, timeout: 300_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('menagerie engine new and build', () => {
  const name = `demo-${randomBytes(3).toString('hex')}`;
  const image = `localhost:5000/${name}:stable`;
  let dir = '';

  afterAll(async () => {
    await docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scaffolds an engine a newcomer can build and run at once', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'menagerie-scaffold-'));
    const created = await menagerie(['engine', 'new', name], dir);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain(`menagerie engine build ${name}`);
    expect((await readdir(path.join(dir, 'engines', name))).sort()).toEqual([
      'Dockerfile',
      'run.sh',
      'sample.txt',
      'test.sh',
    ]);
    const config = JSON.parse(await readFile(path.join(dir, 'engines', 'engines.json'), 'utf8')) as {
      engines: { name: string; image: string; user: number }[];
    };
    expect(config.engines).toEqual([expect.objectContaining({ name, image, user: 1000 })]);

    const again = await menagerie(['engine', 'new', name], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists already');

    const built = await menagerie(['engine', 'build', name, '--json'], dir);
    expect(built.code, built.stderr).toBe(0);
    expect(JSON.parse(built.stdout)).toEqual({ engine: name, image, built: true });

    const svc = await startTestService({ engines: path.join(dir, 'engines', 'engines.json') });
    try {
      const sample = await readFile(path.join(dir, 'engines', name, 'sample.txt'));
      const id = await submit(svc.url, name, sample);
      const job = await waitForFinal(svc.url, id);
      expect(job.state, job.reason ?? '').toBe('succeeded');
      expect(job.summary).toBe(
        `size: ${sample.length} bytes\nstarts with: A sample input for the ${name} engine.`,
      );
      expect(JSON.parse(await (await fetch(`${svc.url}/link/${id}`)).text())).toEqual({
        size: sample.length,
        lines: 1,
      });
    } finally {
      const workerId = svc.workerId;
      await svc.stop();
      expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
    }
  }, 300_000);
});
