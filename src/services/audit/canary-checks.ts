import type { EngineSpec } from '../../domain/index.js';
import type { AuditFinding, AuditStatus, CanaryObservation } from './audit-types.js';

/** The script a canary runs: it prints what the kernel applied, one `key: value` a line. */
export const canaryScript = [
  "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status",
  'echo "uid: $(id -u)"',
  'if touch /.menagerie-canary 2>/dev/null; then echo "rootfs: writable"; else echo "rootfs: read-only"; fi',
  'for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do [ -r $f ] && echo "memory: $(cat $f)"; done',
  'for f in /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max; do [ -r $f ] && echo "pids: $(cat $f)"; done',
  '[ -r /sys/fs/cgroup/cpu.max ] && echo "cpu: $(cat /sys/fs/cgroup/cpu.max)"',
  'for d in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do [ -r $d/cpu.cfs_quota_us ] && echo "cpu: $(cat $d/cpu.cfs_quota_us) $(cat $d/cpu.cfs_period_us)" && break; done',
  "echo \"interfaces: $(ls /sys/class/net | tr '\\n' ' ')\"",
  'exit 0',
].join('\n');

/** Parses the canary's output. */
export function parseCanaryOutput(text: string): CanaryObservation {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+):\s*(.*)$/.exec(line.trim());
    if (m) values.set(m[1] as string, (m[2] as string).trim());
  }
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  const cpu = values.get('cpu')?.split(/\s+/) ?? [];
  const quota = num(cpu[0]);
  const period = num(cpu[1]);
  return {
    capEff: values.get('CapEff') ?? null,
    noNewPrivs: values.get('NoNewPrivs') ?? null,
    seccomp: values.get('Seccomp') ?? null,
    rootfsWritable: values.get('rootfs') === 'writable',
    uid: values.get('uid') ?? null,
    memoryLimitBytes: num(values.get('memory')),
    pidsMax: num(values.get('pids')),
    cpus: quota !== null && period ? quota / period : null,
    interfaces: (values.get('interfaces') ?? '').split(/\s+/).filter(Boolean),
  };
}

/** Compares what a canary saw from inside with what the engine's policy asked for. */
export function checkCanary(engine: EngineSpec, seen: CanaryObservation): AuditFinding[] {
  const subject = `engine ${engine.name}`;
  const out: AuditFinding[] = [];
  const add = (
    ok: boolean,
    check: string,
    reason: string,
    fix = 'report this: the kernel did not apply the policy',
  ) =>
    out.push({
      status: (ok ? 'PASS' : 'FAIL') as AuditStatus,
      check: `canary.${check}`,
      cis: null,
      subject,
      reason: `canary: ${reason}`,
      fix: ok ? null : fix,
    });
  if (seen.error) {
    out.push({
      status: 'FAIL',
      check: 'canary.run',
      cis: null,
      subject,
      reason: `canary could not run: ${seen.error}`,
      fix: 'check that the Docker engine answers and menagerie/busybox:latest exists (scripts/setup.sh)',
    });
    return out;
  }
  const p = engine.policy;
  const capsExpected = p.capAdd.length > 0 || p.privileged;
  add(
    capsExpected || seen.capEff === '0000000000000000',
    'capabilities',
    `effective capabilities ${seen.capEff ?? 'unknown'}`,
  );
  add(
    !p.noNewPrivileges || seen.noNewPrivs === '1',
    'no-new-privileges',
    `NoNewPrivs ${seen.noNewPrivs ?? 'unknown'}`,
  );
  add(
    p.seccomp === 'unconfined' || seen.seccomp === '2',
    'seccomp',
    `seccomp mode ${seen.seccomp ?? 'unknown'} (2 = filter)`,
  );
  add(
    !p.readOnlyRootfs || !seen.rootfsWritable,
    'read-only-rootfs',
    `root filesystem ${seen.rootfsWritable ? 'writable' : 'read-only'}`,
  );
  add(seen.uid === p.user.split(':')[0], 'user', `runs as uid ${seen.uid ?? 'unknown'}`);
  add(
    seen.memoryLimitBytes === p.memoryBytes,
    'memory-limit',
    `memory cgroup limit ${seen.memoryLimitBytes ?? 'unreadable'} bytes (asked ${p.memoryBytes})`,
  );
  add(
    seen.pidsMax === p.pidsLimit,
    'pids-limit',
    `pids cgroup limit ${seen.pidsMax ?? 'unreadable'} (asked ${p.pidsLimit})`,
  );
  add(
    seen.cpus !== null && Math.abs(seen.cpus - p.nanoCpus / 1e9) < 0.01,
    'cpu-limit',
    `CPU quota ${seen.cpus ?? 'none'} CPUs (asked ${p.nanoCpus / 1e9})`,
  );
  const onlyLoopback = seen.interfaces.length === 1 && seen.interfaces[0] === 'lo';
  add(
    p.network !== 'none' || onlyLoopback,
    'network',
    `network interfaces: ${seen.interfaces.join(', ') || 'none'}`,
  );
  return out;
}
