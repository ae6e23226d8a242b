import type { AuditFinding, AuditStatus, DaemonFacts } from './audit-types.js';

/** `20.10.24+dfsg1` → [20, 10, 24]. */
export function parseVersion(version: string): number[] {
  return (/^v?(\d+(?:\.\d+)*)/.exec(version.trim())?.[1] ?? '0').split('.').map(Number);
}

/** Whether version a is older than b (missing parts count as 0). */
export function isOlder(a: string, b: string): boolean {
  const x = parseVersion(a);
  const y = parseVersion(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return false;
}

function finding(
  status: AuditStatus,
  check: string,
  cis: string | null,
  reason: string,
  fix: string | null = null,
): AuditFinding {
  return { status, check, cis, subject: 'daemon', reason, fix: status === 'PASS' ? null : fix };
}

/** Docker Engine fixing the archive (docker cp) endpoint races and the planted-decompressor escape. */
export const engineFixedVersion = '29.5.1';
const engineAdvisories = 'GHSA-vp62-88p7-qqf5, GHSA-rg2x-37c3-w2rh, GHSA-x86f-5xw2-fm2r';

/** runc fixing CVE-2025-31133, CVE-2025-52565, CVE-2025-52881 (GHSA-9493-h29p-rfm2). */
function runcIsFixed(version: string): boolean {
  const [major = 0, minor = 0] = parseVersion(version);
  if (major > 1 || (major === 1 && minor >= 4)) return true;
  if (major === 1 && minor === 3) return !isOlder(version, '1.3.3');
  if (major === 1 && minor === 2) return !isOlder(version, '1.2.8');
  return false;
}

/**
 * Checks of the Docker daemon's own settings (CIS section 2, 3.15–3.16, 1.2.2),
 * from the Engine API and /etc/docker/daemon.json.
 */
export function checkDaemon(d: DaemonFacts): AuditFinding[] {
  const out: AuditFinding[] = [];
  const json = d.daemonJson ?? {};
  const has = (name: string) => d.securityOptions.some((o) => o.includes(`name=${name}`));

  if (d.daemonJson === null) {
    out.push(
      finding(
        'WARN',
        'daemon.config-file',
        null,
        `/etc/docker/daemon.json could not be read (${d.daemonJsonError ?? 'absent'}); checks that need it rely on the Engine API only`,
        'run the audit on the Docker host, or write the settings to /etc/docker/daemon.json (scripts/ensure-docker.sh does)',
      ),
    );
  }

  out.push(
    has('userns') || has('rootless')
      ? finding(
          'PASS',
          'daemon.userns-remap',
          '2.9',
          `containers run in a user namespace (${has('rootless') ? 'rootless daemon' : 'userns-remap'})`,
        )
      : finding(
          'WARN',
          'daemon.userns-remap',
          '2.9',
          'no user-namespace remap: root in a container is root on the host',
          'set "userns-remap": "default" in daemon.json and restart dockerd',
        ),
  );

  const iccOff = json.icc === false || json.bridge === 'none';
  out.push(
    iccOff
      ? finding('PASS', 'daemon.icc', '2.2', 'inter-container communication on the default bridge is off')
      : finding(
          'WARN',
          'daemon.icc',
          '2.2',
          'containers on the default bridge can reach each other (engines use no network unless loosened)',
          'set "icc": false in daemon.json',
        ),
  );

  const insecure = d.insecureRegistryCidrs.filter((c) => !c.startsWith('127.') && c !== '::1/128');
  const insecureJson = Array.isArray(json['insecure-registries'])
    ? (json['insecure-registries'] as string[])
    : [];
  out.push(
    insecure.length === 0 && insecureJson.every((r) => /^(localhost|127\.)/.test(r))
      ? finding('PASS', 'daemon.insecure-registries', '2.5', 'no insecure registries beyond loopback')
      : finding(
          'FAIL',
          'daemon.insecure-registries',
          '2.5',
          `insecure registries: ${[...insecure, ...insecureJson].join(', ')}`,
          'remove them from "insecure-registries" and serve registries over TLS',
        ),
  );

  const hosts = Array.isArray(json.hosts) ? (json.hosts as string[]) : [];
  const tcpHosts = hosts.filter((h) => h.startsWith('tcp://'));
  const plainTcp = d.warnings.some((w) =>
    /accessible on http:\/\/|without encryption|without TLS client verification/i.test(w),
  );
  out.push(
    plainTcp || (tcpHosts.length > 0 && json.tlsverify !== true)
      ? finding(
          'FAIL',
          'daemon.tcp-tls',
          '2.7',
          `the Engine API listens on TCP without TLS client verification (${tcpHosts.join(', ') || 'see docker info warnings'})`,
          'remove the tcp:// host, or set "tlsverify": true with tlscacert/tlscert/tlskey',
        )
      : finding(
          'PASS',
          'daemon.tcp-tls',
          '2.7',
          tcpHosts.length > 0
            ? 'TCP socket requires TLS client certificates'
            : 'no TCP socket; the Engine API is on the local unix socket only',
        ),
  );

  out.push(
    json['cgroup-parent'] === undefined
      ? finding('PASS', 'daemon.cgroup-parent', '2.10', 'default cgroup parent')
      : finding(
          'WARN',
          'daemon.cgroup-parent',
          '2.10',
          `cgroup-parent is "${String(json['cgroup-parent'])}"`,
          'remove "cgroup-parent" from daemon.json unless it is deliberate',
        ),
  );

  const logOpts = (json['log-opts'] ?? {}) as Record<string, unknown>;
  out.push(
    d.loggingDriver === 'local' || logOpts['max-size'] !== undefined || d.loggingDriver === 'none'
      ? finding(
          'PASS',
          'daemon.log-limits',
          '2.13',
          `log driver "${d.loggingDriver}"${logOpts['max-size'] ? ` with max-size ${String(logOpts['max-size'])}` : ''}; engine containers log nothing to the daemon (output is taken through attach, capped)`,
        )
      : finding(
          'WARN',
          'daemon.log-limits',
          '2.13',
          `log driver "${d.loggingDriver}" without a size limit: other containers can fill the disk with logs`,
          'set "log-driver": "local" or "log-opts": {"max-size": "10m", "max-file": "3"}',
        ),
  );

  out.push(
    json['no-new-privileges'] === true || has('no-new-privileges')
      ? finding(
          'PASS',
          'daemon.no-new-privileges',
          '2.14',
          'no-new-privileges is the daemon default (Menagerie also sets it on every engine)',
        )
      : finding(
          'WARN',
          'daemon.no-new-privileges',
          '2.14',
          'no-new-privileges is not the daemon default (Docker 20.10 does not report it through /info; read from daemon.json); Menagerie still sets it per engine',
          'set "no-new-privileges": true in daemon.json',
        ),
  );

  out.push(
    d.liveRestoreEnabled
      ? finding('PASS', 'daemon.live-restore', '2.15', 'live-restore is enabled')
      : finding(
          'WARN',
          'daemon.live-restore',
          '2.15',
          'live-restore is off: a daemon restart stops every running job',
          'set "live-restore": true in daemon.json',
        ),
  );

  out.push(
    json['userland-proxy'] === false
      ? finding('PASS', 'daemon.userland-proxy', '2.16', 'userland proxy is off')
      : finding(
          'WARN',
          'daemon.userland-proxy',
          '2.16',
          'userland proxy is on (engines publish no ports, so it is unused)',
          'set "userland-proxy": false in daemon.json',
        ),
  );

  out.push(
    has('seccomp')
      ? finding(
          'PASS',
          'daemon.seccomp',
          '2.17',
          `seccomp is enabled (${d.securityOptions.find((o) => o.includes('name=seccomp'))})`,
        )
      : finding(
          'FAIL',
          'daemon.seccomp',
          '2.17',
          'the daemon has no seccomp support: no engine gets a syscall filter',
          'use a Docker built with seccomp on a kernel with CONFIG_SECCOMP_FILTER',
        ),
  );

  out.push(
    d.experimental
      ? finding(
          'WARN',
          'daemon.experimental',
          '2.18',
          'experimental features are on',
          'remove "experimental": true from daemon.json',
        )
      : finding('PASS', 'daemon.experimental', '2.18', 'experimental features are off'),
  );

  out.push(
    has('apparmor')
      ? finding(
          'PASS',
          'daemon.apparmor',
          '5.2',
          'AppArmor is available; engines get docker-default unless they name a profile',
        )
      : finding(
          'WARN',
          'daemon.apparmor',
          '5.2',
          'the kernel has no AppArmor: no engine gets an AppArmor profile (seccomp, dropped capabilities and no-new-privileges still apply)',
          'run on a kernel with AppArmor enabled (Debian and Ubuntu default kernels) to add a mandatory access control layer',
        ),
  );

  out.push(
    d.pidsLimitSupported
      ? finding(
          'PASS',
          'daemon.pids-cgroup',
          null,
          'the pids cgroup is available: every engine has a process limit',
        )
      : finding(
          'FAIL',
          'daemon.pids-cgroup',
          null,
          'no pids cgroup: the process limit is not enforced and a fork bomb reaches the host',
          'enable the pids cgroup controller',
        ),
  );
  out.push(
    d.memoryLimitSupported && d.swapLimitSupported
      ? finding('PASS', 'daemon.memory-cgroup', null, 'memory and swap limits are enforced')
      : finding(
          'FAIL',
          'daemon.memory-cgroup',
          null,
          `${d.memoryLimitSupported ? 'swap' : 'memory'} limits are not supported: an engine can use more than its limit`,
          'boot with cgroup memory accounting (cgroup_enable=memory swapaccount=1) or use cgroup v2',
        ),
  );

  if (d.socket) {
    const mode = d.socket.mode & 0o777;
    out.push(
      d.socket.uid === 0 && ['root', 'docker'].includes(d.socket.group)
        ? finding('PASS', 'daemon.socket-owner', '3.15', `docker.sock is owned by root:${d.socket.group}`)
        : finding(
            'FAIL',
            'daemon.socket-owner',
            '3.15',
            `docker.sock is owned by uid ${d.socket.uid}, group ${d.socket.group}`,
            'chown root:docker /var/run/docker.sock',
          ),
    );
    out.push(
      (mode & 0o007) === 0
        ? finding(
            'PASS',
            'daemon.socket-mode',
            '3.16',
            `docker.sock mode is ${mode.toString(8)} (no access for others)`,
          )
        : finding(
            'FAIL',
            'daemon.socket-mode',
            '3.16',
            `docker.sock mode is ${mode.toString(8)}: any local user controls Docker, and so the host`,
            'chmod 660 /var/run/docker.sock',
          ),
    );
  }

  out.push(
    isOlder(d.serverVersion, engineFixedVersion)
      ? finding(
          'WARN',
          'daemon.engine-version',
          '1.2.2',
          `Docker Engine ${d.serverVersion} predates ${engineFixedVersion}, which fixes the archive (copy) endpoint advisories ${engineAdvisories}; Menagerie copies only while a container is stopped and sends uncompressed tar, which avoids the known paths`,
          `upgrade to Docker Engine ${engineFixedVersion} or later`,
        )
      : finding(
          'PASS',
          'daemon.engine-version',
          '1.2.2',
          `Docker Engine ${d.serverVersion} includes the archive endpoint fixes`,
        ),
  );
  out.push(
    d.runcVersion === null
      ? finding(
          'WARN',
          'daemon.runc-version',
          '1.2.2',
          'the runc version is not reported',
          'check that runc is 1.2.8, 1.3.3 or later',
        )
      : runcIsFixed(d.runcVersion)
        ? finding(
            'PASS',
            'daemon.runc-version',
            '1.2.2',
            `runc ${d.runcVersion} includes the 2025 container-escape fixes`,
          )
        : finding(
            'WARN',
            'daemon.runc-version',
            '1.2.2',
            `runc ${d.runcVersion} predates 1.2.8/1.3.3 (CVE-2025-31133, CVE-2025-52565, CVE-2025-52881: escapes through /dev/null, /dev/console and procfs writes by a hostile image)`,
            'upgrade runc to 1.2.8, 1.3.3 or later (or the distribution package carrying the fixes)',
          ),
  );
  return out;
}
