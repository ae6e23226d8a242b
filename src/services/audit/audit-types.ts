/**
 * The self-audit's words: a finding is one check's verdict on one subject
 * (the daemon, an engine, the API), with the CIS Docker Benchmark id where
 * one exists (v1.6/v1.7 numbering), why, and how to fix it.
 */

export type AuditStatus = 'PASS' | 'WARN' | 'FAIL';

export interface AuditFinding {
  readonly status: AuditStatus;
  /** Stable id of the check (`daemon.userns-remap`, `engine.capabilities` …). */
  readonly check: string;
  /** CIS Docker Benchmark id, e.g. `5.4`; null for Menagerie's own checks. */
  readonly cis: string | null;
  /** `daemon`, `api`, or `engine <name>`. */
  readonly subject: string;
  /** What was found, in one line. */
  readonly reason: string;
  /** What to do; null on PASS. */
  readonly fix: string | null;
}

/** What the audit reads from the Docker daemon. */
export interface DaemonFacts {
  readonly serverVersion: string;
  readonly runcVersion: string | null;
  readonly securityOptions: readonly string[];
  readonly liveRestoreEnabled: boolean;
  readonly loggingDriver: string;
  readonly experimental: boolean;
  readonly warnings: readonly string[];
  readonly insecureRegistryCidrs: readonly string[];
  readonly pidsLimitSupported: boolean;
  readonly memoryLimitSupported: boolean;
  readonly swapLimitSupported: boolean;
  readonly defaultRuntime: string;
  readonly runtimes: readonly string[];
  /** /etc/docker/daemon.json parsed; null when absent or unreadable (`error` says why). */
  readonly daemonJson: Record<string, unknown> | null;
  readonly daemonJsonError: string | null;
  /** The local socket's owner, group and mode; null when the daemon is remote. */
  readonly socket: { readonly uid: number; readonly group: string; readonly mode: number } | null;
}

/** The fields of a container create body the per-container checks read (the Engine API's names). */
export interface ContainerSpecFacts {
  readonly User?: string;
  readonly HostConfig?: {
    readonly NetworkMode?: string;
    readonly ReadonlyRootfs?: boolean;
    readonly Privileged?: boolean;
    readonly CapDrop?: readonly string[];
    readonly CapAdd?: readonly string[];
    readonly SecurityOpt?: readonly string[];
    readonly MaskedPaths?: readonly string[];
    readonly ReadonlyPaths?: readonly string[];
    readonly PidMode?: string;
    readonly IpcMode?: string;
    readonly UTSMode?: string;
    readonly UsernsMode?: string;
    readonly CgroupParent?: string;
    readonly PortBindings?: Record<string, unknown>;
    readonly PublishAllPorts?: boolean;
    readonly Devices?: readonly unknown[];
    readonly Memory?: number;
    readonly MemorySwap?: number;
    readonly NanoCpus?: number;
    readonly CpuShares?: number;
    readonly PidsLimit?: number | null;
    readonly Tmpfs?: Record<string, string>;
    readonly Mounts?: readonly {
      Type?: string;
      Source?: string;
      Target?: string;
      BindOptions?: { Propagation?: string };
    }[];
    readonly Binds?: readonly string[];
    readonly LogConfig?: { Type?: string; Config?: Record<string, string> };
    readonly RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
    readonly Runtime?: string;
  };
}

/** What a canary container saw from inside. */
export interface CanaryObservation {
  readonly capEff: string | null;
  readonly noNewPrivs: string | null;
  readonly seccomp: string | null;
  readonly rootfsWritable: boolean;
  readonly uid: string | null;
  readonly memoryLimitBytes: number | null;
  readonly pidsMax: number | null;
  /** CPU quota as a number of CPUs; null when unlimited or unreadable. */
  readonly cpus: number | null;
  readonly interfaces: readonly string[];
  /** Present when the canary could not run; the other fields are then empty. */
  readonly error?: string;
}
