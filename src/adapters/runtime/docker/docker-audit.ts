import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import Docker from 'dockerode';
import type { EngineSpec } from '../../../domain/index.js';
import type {
  CanaryObservation,
  ContainerSpecFacts,
  DaemonFacts,
} from '../../../services/audit/audit-types.js';
import { canaryScript, parseCanaryOutput } from '../../../services/audit/canary-checks.js';
import type { AuditProbe } from '../../../services/audit/run-audit.js';
import { buildContainerSpec, labels } from './container-spec.js';

export interface DockerAuditOptions {
  /** `unix:///path`, `/path` or `tcp://host:port`; default the local socket. */
  readonly dockerHost?: string;
  /** Default /etc/docker/daemon.json. */
  readonly daemonJsonPath?: string;
  /** Image the canaries run (a static busybox: the engine images may lack a shell). */
  readonly canaryImage?: string;
  /** Longest a canary may run, ms. Default 30 000. */
  readonly canaryTimeoutMs?: number;
}

/** Label on canary containers and volumes, so a crashed audit's leftovers can be found. */
export const canaryLabel = 'menagerie.audit';

function connect(host: string | undefined): { docker: Docker; socketPath: string | null } {
  if (!host || host.startsWith('unix://') || host.startsWith('/')) {
    const socketPath = host ? host.replace(/^unix:\/\//, '') : '/var/run/docker.sock';
    return { docker: new Docker({ socketPath }), socketPath };
  }
  const url = new URL(host.replace(/^tcp:\/\//, 'http://'));
  return {
    docker: new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' }),
    socketPath: null,
  };
}

async function groupName(gid: number): Promise<string> {
  const text = await readFile('/etc/group', 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (Number(id) === gid && name) return name;
  }
  return String(gid);
}

/** The audit's facts, read from a Docker engine and the files beside it. */
export class DockerAuditProbe implements AuditProbe {
  private readonly docker: Docker;
  private readonly socketPath: string | null;

  constructor(private readonly options: DockerAuditOptions = {}) {
    ({ docker: this.docker, socketPath: this.socketPath } = connect(options.dockerHost));
  }

  async daemonFacts(): Promise<DaemonFacts> {
    const [info, version] = await Promise.all([this.docker.info(), this.docker.version()]);
    const components = (version as { Components?: { Name: string; Version: string }[] }).Components ?? [];
    let daemonJson: Record<string, unknown> | null = null;
    let daemonJsonError: string | null = null;
    const jsonPath = this.options.daemonJsonPath ?? '/etc/docker/daemon.json';
    try {
      daemonJson = JSON.parse(await readFile(jsonPath, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      daemonJsonError = `${jsonPath}: ${(error as Error).message}`;
    }
    let socket: DaemonFacts['socket'] = null;
    if (this.socketPath) {
      const st = await stat(this.socketPath).catch(() => undefined);
      if (st) socket = { uid: st.uid, group: await groupName(st.gid), mode: st.mode };
    }
    return {
      serverVersion: String(info.ServerVersion ?? version.Version),
      runcVersion: components.find((c) => c.Name === 'runc')?.Version ?? null,
      securityOptions: info.SecurityOptions ?? [],
      liveRestoreEnabled: Boolean(info.LiveRestoreEnabled),
      loggingDriver: String(info.LoggingDriver ?? ''),
      experimental: Boolean(info.ExperimentalBuild),
      warnings: info.Warnings ?? [],
      insecureRegistryCidrs: info.RegistryConfig?.InsecureRegistryCIDRs ?? [],
      pidsLimitSupported: Boolean(info.PidsLimit),
      memoryLimitSupported: Boolean(info.MemoryLimit),
      swapLimitSupported: Boolean(info.SwapLimit),
      defaultRuntime: String(info.DefaultRuntime ?? 'runc'),
      runtimes: Object.keys(info.Runtimes ?? {}),
      daemonJson,
      daemonJsonError,
      socket,
    };
  }

  containerSpec(engine: EngineSpec): ContainerSpecFacts {
    return buildContainerSpec({
      engine,
      imageId: engine.image,
      jobId: 'audit',
      workerId: 'audit',
      volumeName: 'menagerie-audit',
      name: 'menagerie-audit',
      copyMountpointFromImage: false,
    }) as ContainerSpecFacts;
  }

  async runCanary(engine: EngineSpec): Promise<CanaryObservation> {
    const id = `menagerie-canary-${randomBytes(4).toString('hex')}`;
    const volumeLabels = { [canaryLabel]: 'canary', [labels.engine]: engine.name };
    let container: Docker.Container | undefined;
    try {
      await this.docker.createVolume({ Name: id, Labels: volumeLabels });
      const spec = buildContainerSpec({
        engine,
        imageId: this.options.canaryImage ?? 'menagerie/busybox:latest',
        jobId: id,
        workerId: 'audit',
        volumeName: id,
        name: id,
        copyMountpointFromImage: false,
      });
      container = await this.docker.createContainer({
        ...spec,
        Entrypoint: ['/bin/sh', '-c'],
        Cmd: [canaryScript],
        Labels: { ...spec.Labels, ...volumeLabels },
      });
      const stream = (await container.attach({
        stream: true,
        stdout: true,
        stderr: true,
      })) as unknown as Readable;
      const stdout = new PassThrough();
      const chunks: Buffer[] = [];
      stdout.on('data', (c: Buffer) => chunks.push(c));
      this.docker.modem.demuxStream(stream, stdout, new PassThrough().resume());
      const ended = new Promise<void>((resolve) => {
        stream.once('end', resolve);
        stream.once('close', resolve);
      });
      await container.start();
      const timeoutMs = this.options.canaryTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const waited = await Promise.race([container.wait(), timedOut]);
      clearTimeout(timer);
      if (waited === 'timeout') return emptyObservation(`no answer within ${timeoutMs / 1000} s`);
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 2000))]);
      stream.destroy();
      return parseCanaryOutput(Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      return emptyObservation((error as Error).message);
    } finally {
      await container?.remove({ force: true, v: true }).catch(() => undefined);
      await this.docker
        .getVolume(id)
        .remove()
        .catch(() => undefined);
    }
  }
}

function emptyObservation(error: string): CanaryObservation {
  return {
    capEff: null,
    noNewPrivs: null,
    seccomp: null,
    rootfsWritable: false,
    uid: null,
    memoryLimitBytes: null,
    pidsMax: null,
    cpus: null,
    interfaces: [],
    error,
  };
}
