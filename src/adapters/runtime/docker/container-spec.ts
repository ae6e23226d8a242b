import type Docker from 'dockerode';
import type { EngineSpec } from '../../../domain/index.js';

/** Labels that mark every container and volume Menagerie makes. */
export const labels = {
  job: 'menagerie.job',
  worker: 'menagerie.worker',
  engine: 'menagerie.engine',
} as const;

/** Size of /dev/shm, bytes; it is memory, charged to the container. */
const shmBytes = 16 * 1024 * 1024;

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
}

/**
 * The Engine API create body for one job: the engine's policy made concrete.
 * Every hardening control is set here explicitly rather than left to daemon
 * defaults, so `docker inspect` shows what the job ran under.
 */
export function buildContainerSpec(input: ContainerSpecInput): Docker.ContainerCreateOptions {
  const { engine, jobId, workerId } = input;
  const p = engine.policy;
  const securityOpt = p.noNewPrivileges ? ['no-new-privileges'] : [];
  if (p.seccomp === 'unconfined') securityOpt.push('seccomp=unconfined');
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
      Privileged: false,
      CapDrop: ['ALL'],
      CapAdd: [...p.capAdd],
      SecurityOpt: securityOpt,
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
      Tmpfs: { '/tmp': `rw,noexec,nosuid,nodev,size=${p.tmpfsBytes},nr_inodes=16384,mode=1777` },
      IpcMode: 'private',
      ShmSize: shmBytes,
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
