import { describe, expect, it } from 'vitest';
import { parseEnginesConfig } from '../../../config/engines-config.js';
import { engineDefaultsSchema } from '../../../config/schema.js';
import { buildContainerSpec } from './container-spec.js';
import { deniedSyscalls, menagerieSeccompProfile } from './seccomp-profile.js';

function specFor(entry: Record<string, unknown>, allow: string[] = []) {
  const [engine] = parseEnginesConfig(
    JSON.stringify({
      engines: [{ name: 'e', image: 'img', ...entry }],
      allowLoosening: allow.length ? { e: allow } : {},
    }),
    engineDefaultsSchema.parse({}),
  );
  return buildContainerSpec({
    engine: engine!,
    imageId: 'sha256:abc',
    jobId: 'job',
    workerId: 'worker',
    volumeName: 'vol',
    name: 'c',
    copyMountpointFromImage: false,
  });
}

describe('container spec', () => {
  it('hardens every control by default', () => {
    const spec = specFor({});
    const h = spec.HostConfig!;
    expect(spec.User).toBe('1000');
    expect(spec.NetworkDisabled).toBe(true);
    expect(h).toMatchObject({
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      Privileged: false,
      CapDrop: ['ALL'],
      CapAdd: [],
      IpcMode: 'none',
      PidMode: '',
      UTSMode: '',
      UsernsMode: '',
      CgroupParent: '',
      Devices: [],
      OomKillDisable: false,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    });
    expect(h.MemorySwap).toBe(h.Memory);
    expect(h.PidsLimit).toBeGreaterThan(0);
    expect(h.Tmpfs?.['/tmp']).toMatch(/noexec,nosuid,nodev,size=\d+,nr_inodes=\d+/);
    expect(h.Tmpfs?.['/dev/shm']).toMatch(/noexec,nosuid,nodev,size=\d+,nr_inodes=\d+/);
    expect(h.Mounts).toHaveLength(1);
    expect(h.Mounts?.[0]).toMatchObject({ Type: 'volume', Source: 'vol', Target: '/var/data' });
    expect('MaskedPaths' in h).toBe(false);
    expect(h.SecurityOpt?.[0]).toBe('no-new-privileges');
    const seccomp = h.SecurityOpt?.find((o: string) => o.startsWith('seccomp='));
    expect(JSON.parse(seccomp!.slice('seccomp='.length))).toEqual(menagerieSeccompProfile());
  });

  it('applies written-out loosenings and nothing more', () => {
    const h = specFor(
      { security: { seccomp: 'unconfined', maskedPaths: false, capAdd: ['SYS_PTRACE'], network: 'bridge' } },
      ['--security-opt seccomp=unconfined', '--security-opt systempaths=unconfined', '--cap-add SYS_PTRACE'],
    ).HostConfig!;
    expect(h.SecurityOpt).toEqual(['no-new-privileges', 'seccomp=unconfined']);
    expect(h).toMatchObject({
      MaskedPaths: [],
      ReadonlyPaths: [],
      CapAdd: ['SYS_PTRACE'],
      NetworkMode: 'bridge',
    });
    expect(specFor({ security: { seccomp: 'docker-default' } }).HostConfig?.SecurityOpt).toEqual([
      'no-new-privileges',
    ]);
  });
});

describe('Menagerie seccomp profile', () => {
  it('denies by default and allows none of the denied calls', () => {
    const profile = menagerieSeccompProfile();
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    const allowedNames = profile.syscalls
      .filter((r) => r.action === 'SCMP_ACT_ALLOW')
      .flatMap((r) => r.names);
    for (const name of deniedSyscalls) expect(allowedNames, name).not.toContain(name);
    for (const name of ['read', 'write', 'execve', 'openat', 'mmap', 'futex', 'wait4']) {
      expect(allowedNames).toContain(name);
    }
  });

  it('allows clone only without namespace flags', () => {
    const clone = menagerieSeccompProfile().syscalls.find((r) => r.names.includes('clone'));
    const CLONE_NEWUSER = 0x10000000;
    expect(clone?.args?.[0]).toMatchObject({ op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0 });
    expect((clone!.args![0]!.value & CLONE_NEWUSER) !== 0).toBe(true);
  });
});
