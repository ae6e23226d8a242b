/**
 * Translation of the 2016 `runflags` (docker run flags) into settings of the
 * container spec. Only a known set is accepted: flags that restate the
 * hardened defaults, flags that set limits, and flags that loosen a control
 * in a way the policy can express (these come back in `security`; whether
 * the engine may have them is decided by the caller against the operator's
 * `allowLoosening`). Flags that would mount host paths or devices, publish
 * ports or leave the managed cgroup are refused outright, as is any flag not
 * known here.
 */
import type { EnginePolicy } from '../domain/index.js';

/** Policy fields a runflag can set. */
export type SecurityRequest = {
  -readonly [
    K in
      | 'network'
      | 'readOnlyRootfs'
      | 'noNewPrivileges'
      | 'seccomp'
      | 'apparmor'
      | 'maskedPaths'
      | 'privileged'
      | 'runtime'
  ]?: EnginePolicy[K];
} & { capAdd?: string[]; hostNamespaces?: ('pid' | 'ipc' | 'uts' | 'userns')[] };

export interface RunflagSettings {
  resources: {
    memoryMb?: number;
    cpus?: number;
    pids?: number;
    nofile?: number;
    fsizeMb?: number;
    tmpfsMb?: number;
  };
  env: Record<string, string>;
  user?: string;
  security: SecurityRequest;
}

const MiB = 1024 * 1024;

/** Flags that can never be allowed, with why: Menagerie has no way to grant them safely. */
const neverAllowed: Record<string, string> = {
  '--volume': 'mounts a host path into the container (no host path is ever mounted into an engine)',
  '-v': 'mounts a host path into the container (no host path is ever mounted into an engine)',
  '--mount': 'mounts a host path or volume into the container (only the job volume is mounted)',
  '--device': 'exposes a host device',
  '--device-cgroup-rule': 'opens host devices',
  '--publish': 'opens a port on the host',
  '-p': 'opens a port on the host',
  '--publish-all': 'opens ports on the host',
  '-P': 'opens ports on the host',
  '--add-host': 'engines have no network',
  '--cgroup-parent': 'moves the container out of the managed cgroup',
  '--cgroupns': 'can share the host cgroup namespace',
  '--sysctl': 'changes kernel parameters',
  '--volumes-from': "mounts another container's volumes",
};

/** Capability names Docker knows (without `CAP_`). */
// prettier-ignore
export const capabilityNames = new Set([
  'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'BPF', 'CHECKPOINT_RESTORE', 'CHOWN',
  'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE',
  'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE',
  'NET_BROADCAST', 'NET_RAW', 'PERFMON', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_ADMIN',
  'SYS_BOOT', 'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'SYSLOG', 'WAKE_ALARM',
]);

/** `cap_sys_ptrace`, `CAP_SYS_PTRACE`, `sys_ptrace` → `SYS_PTRACE`. @throws Error when unknown */
export function normalizeCapability(name: string): string {
  const cap = name.trim().toUpperCase().replace(/^CAP_/, '');
  if (cap === 'ALL') throw new Error('adding ALL capabilities is refused; name each one');
  if (!capabilityNames.has(cap)) throw new Error(`"${name}" is not a Linux capability`);
  return cap;
}

/** Flags that take a value. */
const withValue = new Set([
  '--network',
  '--net',
  '--memory',
  '-m',
  '--memory-swap',
  '--cpus',
  '--pids-limit',
  '--ulimit',
  '--cap-drop',
  '--security-opt',
  '--tmpfs',
  '--env',
  '-e',
  '--user',
  '-u',
  '--cap-add',
  '--pid',
  '--ipc',
  '--uts',
  '--userns',
  '--runtime',
  ...Object.keys(neverAllowed).filter((f) => !['-P', '--publish-all'].includes(f)),
]);

/** Parses a Docker size (`512m`, `1g`, `1048576`) into bytes. */
export function parseDockerSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(value.trim());
  if (!match) throw new Error(`"${value}" is not a size (examples: 512m, 1g)`);
  const n = Number(match[1]);
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit === 'g' ? 1024 ** 3 : unit === 'm' ? MiB : unit === 'k' ? 1024 : 1;
  return Math.round(n * factor);
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`"${flag} ${value}": expected a positive whole number`);
  return n;
}

/**
 * @throws Error naming the flag and why it is refused.
 */
export function translateRunflags(flags: readonly string[]): RunflagSettings {
  const settings: RunflagSettings = { resources: {}, env: {}, security: {} };
  for (let i = 0; i < flags.length; i++) {
    const token = flags[i] as string;
    if (!token.startsWith('-')) throw new Error(`"${token}" is not a flag (flags start with "-")`);
    const eq = token.indexOf('=');
    const flag = token.startsWith('--') && eq > 0 ? token.slice(0, eq) : token;
    let value: string | undefined = token.startsWith('--') && eq > 0 ? token.slice(eq + 1) : undefined;
    if (value === undefined && withValue.has(flag)) {
      value = flags[++i];
      if (value === undefined) throw new Error(`"${flag}" needs a value`);
    }
    apply(flag, value, settings);
  }
  return settings;
}

