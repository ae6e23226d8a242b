/**
 * An engine: a containerized analyzer that reads one input file and writes a
 * result. `EngineSpec` is the validated, effective form of an engines.json
 * entry: every limit resolved, every loosening of the hardened defaults named.
 */

/** The containment an engine's containers run under. Defaults are the hardened ones. */
export interface EnginePolicy {
  /** Docker network mode. `none` unless the engine config loosens it. */
  readonly network: 'none' | 'bridge';
  readonly readOnlyRootfs: boolean;
  /** Capabilities added back after dropping all of them. Empty by default. */
  readonly capAdd: readonly string[];
  readonly noNewPrivileges: boolean;
  /** `default`: Docker's own profile. `unconfined` is a loosening. */
  readonly seccomp: 'default' | 'unconfined';
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
  /** Each way this engine's policy is looser than the hardened default, in words. */
  readonly loosenings: readonly string[];
}

const engineNamePattern = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** Engine names are also URL path segments and Docker label values. */
export function isEngineName(value: string): boolean {
  return engineNamePattern.test(value);
}
