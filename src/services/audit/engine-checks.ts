import { dangerousCapabilities, isDangerousLoosening, type EngineSpec } from '../../domain/index.js';
import type { AuditFinding, AuditStatus, ContainerSpecFacts } from './audit-types.js';

const sensitiveHostPaths = ['/', '/boot', '/dev', '/etc', '/lib', '/proc', '/sys', '/usr'];

/**
 * Per-container checks (CIS 4.1 and 5.x, plus Menagerie's own) on the create
 * body Menagerie would send for an engine, so what is audited is what runs.
 * A loosening the operator allowed still FAILs when it breaks containment.
 */
export function checkEngine(engine: EngineSpec, spec: ContainerSpecFacts): AuditFinding[] {
  const subject = `engine ${engine.name}`;
  const h = spec.HostConfig ?? {};
  const out: AuditFinding[] = [];
  const add = (status: AuditStatus, check: string, cis: string | null, reason: string, fix: string) =>
    out.push({ status, check: `engine.${check}`, cis, subject, reason, fix: status === 'PASS' ? null : fix });
  const allowNote = (flag: string) =>
    `; allowed by allowLoosening.${engine.name}: remove "${flag}" from it and from the engine to restore the default`;
  const secOpt = h.SecurityOpt ?? [];

  const user = spec.User ?? '';
  const isRoot =
    user === '' || user === 'root' || user === '0' || user.startsWith('0:') || user.startsWith('root:');
  add(
    isRoot ? 'WARN' : 'PASS',
    'user',
    '4.1',
    isRoot
      ? 'runs as root inside the container (remapped to an unprivileged host uid when userns-remap is on)'
      : `runs as user ${user}`,
    'set "user" to a non-root uid the image supports',
  );

  const apparmor = secOpt.find((o) => o.startsWith('apparmor='));
  add(
    apparmor === 'apparmor=unconfined' ? 'FAIL' : 'PASS',
    'apparmor',
    '5.2',
    apparmor === 'apparmor=unconfined'
      ? `AppArmor is unconfined${allowNote('--security-opt apparmor=unconfined')}`
      : `AppArmor profile: ${apparmor?.slice(9) ?? 'docker-default (where the kernel has AppArmor)'}`,
    'remove "apparmor": "unconfined"',
  );

  const capAdd = h.CapAdd ?? [];
  const dropsAll = (h.CapDrop ?? []).some((c) => c.toUpperCase() === 'ALL');
  const dangerousCaps = capAdd.filter((c) =>
    dangerousCapabilities.includes(c.toUpperCase().replace(/^CAP_/, '')),
  );
  add(
    !dropsAll || dangerousCaps.length > 0 ? 'FAIL' : capAdd.length > 0 ? 'WARN' : 'PASS',
    'capabilities',
    '5.4',
    !dropsAll
      ? 'capabilities are not all dropped'
      : capAdd.length === 0
        ? 'all capabilities dropped, none added'
        : `all dropped, then added back: ${capAdd.join(', ')}${dangerousCaps.length > 0 ? allowNote(`--cap-add ${dangerousCaps[0]}`) : ''}`,
    'drop the capAdd entries the engine can do without',
  );

  add(
    h.Privileged ? 'FAIL' : 'PASS',
    'privileged',
    '5.5',
    h.Privileged ? `privileged container${allowNote('--privileged')}` : 'not privileged',
    'remove "privileged" / --privileged',
  );

  const mounts = h.Mounts ?? [];
  const binds = [...(h.Binds ?? []), ...mounts.filter((m) => m.Type === 'bind').map((m) => m.Source ?? '')];
  const sensitive = binds.filter((b) =>
    sensitiveHostPaths.includes(b.split(':')[0]?.replace(/\/+$/, '') || '/'),
  );
  add(
    sensitive.length > 0 ? 'FAIL' : 'PASS',
    'sensitive-mounts',
    '5.6',
    sensitive.length > 0 ? `host paths mounted: ${sensitive.join(', ')}` : 'no host directory is mounted',
    'remove host mounts',
  );

  const ports = Object.keys(h.PortBindings ?? {});
  add(
    ports.length > 0 || h.PublishAllPorts ? 'FAIL' : 'PASS',
    'ports',
    '5.8',
    ports.length > 0 || h.PublishAllPorts
      ? `ports published: ${ports.join(', ') || 'all'}`
      : 'no ports published',
    'remove published ports',
  );

  const network = h.NetworkMode ?? 'default';
  add(
    network === 'host' ? 'FAIL' : network === 'none' ? 'PASS' : 'WARN',
    'network',
    '5.10',
    network === 'host'
      ? `shares the host network namespace${allowNote('--network host')}`
      : network === 'none'
        ? 'no network (loopback only)'
        : `network "${network}": the engine can reach the network`,
    'set "network": "none" unless the engine must fetch something',
  );

  add(
    (h.Memory ?? 0) > 0 && h.MemorySwap === h.Memory ? 'PASS' : 'FAIL',
    'memory',
    '5.11',
    (h.Memory ?? 0) > 0
      ? `memory limited to ${Math.round((h.Memory ?? 0) / 2 ** 20)} MiB, no swap`
      : 'no memory limit',
    'set resources.memoryMb',
  );
  add(
    (h.NanoCpus ?? 0) > 0 || ![0, 1024, undefined].includes(h.CpuShares) ? 'PASS' : 'FAIL',
    'cpu',
    '5.12',
    (h.NanoCpus ?? 0) > 0 ? `CPU limited to ${(h.NanoCpus ?? 0) / 1e9} CPUs` : 'no CPU limit',
    'set resources.cpus',
  );
  add(
    h.ReadonlyRootfs ? 'PASS' : 'WARN',
    'read-only-rootfs',
    '5.13',
    h.ReadonlyRootfs
      ? 'root filesystem is read-only'
      : 'root filesystem is writable (a payload can change the image copy it runs in)',
    'remove "readOnlyRootfs": false',
  );
  const restart = h.RestartPolicy?.Name ?? '';
  add(
    restart === '' || restart === 'no' ? 'PASS' : 'FAIL',
    'restart-policy',
    '5.15',
    `restart policy "${restart || 'no'}"`,
    'use restart policy "no"',
  );

  for (const [check, cis, mode, flag] of [
    ['pid-namespace', '5.16', h.PidMode, '--pid host'],
    ['ipc-namespace', '5.17', h.IpcMode, '--ipc host'],
    ['uts-namespace', '5.21', h.UTSMode, '--uts host'],
    ['userns', '5.31', h.UsernsMode, '--userns host'],
  ] as const) {
    add(
      mode === 'host' ? 'FAIL' : 'PASS',
      check,
      cis,
      mode === 'host'
        ? `shares the host's ${check.replace('-namespace', '')} namespace${allowNote(flag)}`
        : `own ${check.replace('-namespace', '')} namespace`,
      `remove "${flag}"`,
    );
  }

  add(
    (h.Devices ?? []).length > 0 ? 'FAIL' : 'PASS',
    'devices',
    '5.18',
    (h.Devices ?? []).length > 0 ? 'host devices exposed' : 'no host devices',
    'remove devices',
  );
  const shared = mounts.filter((m) => /^r?shared$/.test(m.BindOptions?.Propagation ?? ''));
  add(
    shared.length > 0 ? 'FAIL' : 'PASS',
    'mount-propagation',
    '5.20',
    shared.length > 0 ? 'a mount propagates to the host' : 'no shared mount propagation',
    'remove shared propagation',
  );

  const seccomp = secOpt.find((o) => o.startsWith('seccomp='));
  add(
    seccomp === 'seccomp=unconfined' ? 'FAIL' : seccomp ? 'PASS' : 'WARN',
    'seccomp',
    '5.22',
    seccomp === 'seccomp=unconfined'
      ? `seccomp is off${allowNote('--security-opt seccomp=unconfined')}`
      : seccomp
        ? 'Menagerie seccomp profile (Docker default, stricter)'
        : "Docker's default seccomp profile (looser than Menagerie's: allows io_uring, ptrace on new kernels)",
    'remove "seccomp" from the security block to get the Menagerie profile',
  );
  add(
    !h.CgroupParent ? 'PASS' : 'FAIL',
    'cgroup-parent',
    '5.25',
    !h.CgroupParent ? 'default cgroup parent' : `cgroup parent "${h.CgroupParent}"`,
    'remove the cgroup parent',
  );
  const nnp = secOpt.some((o) => /^no-new-privileges(:true|=true)?$/.test(o));
  add(
    nnp ? 'PASS' : 'FAIL',
    'no-new-privileges',
    '5.26',
    nnp
      ? 'no-new-privileges is set'
      : `no-new-privileges is off: setuid binaries in the image work${allowNote('--security-opt no-new-privileges=false')}`,
    'remove "noNewPrivileges": false',
  );
  add(
    (h.PidsLimit ?? 0) > 0 ? 'PASS' : 'FAIL',
    'pids-limit',
    '5.29',
    (h.PidsLimit ?? 0) > 0 ? `at most ${h.PidsLimit} processes` : 'no process limit',
    'set resources.pids',
  );
  const socket = binds
    .concat(mounts.map((m) => m.Source ?? ''))
    .filter((s) => /docker\.sock|containerd\.sock/.test(s));
  add(
    socket.length > 0 ? 'FAIL' : 'PASS',
    'docker-socket',
    '5.32',
    socket.length > 0
      ? 'the Docker socket is mounted: the engine controls the host'
      : 'Docker socket not mounted',
    'remove the socket mount',
  );

  // Menagerie's own checks.
  const masked = h.MaskedPaths === undefined || h.MaskedPaths.length > 0;
  add(
    masked ? 'PASS' : 'FAIL',
    'masked-paths',
    null,
    masked
      ? "Docker's masked and read-only /proc and /sys paths are in place"
      : `masked paths emptied (systempaths=unconfined): /proc/kcore, /proc/keys, /sys/firmware readable${allowNote('--security-opt systempaths=unconfined')}`,
    'remove "maskedPaths": false',
  );
  const tmpfs = Object.entries(h.Tmpfs ?? {});
  const unsized = tmpfs.filter(([, o]) => !/(^|,)size=\d/.test(o)).map(([p]) => p);
  add(
    unsized.length > 0 ? 'FAIL' : 'PASS',
    'tmpfs-sized',
    null,
    unsized.length > 0
      ? `tmpfs without a size: ${unsized.join(', ')}`
      : `every tmpfs is sized (${tmpfs.map(([p]) => p).join(', ')})`,
    'give every tmpfs a size',
  );
  const log = h.LogConfig?.Type ?? 'default';
  const logCapped = log === 'none' || (log !== 'default' && h.LogConfig?.Config?.['max-size'] !== undefined);
  add(
    logCapped ? 'PASS' : 'WARN',
    'logs-capped',
    null,
    logCapped
      ? `daemon-side logs: ${log}; stdout and stderr kept up to ${Math.round(engine.policy.logMaxBytes / 1024)} KiB each`
      : 'container logs are not capped on the daemon side',
    'use LogConfig none or a max-size',
  );
  const onlyJobVolume =
    binds.length === 0 &&
    mounts.length === 1 &&
    mounts[0]?.Type === 'volume' &&
    mounts[0]?.Target === engine.mountpoint;
  add(
    onlyJobVolume ? 'PASS' : 'FAIL',
    'only-job-volume',
    null,
    onlyJobVolume
      ? `only the job volume is mounted (at ${engine.mountpoint}, ${Math.round(engine.policy.volumeBytes / 2 ** 20)} MiB cap)`
      : 'mounts other than the job volume',
    'remove the extra mounts',
  );
  add(
    h.Runtime ? 'WARN' : 'PASS',
    'runtime',
    null,
    h.Runtime
      ? `OCI runtime "${h.Runtime}" (check that the daemon has it and that it is the one intended)`
      : "the daemon's default OCI runtime",
    'remove "runtime" or check it',
  );

  // Every written-out loosening, so none goes unseen.
  for (const loosening of engine.loosenings) {
    const dangerous = isDangerousLoosening(loosening);
    add(
      dangerous ? 'FAIL' : 'WARN',
      'loosening',
      null,
      `loosened: ${loosening}${dangerous ? ' (breaks containment; allowed by allowLoosening)' : ''}`,
      'remove it from the engine config unless the engine cannot run without it',
    );
  }
  return out;
}
