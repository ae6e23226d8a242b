/**
 * `menagerie audit`, really run: on this machine's default install it has no
 * FAIL; on an engines.json with an allowed dangerous loosening it fails,
 * naming the check. The live canaries leave no container behind.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { docker, repoRoot, testkitEngine, writeEngines } from '../helpers/service.js';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

interface Finding {
  status: 'PASS' | 'WARN' | 'FAIL';
  check: string;
  cis: string | null;
  subject: string;
  reason: string;
  fix: string | null;
}

function audit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'audit', ...args],
      { env: { ...process.env, MENAGERIE_CONFIG: '', MENAGERIE_HOST: '' }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

describe('menagerie audit', () => {
  it('passes a default install: no FAIL, the canary confirms what the kernel applied', async () => {
    const engines = await writeEngines([testkitEngine('echo', { cmd: '/engine/echo.sh' })]);
    const run = await audit(['--engines', engines]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(run.stdout).toMatch(/^PASS +\[CIS 2\.9\] +daemon\.userns-remap \(daemon\)/m);
    expect(run.stdout).toMatch(
      /^PASS +\[CIS 5\.22\] +engine\.seccomp \(engine echo\): Menagerie seccomp profile/m,
    );
    expect(run.stdout).toMatch(
      /^WARN +\[CIS 5\.2\] +daemon\.apparmor \(daemon\): the kernel has no AppArmor/m,
    );
    for (const check of [
      'capabilities',
      'no-new-privileges',
      'seccomp',
      'read-only-rootfs',
      'memory-limit',
      'pids-limit',
      'cpu-limit',
      'network',
    ]) {
      expect(run.stdout).toMatch(
        new RegExp(`^PASS +\\[menagerie\\] +canary\\.${check} \\(engine echo\\)`, 'm'),
      );
    }
    expect(run.stdout).toMatch(/\d+ PASS, \d+ WARN, 0 FAIL\n$/);
    const canaries = await docker.listContainers({ all: true, filters: { label: ['menagerie.audit'] } });
    expect(canaries).toEqual([]);
  });

  it('fails, naming the check, on an engine whose allowed loosenings break containment', async () => {
    const engines = await writeEngines([
      testkitEngine('echo', { cmd: '/engine/echo.sh' }),
      testkitEngine('loose', {
        cmd: '/engine/echo.sh',
        runflags: ['--cap-add', 'SYS_PTRACE', '--security-opt', 'seccomp=unconfined'],
      }),
    ]);
    // Refused unless the operator names each loosening for that engine…
    const refused = await audit(['--engines', engines, '--no-canary']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/engine "loose": "--cap-add SYS_PTRACE" .*is refused.*allowLoosening/);

    const file = path.join(path.dirname(engines), 'engines.json');
    const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    config.allowLoosening = { loose: ['--cap-add SYS_PTRACE', '--security-opt seccomp=unconfined'] };
    await writeFile(file, JSON.stringify(config));

    // …and then the audit reports it as FAIL.
    const run = await audit(['--engines', file, '--json']);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { findings: Finding[]; summary: { fail: number } };
    const fails = report.findings.filter((f) => f.status === 'FAIL');
    expect(fails.map((f) => `${f.cis ?? '-'} ${f.check} ${f.subject}`).sort()).toEqual([
      '- engine.loosening engine loose',
      '- engine.loosening engine loose',
      '5.22 engine.seccomp engine loose',
      '5.4 engine.capabilities engine loose',
    ]);
    expect(fails.find((f) => f.check === 'engine.capabilities')?.reason).toMatch(
      /added back: SYS_PTRACE; allowed by allowLoosening\.loose/,
    );
    expect(report.findings.filter((f) => f.subject === 'engine echo' && f.status !== 'PASS')).toEqual([]);
    // The canary confirms the loosening took effect: no seccomp filter, a capability present.
    const seccomp = report.findings.find((f) => f.check === 'canary.seccomp' && f.subject === 'engine loose');
    expect(seccomp?.reason).toMatch(/seccomp mode 0/);
  });
});
