/**
 * Translation of the 2016 `runflags` (docker run flags) into settings of the
 * container spec. Only a known set is accepted: flags that restate the
 * hardened defaults, and flags that set limits. A flag that would loosen
 * containment, or one not known here, is refused with the reason.
 */

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
}

const MiB = 1024 * 1024;

/** Flags that would break containment, with why. */
const dangerous: Record<string, string> = {
  '--privileged': 'gives the container every capability and all host devices',
  '--volume': 'mounts a host path into the container',
  '-v': 'mounts a host path into the container',
  '--mount': 'mounts a host path or volume into the container',
  '--device': 'exposes a host device',
  '--cap-add': 'adds a capability back',
  '--pid': 'can share the host PID namespace',
  '--ipc': 'can share the host IPC namespace',
  '--uts': 'can share the host UTS namespace',
  '--userns': 'can leave the user-namespace remap',
  '--publish': 'opens a port on the host',
  '-p': 'opens a port on the host',
  '--publish-all': 'opens ports on the host',
  '-P': 'opens ports on the host',
  '--add-host': 'engines have no network',
  '--cgroup-parent': 'moves the container out of the managed cgroup',
  '--cgroupns': 'can share the host cgroup namespace',
  '--runtime': 'changes the OCI runtime',
  '--sysctl': 'changes kernel parameters',
  '--volumes-from': "mounts another container's volumes",
};

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
  ...Object.keys(dangerous).filter((f) => !['--privileged', '-P', '--publish-all'].includes(f)),
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
  const settings: RunflagSettings = { resources: {}, env: {} };
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
      if (v !== 'none') {
        throw new Error(`"${flag} ${v}" is refused: engines run with no network ("--network none")`);
      }
      return;
    case '--read-only':
    case '--rm':
    case '--init':
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
    case '--security-opt':
      if (/^no-new-privileges(:true|=true)?$/.test(v)) return;
      throw new Error(
        `"--security-opt ${v}" is refused: only "no-new-privileges" is accepted; seccomp and AppArmor loosen containment`,
      );
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
  const why = dangerous[flag];
  if (why) throw new Error(`"${flag}${value ? ' ' + value : ''}" is refused: it ${why}`);
  throw new Error(
    `unknown flag "${flag}": accepted are --network none, --read-only, --memory, --cpus, --pids-limit, ` +
      '--ulimit nofile|fsize, --cap-drop, --security-opt no-new-privileges, --tmpfs /tmp, --env, --user',
  );
}