function apply(flag: string, value: string | undefined, settings: RunflagSettings): void {
  const v = value ?? '';
  switch (flag) {
    case '--network':
    case '--net':
      if (v === 'none') return;
      if (v === 'bridge' || v === 'host') {
        settings.security.network = v;
        return;
      }
      throw new Error(`"${flag} ${v}" is refused: engines run with no network ("--network none")`);
    case '--read-only':
      if (v === '' || v === 'true') return;
      if (v === 'false') {
        settings.security.readOnlyRootfs = false;
        return;
      }
      throw new Error(`"--read-only=${v}": expected true or false`);
    case '--rm':
    case '--init':
      return;
    case '--privileged':
      settings.security.privileged = true;
      return;
    case '--cap-add':
      settings.security.capAdd = [...(settings.security.capAdd ?? []), normalizeCapability(v)];
      return;
    case '--pid':
    case '--ipc':
    case '--uts':
    case '--userns': {
      const ns = flag.slice(2) as 'pid' | 'ipc' | 'uts' | 'userns';
      if (v === 'host') {
        settings.security.hostNamespaces = [...(settings.security.hostNamespaces ?? []), ns];
        return;
      }
      if (ns === 'ipc' && (v === 'private' || v === 'none')) return;
      throw new Error(`"${flag} ${v}" is refused: only "${flag} host" can be allowed, as a loosening`);
    }
    case '--runtime':
      if (!/^[A-Za-z0-9_.-]+$/.test(v)) throw new Error(`"--runtime ${v}": not a runtime name`);
      settings.security.runtime = v;
      return;
    case '--memory':
    case '-m':
      settings.resources.memoryMb = Math.max(1, Math.round(parseDockerSize(v) / MiB));
      return;
    case '--memory-swap':
      // Swap is always set equal to memory; the value is checked only for form.
      parseDockerSize(v);
      return;
    case '--cpus': {
      const n = Number(v);
      if (!(n > 0)) throw new Error(`"--cpus ${v}": expected a positive number`);
      settings.resources.cpus = n;
      return;
    }
    case '--pids-limit':
      settings.resources.pids = positiveInt(flag, v);
      return;
    case '--ulimit': {
      const m = /^(nofile|fsize)=(\d+)(?::(\d+))?$/.exec(v);
      if (!m) throw new Error(`"--ulimit ${v}": only nofile=N and fsize=N are accepted`);
      const n = Number(m[3] ?? m[2]);
      if (m[1] === 'nofile') settings.resources.nofile = n;
      else settings.resources.fsizeMb = Math.max(1, Math.round(n / MiB)); // Docker passes fsize in bytes
      return;
    }
    case '--cap-drop':
      return;
    case '--security-opt': {
      const [key, ...rest] = v.split(/[=:]/);
      const value = rest.join('=');
      if (key === 'no-new-privileges' && (value === '' || value === 'true')) return;
      if (key === 'no-new-privileges' && value === 'false') {
        settings.security.noNewPrivileges = false;
        return;
      }
      if (key === 'seccomp' && value === 'unconfined') {
        settings.security.seccomp = 'unconfined';
        return;
      }
      if (key === 'apparmor' && /^[A-Za-z0-9_.-]+$/.test(value)) {
        settings.security.apparmor = value;
        return;
      }
      if (key === 'systempaths' && value === 'unconfined') {
        settings.security.maskedPaths = false;
        return;
      }
      throw new Error(
        `"--security-opt ${v}" is refused: accepted are no-new-privileges[=false], seccomp=unconfined, ` +
          'apparmor=<profile> and systempaths=unconfined (a seccomp profile is chosen with "security": {"seccomp": …})',
      );
    }
    case '--tmpfs': {
      const m = /^\/tmp(?::(.*))?$/.exec(v);
      if (!m) throw new Error(`"--tmpfs ${v}": only a tmpfs at /tmp is accepted (it is always there)`);
      const size = /(?:^|,)size=([^,]+)/.exec(m[1] ?? '');
      if (size?.[1]) settings.resources.tmpfsMb = Math.max(1, Math.round(parseDockerSize(size[1]) / MiB));
      return;
    }
    case '--env':
    case '-e': {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(v);
      if (!m) throw new Error(`"${flag} ${v}": expected NAME=value`);
      settings.env[m[1] as string] = m[2] as string;
      return;
    }
    case '--user':
    case '-u':
      if (!/^\d+(:\d+)?$/.test(v)) throw new Error(`"${flag} ${v}": expected a numeric uid or uid:gid`);
      settings.user = v;
      return;
  }
  const why = neverAllowed[flag];
  if (why) throw new Error(`"${flag}${value ? ' ' + value : ''}" is refused: it ${why}`);
  throw new Error(
    `unknown flag "${flag}": accepted are --network, --read-only, --memory, --cpus, --pids-limit, ` +
      '--ulimit nofile|fsize, --cap-drop, --cap-add, --security-opt, --tmpfs /tmp, --env, --user, ' +
      '--privileged, --pid/--ipc/--uts/--userns host, --runtime',
  );
}
