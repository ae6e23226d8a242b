/**
 * An engine: a containerized analyzer that reads one input file and writes a
 * result. `EngineSpec` is the validated, effective form of an engines.json
 * entry: every limit resolved, every loosening of the hardened defaults named.
 */

/** Which seccomp profile an engine runs under. */
export type SeccompMode = 'menagerie' | 'docker-default' | 'unconfined';

/** The containment an engine's containers run under. Defaults are the hardened ones. */
export interface EnginePolicy {
  /** Docker network mode. `none` unless the engine config loosens it. */
  readonly network: 'none' | 'bridge' | 'host';
  readonly readOnlyRootfs: boolean;
  /** Capabilities added back after dropping all of them (names without `CAP_`). Empty by default. */
  readonly capAdd: readonly string[];
  readonly noNewPrivileges: boolean;
  /** `menagerie`: Docker's default profile made stricter; `docker-default` and `unconfined` are loosenings. */
  readonly seccomp: SeccompMode;
  /** AppArmor profile: `default` lets Docker apply docker-default where the kernel has AppArmor. */
  readonly apparmor: string;
  /** Whether Docker's masked and read-only /proc and /sys paths stay in place (`systempaths=unconfined` clears them). */
  readonly maskedPaths: boolean;
  /** `--privileged`: every capability and device. Never by default. */
  readonly privileged: boolean;
  /** Host namespaces shared with the container (`pid`, `ipc`, `uts`, `userns`). Empty by default. */
  readonly hostNamespaces: readonly ('pid' | 'ipc' | 'uts' | 'userns')[];
  /** The user the engine runs as (`uid` or `uid:gid`). */
  readonly user: string;
  /** OCI runtime name; null for the daemon's default. */
  readonly runtime: string | null;
  readonly memoryBytes: number;
  /** CPU quota in billionths of a CPU (Docker's NanoCpus). */
  readonly nanoCpus: number;
  readonly pidsLimit: number;
  readonly nofile: number;
  /** Largest file the engine may write (RLIMIT_FSIZE), bytes. */
  readonly fsizeBytes: number;
  /** Size of the tmpfs at /tmp, bytes. */
  readonly tmpfsBytes: number;
  /** Size of the per-job volume at the mountpoint, bytes. */
  readonly volumeBytes: number;
  /** Largest result kept, bytes; a larger one fails the job. */
  readonly resultMaxBytes: number;
  /** Most bytes kept of each of stdout and stderr. */
  readonly logMaxBytes: number;
  readonly timeoutMs: number;
}

export interface EngineSpec {
  readonly name: string;
  readonly description: string | null;
  readonly image: string;
  readonly workers: number;
  /** The command as argv; empty means the image's own entrypoint and command. */
  readonly cmd: readonly string[];
  readonly mountpoint: string;
  readonly inputFileName: string;
  /** Largest upload accepted for this engine, bytes. */
  readonly sizeLimitBytes: number;
  readonly env: Readonly<Record<string, string>>;
  readonly policy: EnginePolicy;
  /**
   * Each way this engine's policy is looser than the hardened default, as the
   * docker flag that says it (`--cap-add SYS_PTRACE`, `--network bridge`).
   */
  readonly loosenings: readonly string[];
}

const engineNamePattern = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** Engine names are also URL path segments and Docker label values. */
export function isEngineName(value: string): boolean {
  return engineNamePattern.test(value);
}

/** Capabilities whose addition breaks containment outright (CIS community checks C.5.3.x and more). */
export const dangerousCapabilities: readonly string[] = [
  'SYS_ADMIN',
  'SYS_PTRACE',
  'SYS_MODULE',
  'DAC_READ_SEARCH',
  'NET_ADMIN',
];

/**
 * Each way a policy is looser than the hardened default, as the docker flag
 * that says it. The same strings name allowances in engines.json's
 * `allowLoosening` and appear in `EngineSpec.loosenings`.
 */
export function policyLoosenings(p: EnginePolicy): string[] {
  const out: string[] = [];
  if (p.privileged) out.push('--privileged');
  if (p.network !== 'none') out.push(`--network ${p.network}`);
  for (const ns of p.hostNamespaces) out.push(`--${ns} host`);
  for (const cap of p.capAdd) out.push(`--cap-add ${cap}`);
  if (!p.noNewPrivileges) out.push('--security-opt no-new-privileges=false');
  if (p.seccomp !== 'menagerie') out.push(`--security-opt seccomp=${p.seccomp}`);
  if (p.apparmor !== 'default') out.push(`--security-opt apparmor=${p.apparmor}`);
  if (!p.maskedPaths) out.push('--security-opt systempaths=unconfined');
  if (!p.readOnlyRootfs) out.push('--read-only=false');
  if (p.user === '0' || p.user.startsWith('0:')) out.push('--user 0');
  if (p.runtime !== null) out.push(`--runtime ${p.runtime}`);
  return out;
}

/**
 * Whether a loosening breaks containment: such a loosening is refused unless
 * the operator's `allowLoosening` names it for the engine, and the audit
 * reports it as FAIL. Other loosenings are allowed when written out, and WARN.
 */
export function isDangerousLoosening(loosening: string): boolean {
  if (/^--(pid|ipc|uts|userns) host$/.test(loosening)) return true;
  const cap = /^--cap-add (\S+)$/.exec(loosening);
  if (cap) return dangerousCapabilities.includes(cap[1] as string);
  return [
    '--privileged',
    '--network host',
    '--security-opt no-new-privileges=false',
    '--security-opt seccomp=unconfined',
    '--security-opt apparmor=unconfined',
    '--security-opt systempaths=unconfined',
  ].includes(loosening);
}
