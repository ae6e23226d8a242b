import { describe, expect, it } from 'vitest';
import { parseEnginesConfig } from '../../config/engines-config.js';
import { engineDefaultsSchema } from '../../config/schema.js';
import type { DaemonFacts } from './audit-types.js';
import { checkCanary, parseCanaryOutput } from './canary-checks.js';
import { checkDaemon, isOlder } from './daemon-checks.js';
import { checkEngine } from './engine-checks.js';

const hardenedDaemon: DaemonFacts = {
  serverVersion: '29.5.1',
  runcVersion: '1.3.3',
  securityOptions: ['name=seccomp,profile=builtin', 'name=userns', 'name=apparmor'],
  liveRestoreEnabled: true,
  loggingDriver: 'local',
  experimental: false,
  warnings: [],
  insecureRegistryCidrs: ['127.0.0.0/8'],
  pidsLimitSupported: true,
  memoryLimitSupported: true,
  swapLimitSupported: true,
  defaultRuntime: 'runc',
  runtimes: ['runc'],
  daemonJson: { icc: false, 'no-new-privileges': true, 'userland-proxy': false },
  daemonJsonError: null,
  socket: { uid: 0, group: 'docker', mode: 0o140660 },
};

function statuses(findings: { check: string; status: string }[]): Record<string, string> {
  return Object.fromEntries(findings.map((f) => [f.check, f.status]));
}

describe('daemon checks', () => {
  it('passes a hardened, current daemon', () => {
    expect(checkDaemon(hardenedDaemon).filter((f) => f.status !== 'PASS')).toEqual([]);
  });

  it('fails a plain TCP socket, an open socket file and missing cgroups; warns on old versions', () => {
    const s = statuses(
      checkDaemon({
        ...hardenedDaemon,
        serverVersion: '20.10.24+dfsg1',
        runcVersion: '1.1.5+ds1',
        warnings: ['WARNING: API is accessible on http://0.0.0.0:2375 without encryption.'],
        socket: { uid: 0, group: 'docker', mode: 0o140666 },
        pidsLimitSupported: false,
        securityOptions: ['name=seccomp,profile=default'],
      }),
    );
    expect(s).toMatchObject({
      'daemon.tcp-tls': 'FAIL',
      'daemon.socket-mode': 'FAIL',
      'daemon.pids-cgroup': 'FAIL',
      'daemon.userns-remap': 'WARN',
      'daemon.apparmor': 'WARN',
      'daemon.engine-version': 'WARN',
      'daemon.runc-version': 'WARN',
    });
  });

  it('compares versions numerically', () => {
    expect(isOlder('20.10.24+dfsg1', '29.5.1')).toBe(true);
    expect(isOlder('29.10.0', '29.5.1')).toBe(false);
    expect(isOlder('1.2.8', '1.2.8')).toBe(false);
  });
});

describe('engine checks', () => {
  const engine = (entry: Record<string, unknown>, allow: string[] = []) =>
    parseEnginesConfig(
      JSON.stringify({
        engines: [{ name: 'e', image: 'img', ...entry }],
        allowLoosening: allow.length ? { e: allow } : {},
      }),
      engineDefaultsSchema.parse({}),
    )[0]!;

  it('fails an allowed dangerous loosening on its CIS check and as a loosening', () => {
    const e = engine({ runflags: ['--pid', 'host'] }, ['--pid host']);
    const findings = checkEngine(e, { User: '1000', HostConfig: { PidMode: 'host', CapDrop: ['ALL'] } });
    expect(findings.find((f) => f.check === 'engine.pid-namespace')).toMatchObject({
      status: 'FAIL',
      cis: '5.16',
    });
    expect(findings.find((f) => f.check === 'engine.loosening')).toMatchObject({ status: 'FAIL' });
  });

  it('FAILs host mounts and the Docker socket', () => {
    const s = statuses(
      checkEngine(engine({}), {
        HostConfig: {
          CapDrop: ['ALL'],
          Binds: ['/var/run/docker.sock:/var/run/docker.sock', '/etc:/host-etc'],
        },
      }),
    );
    expect(s).toMatchObject({
      'engine.docker-socket': 'FAIL',
      'engine.sensitive-mounts': 'FAIL',
      'engine.only-job-volume': 'FAIL',
      'engine.memory': 'FAIL',
      'engine.pids-limit': 'FAIL',
      'engine.no-new-privileges': 'FAIL',
    });
  });
});

describe('canary', () => {
  it('parses what the probe prints and compares it with the policy', () => {
    const seen = parseCanaryOutput(
      'CapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nuid: 1000\nrootfs: read-only\nmemory: 536870912\npids: 256\ncpu: 100000 100000\ninterfaces: lo \n',
    );
    const e = parseEnginesConfig(
      JSON.stringify({ engines: [{ name: 'e', image: 'i' }] }),
      engineDefaultsSchema.parse({}),
    )[0]!;
    expect(checkCanary(e, seen).filter((f) => f.status !== 'PASS')).toEqual([]);
    const leaky = checkCanary(e, { ...seen, interfaces: ['lo', 'eth0'], seccomp: '0' });
    expect(statuses(leaky)).toMatchObject({ 'canary.network': 'FAIL', 'canary.seccomp': 'FAIL' });
  });
});
