/**
 * The effective policy is visible: GET /api/v1/engines/<name> and
 * `menagerie engines --policy` show every control and each loosening, with
 * the dangerous ones marked; a dangerous loosening without the operator's
 * allowance keeps the service from starting, naming engine and key.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  leftoversOf,
  repoRoot,
  startTestService,
  submit,
  testkitEngine,
  waitForFinal,
  writeEngines,
  type TestService,
} from '../helpers/service.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

function menagerie(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { timeout: 60_000 }, (error, stdout) => {
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout });
    });
  });
}

interface EngineJson {
  policy: Record<string, unknown> & { loosenings: string[]; dangerousLoosenings: string[] };
}

describe('effective engine policy', () => {
  let svc: TestService;

  beforeAll(async () => {
    const file = await writeEngines([
      testkitEngine('echo', { cmd: '/engine/echo.sh' }),
      testkitEngine('loose', {
        cmd: '/engine/echo.sh',
        runflags: ['--cap-add', 'SYS_PTRACE'],
        security: { seccomp: 'docker-default', readOnlyRootfs: false },
      }),
    ]);
    const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    config.allowLoosening = { loose: ['--cap-add SYS_PTRACE'] };
    await writeFile(file, JSON.stringify(config));
    svc = await startTestService({ engines: file });
  });

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it('shows the hardened defaults of an engine that loosens nothing', async () => {
    const engine = (await (await fetch(`${svc.url}/api/v1/engines/echo`)).json()) as EngineJson;
    expect(engine.policy).toMatchObject({
      network: 'none',
      readOnlyRootfs: true,
      capabilities: { drop: ['ALL'], add: [] },
      noNewPrivileges: true,
      seccomp: 'menagerie',
      apparmor: 'default',
      maskedPaths: true,
      privileged: false,
      hostNamespaces: [],
      user: '1000',
      loosenings: [],
      dangerousLoosenings: [],
    });
  });

  it('lists each loosening as a docker flag, the dangerous ones apart', async () => {
    const engine = (await (await fetch(`${svc.url}/api/v1/engines/loose`)).json()) as EngineJson;
    expect(engine.policy.loosenings).toEqual([
      '--cap-add SYS_PTRACE',
      '--security-opt seccomp=docker-default',
      '--read-only=false',
    ]);
    expect(engine.policy.dangerousLoosenings).toEqual(['--cap-add SYS_PTRACE']);
  });

  it('runs a loosened engine', async () => {
    const id = await submit(svc.url, 'loose', Buffer.from('hello'));
    const job = await waitForFinal(svc.url, id);
    expect(job.state).toBe('succeeded');
  });

  it('menagerie engines --policy prints every control and marks the dangerous loosening', async () => {
    const run = await menagerie(['engines', '--policy', '--server', svc.url]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^echo .*\n(?: {2}.*\n)*? {2}loosenings +none \(hardened defaults\)$/m);
    expect(run.stdout).toMatch(/^ {2}seccomp +menagerie$/m);
    expect(run.stdout).toMatch(
      /^ {2}loosenings +--cap-add SYS_PTRACE \(DANGEROUS, allowed by allowLoosening\), --security-opt seccomp=docker-default, --read-only=false$/m,
    );
  });
});

describe('a dangerous loosening without the operator allowance', () => {
  it('keeps the service from starting, naming the engine, the key and how to allow it', async () => {
    const file = await writeEngines([
      testkitEngine('loose', { cmd: '/engine/echo.sh', runflags: ['--privileged'] }),
    ]);
    await expect(startTestService({ engines: file })).rejects.toThrow(
      /engine "loose": "--privileged" \(from key "runflags"\) is refused: it breaks containment; .*"allowLoosening": \{"loose": \["--privileged"\]\}/,
    );
  });
});
