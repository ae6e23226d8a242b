import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseEnginesConfig } from '../../../config/engines-config.js';
import { engineDefaultsSchema } from '../../../config/schema.js';
import { apparmorProfileFor } from './apparmor-profile.js';
import { securityOptions } from './container-spec.js';

const run = promisify(execFile);

function policyOf(security: Record<string, unknown> = {}) {
  const [engine] = parseEnginesConfig(
    JSON.stringify({ engines: [{ name: 'fileinfo', image: 'x', security }] }),
    engineDefaultsSchema.parse({}),
  );
  return engine!.policy;
}

describe('per-engine AppArmor profiles', () => {
  it('are named after the engine and deny network, mount and writes into /proc and /sys', () => {
    const { name, text } = apparmorProfileFor('fileinfo');
    expect(name).toBe('menagerie-fileinfo');
    expect(text).toContain('profile menagerie-fileinfo flags=(attach_disconnected,mediate_deleted) {');
    for (const rule of [
      'deny network,',
      'deny mount,',
      'deny @{PROC}/sysrq-trigger rwklx,',
      'deny @{PROC}/kcore rwklx,',
    ]) {
      expect(text).toContain(rule);
    }
    expect(text).toContain('ptrace (trace,read,tracedby,readby) peer=menagerie-fileinfo,');
  });

  it('are accepted by apparmor_parser', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'menagerie-apparmor-'));
    try {
      const file = path.join(dir, 'profile');
      await writeFile(file, apparmorProfileFor('fileinfo').text);
      // -Q: parse and compile without loading (this kernel has no AppArmor to load into).
      await expect(run('apparmor_parser', ['-Q', '-K', file])).resolves.toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('are asked for only where the host loaded one, and never over an explicit choice', () => {
    expect(securityOptions(policyOf()).some((o) => o.startsWith('apparmor='))).toBe(false);
    expect(securityOptions(policyOf(), 'menagerie-fileinfo')).toContain('apparmor=menagerie-fileinfo');
    const chosen = securityOptions(policyOf({ apparmor: 'site-profile' }), 'menagerie-fileinfo');
    expect(chosen).toContain('apparmor=site-profile');
    expect(chosen).not.toContain('apparmor=menagerie-fileinfo');
  });
});
