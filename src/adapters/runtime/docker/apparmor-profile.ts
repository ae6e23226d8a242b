import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

export interface AppArmorProfile {
  /** The profile's name, as given to Docker (`apparmor=<name>`). */
  readonly name: string;
  readonly text: string;
}

/** Whether this kernel enforces AppArmor. */
export function hostHasAppArmor(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/**
 * The AppArmor profile of one engine: Docker's docker-default rules, plus no
 * network at all (engines have none), no mount, no ptrace outside the profile,
 * and no writes to /proc and /sys beyond the container's own processes. Named
 * per engine so the audit and the kernel's log say which engine hit a rule.
 */
export function apparmorProfileFor(engineName: string): AppArmorProfile {
  const name = `menagerie-${engineName}`;
  const includes = ['tunables/global', 'abstractions/base'].filter((f) => existsSync(`/etc/apparmor.d/${f}`));
  const text = [
    ...(includes.includes('tunables/global') ? ['#include <tunables/global>', ''] : []),
    `profile ${name} flags=(attach_disconnected,mediate_deleted) {`,
    ...(includes.includes('abstractions/base') ? ['  #include <abstractions/base>'] : []),
    '  capability,',
    '  file,',
    '  deny network,',
    '  deny mount,',
    '  deny umount,',
    '  deny pivot_root,',
    '  deny @{PROC}/* w,',
    '  deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9]*}/** w,',
    '  deny @{PROC}/sys/[^k]** w,',
    '  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,',
    '  deny @{PROC}/sysrq-trigger rwklx,',
    '  deny @{PROC}/kcore rwklx,',
    '  deny @{PROC}/keys rwklx,',
    '  deny /sys/[^f]*/** wklx,',
    '  deny /sys/f[^s]*/** wklx,',
    '  deny /sys/fs/[^c]*/** wklx,',
    '  deny /sys/fs/c[^g]*/** wklx,',
    '  deny /sys/fs/cg[^r]*/** wklx,',
    '  deny /sys/firmware/** rwklx,',
    '  deny /sys/kernel/security/** rwklx,',
    `  signal (send,receive) peer=${name},`,
    '  signal (receive) peer=unconfined,',
    `  ptrace (trace,read,tracedby,readby) peer=${name},`,
    '}',
    '',
  ].join('\n');
  return { name, text };
}

/**
 * Loads profiles into the kernel with `apparmor_parser -r` (replace), once per
 * distinct text. Used only where the host has AppArmor.
 */
export class AppArmorLoader {
  private readonly loaded = new Map<string, Promise<void>>();

  load(profile: AppArmorProfile): Promise<void> {
    const key = `${profile.name}:${createHash('sha256').update(profile.text).digest('hex')}`;
    let pending = this.loaded.get(key);
    if (!pending) {
      pending = parse(profile).catch((error: unknown) => {
        this.loaded.delete(key);
        throw error;
      });
      this.loaded.set(key, pending);
    }
    return pending;
  }
}

function parse(profile: AppArmorProfile): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('apparmor_parser', ['-r', '-W'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) =>
      reject(new Error(`cannot load AppArmor profile ${profile.name}: ${error.message} (install apparmor)`)),
    );
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`apparmor_parser refused ${profile.name}: ${stderr.trim()}`)),
    );
    child.stdin.end(profile.text);
  });
}
