import type Docker from 'dockerode';
import type { EnginePolicy, EngineSpec } from '../../../domain/index.js';
import { menagerieSeccompOption } from './seccomp-profile.js';

/** Labels that mark every container and volume Menagerie makes. */
export const labels = {
  job: 'menagerie.job',
  worker: 'menagerie.worker',
  engine: 'menagerie.engine',
} as const;

/** Size of /dev/shm, bytes; it is memory, charged to the container. */
export const shmBytes = 16 * 1024 * 1024;

/**
 * Inodes of the tmpfs at /tmp and /dev/shm: each costs kernel memory the
 * memory limit does not see in full, so a payload making millions of empty
 * files stops here rather than at the host.
 */
export const tmpfsInodes = { tmp: 16_384, shm: 1024 } as const;

/**
 * The `SecurityOpt` list a policy asks for. `apparmorProfile` is the engine's
 * own profile, loaded where the host has AppArmor; elsewhere there is none.
 */
export function securityOptions(p: EnginePolicy, apparmorProfile?: string): string[] {
  const options: string[] = [];
  if (p.noNewPrivileges) options.push('no-new-privileges');
  if (p.seccomp === 'menagerie') options.push(menagerieSeccompOption());
  else if (p.seccomp === 'unconfined') options.push('seccomp=unconfined');
  // docker-default: Docker's own profile, applied when none is named.
  if (p.apparmor !== 'default') options.push(`apparmor=${p.apparmor}`);
  else if (apparmorProfile) options.push(`apparmor=${apparmorProfile}`);
  return options;
}

export interface ContainerSpecInput {
  readonly engine: EngineSpec;
  readonly imageId: string;
  readonly jobId: string;
  readonly workerId: string;
  readonly volumeName: string;
  readonly name: string;
  /**
   * Whether Docker may copy the image's mountpoint (its owner) into the fresh
   * volume: needed when files cross by archive copies, since the volume's root
   * must belong to the engine user; off for a mounted job filesystem.
   */
  readonly copyMountpointFromImage: boolean;
  /** The engine's loaded AppArmor profile, where the host has AppArmor. */
  readonly apparmorProfile?: string;
}

/**
 * The Engine API create body for one job: the engine's policy made concrete.
 * Every hardening control is set here explicitly rather than left to daemon
 * defaults, so `docker inspect` shows what the job ran under.
 */
export function buildContainerSpec(input: ContainerSpecInput): Docker.ContainerCreateOptions {
  const { engine, jobId, workerId } = input;
  const p = engine.policy;
  const hostNs = new Set(p.hostNamespaces);
  return {
    name: input.name,
    Image: input.imageId,
    ...(engine.cmd.length > 0 ? { Cmd: [...engine.cmd] } : {}),
    User: p.user,
    Env: Object.entries(engine.env).map(([k, v]) => `${k}=${v}`),
    Labels: { [labels.job]: jobId, [labels.worker]: workerId, [labels.engine]: engine.name },
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    NetworkDisabled: p.network === 'none',
    HostConfig: {
      NetworkMode: p.network,
      ReadonlyRootfs: p.readOnlyRootfs,
      Privileged: p.privileged,
      CapDrop: ['ALL'],
      CapAdd: [...p.capAdd],
      SecurityOpt: securityOptions(p, input.apparmorProfile),
      // An empty list is how Docker is told to unmask them (systempaths=unconfined).
      ...(p.maskedPaths ? {} : { MaskedPaths: [], ReadonlyPaths: [] }),
      PidMode: hostNs.has('pid') ? 'host' : '',
      UTSMode: hostNs.has('uts') ? 'host' : '',
      UsernsMode: hostNs.has('userns') ? 'host' : '',
      CgroupParent: '',
      PortBindings: {},
      PublishAllPorts: false,
      Devices: [],
      Sysctls: {},
      Memory: p.memoryBytes,
      MemorySwap: p.memoryBytes,
      OomKillDisable: false,
      NanoCpus: p.nanoCpus,
      PidsLimit: p.pidsLimit,
      Ulimits: [
        { Name: 'nofile', Soft: p.nofile, Hard: p.nofile },
        { Name: 'fsize', Soft: p.fsizeBytes, Hard: p.fsizeBytes },
        { Name: 'core', Soft: 0, Hard: 0 },
      ],
      Tmpfs: {
        '/tmp': `rw,noexec,nosuid,nodev,size=${p.tmpfsBytes},nr_inodes=${tmpfsInodes.tmp},mode=1777`,
        // IpcMode "none" mounts no /dev/shm of its own, so this one can carry an inode cap.
        ...(hostNs.has('ipc')
          ? {}
          : { '/dev/shm': `rw,noexec,nosuid,nodev,size=${shmBytes},nr_inodes=${tmpfsInodes.shm},mode=1777` }),
      },
      IpcMode: hostNs.has('ipc') ? 'host' : 'none',
      Mounts: [
        {
          Type: 'volume',
          Source: input.volumeName,
          Target: engine.mountpoint,
          ReadOnly: false,
          VolumeOptions: { NoCopy: !input.copyMountpointFromImage } as NonNullable<
            Docker.MountSettings['VolumeOptions']
          >,
        },
      ],
      // Output is taken through attach with caps; nothing is written to the daemon's disk.
      LogConfig: { Type: 'none', Config: {} },
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false,
      ...(p.runtime ? { Runtime: p.runtime } : {}),
    },
  };
}
