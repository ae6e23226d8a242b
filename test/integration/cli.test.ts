import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  leftoversOf,
  repoRoot,
  startTestService,
  testkitEngine,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function menagerie(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

describe('the menagerie CLI, really run', () => {
  let svc: TestService;
  let dir: string;
  let sample: string;

  beforeAll(async () => {
    svc = await startTestService({
      engines: await writeEngines([
        testkitEngine('echo', { cmd: '/engine/echo.sh' }),
        testkitEngine('exit3', { cmd: '/engine/exit3.sh' }),
      ]),
    });
    dir = await mkdtemp(path.join(tmpdir(), 'menagerie-cli-'));
    sample = path.join(dir, 'sample.txt');
    await writeFile(sample, 'text from the command line\n');
  });

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    await rm(dir, { recursive: true, force: true });
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('submit --wait prints the job and its summary and exits 0', async () => {
    const run = await menagerie(['submit', 'echo', sample, '--wait', '--server', svc.url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^job\s+[A-Za-z0-9_-]{22}$/m);
    expect(run.stdout).toMatch(/^state\s+succeeded$/m);
    expect(run.stdout).toContain('text from the command line');
  });

  it('submit --json prints the job for scripts; status and result read it back', async () => {
    const submitted = await menagerie(['submit', 'echo', sample, '--wait', '--json'], {
      MENAGERIE_SERVER: svc.url,
    });
    expect(submitted.code).toBe(0);
    const job = JSON.parse(submitted.stdout) as { id: string; state: string; input: { name: string } };
    expect(job).toMatchObject({ state: 'succeeded', input: { name: 'sample.txt' } });

    const status = await menagerie(['status', job.id, '--json', '--server', svc.url]);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: job.id, state: 'succeeded' });

    const out = path.join(dir, 'result.bin');
    const result = await menagerie(['result', job.id, '-o', out, '--server', svc.url]);
    expect(result.code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe('text from the command line\n');
  });

  it('exits 3 when the job fails, 4 for an unknown job, 5 when refused, 6 when the server is unreachable', async () => {
    const failed = await menagerie(['submit', 'exit3', sample, '--wait', '--server', svc.url]);
    expect(failed.code).toBe(3);
    expect(failed.stdout).toMatch(/^state\s+failed \(exit 3\)$/m);

    const unknown = await menagerie(['status', 'AAAAAAAAAAAAAAAAAAAAAA', '--server', svc.url]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('no job has id AAAAAAAAAAAAAAAAAAAAAA');

    const refused = await menagerie(['status', 'not-an-id', '--server', svc.url]);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('is not a job id');

    // An id beginning with '-' (as ids of earlier versions could) reads as an option: the CLI says what to do.
    const dashed = '-AAAAAAAAAAAAAAAAAAAAA';
    const asOption = await menagerie(['status', dashed, '--server', svc.url]);
    expect(asOption.code).not.toBe(0);
    expect(asOption.stderr).toContain(`goes after '--': … -- ${dashed}`);
    const afterDashes = await menagerie(['status', '--server', svc.url, '--', dashed]);
    expect(afterDashes.code).toBe(4);
    expect(afterDashes.stderr).toContain(`no job has id ${dashed}`);

    const unreachable = await menagerie(['engines', '--server', 'http://127.0.0.1:9']);
    expect(unreachable.code).toBe(6);
    expect(unreachable.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it('submits one file to several engines, lists jobs, prints logs and cancels', async () => {
    const both = await menagerie([
      'submit',
      'echo',
      'exit3',
      sample,
      '--wait',
      '--json',
      '--server',
      svc.url,
    ]);
    expect(both.code).toBe(3);
    const jobs = JSON.parse(both.stdout) as { id: string; engine: string; state: string }[];
    expect(jobs.map((j) => [j.engine, j.state]).sort()).toEqual([
      ['echo', 'succeeded'],
      ['exit3', 'failed'],
    ]);

    const listed = await menagerie(['jobs', '--engine', 'exit3', '--state', 'failed', '--server', svc.url]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^\S{22}\s+exit3\s+failed\s+.*sample\.txt\s+\(exit 3\)$/m);
    expect(listed.stdout).not.toMatch(/\becho\b/);

    const failed = jobs.find((j) => j.engine === 'exit3')!;
    const logs = await menagerie(['logs', failed.id, '--server', svc.url]);
    expect(logs.stderr).toContain('failing on purpose');

    const cancel = await menagerie(['cancel', failed.id, '--server', svc.url]);
    expect(cancel.code).toBe(5);
    expect(cancel.stderr).toContain('already finished');

    const missing = await menagerie(['submit', 'echo', '/no/such/file', '--server', svc.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/name at least one engine and one existing file/);
  });

  it('engines lists each engine with its image; --json gives the API objects', async () => {
    const text = await menagerie(['engines', '--server', svc.url]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^echo\s+localhost:5000\/testkit:stable → sha256:[0-9a-f]{64}\s/m);
    expect(text.stdout).not.toContain('newer image');
    const json = await menagerie(['engines', '--json', '--server', svc.url]);
    expect((JSON.parse(json.stdout) as { name: string }[]).map((e) => e.name).sort()).toEqual([
      'echo',
      'exit3',
    ]);
  });

  it('explains a bad engines.json naming the engine and key, and exits 2', async () => {
    const bad = path.join(dir, 'bad-engines.json');
    await writeFile(
      bad,
      JSON.stringify({ engines: [{ name: 'evil', image: 'x', runflags: ['--privileged'], bogus: 1 }] }),
    );
    const run = await menagerie(['serve', '--engines', bad, '--data', dir, '--port', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/engine "evil"/);
    expect(run.stderr).toMatch(/"bogus"/);
  });
});
