import { constants } from 'node:fs';
import { mkdir, open, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import type {
  CollectedResult,
  ContainerRuntime,
  ResolvedImage,
  RunEnding,
  RunOutcome,
  RunRequest,
} from '../../../ports/container-runtime.js';
import { collectFromDirectory } from '../result/collect-from-directory.js';
import { collectFromTar } from '../result/collect-from-tar.js';
import { defaultResultLimits, type ResultLimits } from '../result/result-rules.js';
import { CgroupWatch } from './cgroup-events.js';
import { AppArmorLoader, apparmorProfileFor, hostHasAppArmor } from './apparmor-profile.js';
import { buildContainerSpec, labels } from './container-spec.js';
import { JobFilesystems, type IdMap } from './job-filesystem.js';
import { CappedBuffer, CappedFile } from './output-capture.js';
import { packInput } from './pack-input.js';

export interface DockerRuntimeOptions {
  /** `unix:///path`, `/path`, `tcp://host:port` or `http://host:port`; default the local socket. */
  readonly dockerHost?: string;
  readonly jobIo: 'auto' | 'volume' | 'archive';
  /** Where this worker keeps job filesystems. */
  readonly workDir: string;
  readonly logger: Logger;
}

/** Thrown when no Docker engine answers; says what to do. */
export class DockerUnavailableError extends Error {
  constructor(where: string, cause: unknown) {
    super(
      `no Docker engine answers at ${where} (${(cause as Error).message}); ` +
        'start one with "bash scripts/ensure-docker.sh" or point DOCKER_HOST at one',
      { cause },
    );
    this.name = 'DockerUnavailableError';
  }
}

function dockerFromHost(host: string | undefined): { docker: Docker; where: string; isLocal: boolean } {
  if (!host || host.startsWith('unix://') || host.startsWith('/')) {
    const socketPath = host ? host.replace(/^unix:\/\//, '') : '/var/run/docker.sock';
    return { docker: new Docker({ socketPath }), where: socketPath, isLocal: true };
  }
  const url = new URL(host.replace(/^tcp:\/\//, 'http://'));
  return {
    docker: new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' }),
    where: host,
    isLocal: false,
  };
}

/** Reads the user-namespace remap from the daemon: its root dir ends in `/<uid>.<gid>`. */
function idMapFromInfo(info: { SecurityOptions?: string[]; DockerRootDir?: string }): IdMap {
  const remapped = (info.SecurityOptions ?? []).some((o) => o.includes('name=userns'));
  const match = /\/(\d+)\.(\d+)$/.exec(info.DockerRootDir ?? '');
  if (remapped && match) return { uidBase: Number(match[1]), gidBase: Number(match[2]) };
  return { uidBase: 0, gidBase: 0 };
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

/** Creates a runtime on a Docker engine that answers. @throws DockerUnavailableError */
export async function createDockerRuntime(options: DockerRuntimeOptions): Promise<DockerRuntime> {
  const { docker, where, isLocal } = dockerFromHost(options.dockerHost);
  let info: { SecurityOptions?: string[]; DockerRootDir?: string };
  try {
    info = await docker.info();
  } catch (error) {
    throw new DockerUnavailableError(where, error);
  }
  const canMount = isLocal && typeof process.getuid === 'function' && process.getuid() === 0;
  if (options.jobIo === 'volume' && !canMount) {
    throw new Error(
      'job-io "volume" needs a local Docker engine and a service running as root; use "archive"',
    );
  }
  const jobIo = options.jobIo === 'auto' ? (canMount ? 'volume' : 'archive') : options.jobIo;
  return new DockerRuntime(
    docker,
    jobIo,
    new JobFilesystems(options.workDir, idMapFromInfo(info)),
    options.logger,
    // A local engine on a host that enforces AppArmor gets a profile per engine.
    isLocal && hostHasAppArmor() ? new AppArmorLoader() : null,
  );
}

/** The Docker Engine adapter of the container runtime port. */
export class DockerRuntime implements ContainerRuntime {
  constructor(
    readonly docker: Docker,
    readonly jobIo: 'volume' | 'archive',
    private readonly filesystems: JobFilesystems,
    private readonly logger: Logger,
    /** Loads per-engine AppArmor profiles; null where the host has no AppArmor. */
    private readonly apparmor: AppArmorLoader | null = null,
  ) {}

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async close(): Promise<void> {
    // dockerode keeps no connections open between requests.
  }

  async resolveImage(image: string, options: { pull: boolean }): Promise<ResolvedImage | undefined> {
    try {
      return toResolved(image, await this.docker.getImage(image).inspect());
    } catch (error) {
      if (statusOf(error) !== 404 || !options.pull) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    }
    this.logger.info({ image }, 'pulling engine image');
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (error: Error | null) =>
          error ? reject(error) : resolve(),
        ),
      );
    } catch (error) {
      this.logger.warn({ image, err: error }, 'engine image could not be pulled');
      return undefined;
    }
    return toResolved(image, await this.docker.getImage(image).inspect());
  }

  async removeLeftovers(workerId: string): Promise<{ containers: number; volumes: number }> {
    const filter = { label: [`${labels.worker}=${workerId}`] };
    const containers = await this.docker.listContainers({ all: true, filters: filter });
    for (const c of containers) {
      await this.docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch((error: unknown) => {
          if (statusOf(error) !== 404) throw error;
        });
    }
    const { Volumes } = await this.docker.listVolumes({ filters: filter });
    for (const v of Volumes ?? []) {
      await this.docker
        .getVolume(v.Name)
        .remove()
        .catch((error: unknown) => {
          if (statusOf(error) !== 404) throw error;
        });
    }
    await this.filesystems.destroyAll();
    return { containers: containers.length, volumes: (Volumes ?? []).length };
  }

  async run(request: RunRequest): Promise<RunOutcome> {
    const t0 = performance.now();
    const { engine, jobId, workerId } = request;
    const key = `${jobId}-${request.attempt}`;
    const volumeName = `menagerie-${key}`;
    const volumeLabels = { [labels.job]: jobId, [labels.worker]: workerId, [labels.engine]: engine.name };
    const cleanups: (() => Promise<void>)[] = [];
    const release = async (): Promise<void> => {
      for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup().catch((error: unknown) =>
          this.logger.warn(
            { jobId, err: error },
            'cleanup after the job failed; it is retried at the next start',
          ),
        );
      }
    };
    try {
      let mountPath: string | undefined;
      if (this.jobIo === 'volume') {
        const fs = await this.filesystems.create(key, engine.policy.volumeBytes, engine.policy.user, {
          path: request.inputPath,
          name: engine.inputFileName,
        });
        cleanups.push(() => this.filesystems.destroy(fs.dir));
        mountPath = fs.mountPath;
        await this.docker.createVolume({
          Name: volumeName,
          Driver: 'local',
          DriverOpts: { type: 'none', o: 'bind', device: fs.mountPath },
          Labels: volumeLabels,
        });
      } else {
        await this.docker.createVolume({ Name: volumeName, Labels: volumeLabels });
      }
      cleanups.push(() => this.removeVolume(volumeName));
      let apparmorProfile: string | undefined;
      if (this.apparmor && engine.policy.apparmor === 'default') {
        const profile = apparmorProfileFor(engine.name);
        await this.apparmor.load(profile);
        apparmorProfile = profile.name;
      }
      const container = await this.docker.createContainer(
        buildContainerSpec({
          engine,
          imageId: request.image.id,
          jobId,
          workerId,
          volumeName,
          name: `menagerie-${key}`,
          copyMountpointFromImage: !mountPath,
          ...(apparmorProfile ? { apparmorProfile } : {}),
        }),
      );
      cleanups.push(() => this.removeContainer(container));
      request.onContainer?.(container.id);
      if (!mountPath) {
        await container.putArchive(await packInput(request.inputPath, engine), { path: engine.mountpoint });
      }
      const stdout = new CappedFile(path.join(request.scratchDir, 'stdout'), engine.policy.resultMaxBytes);
      const stderr = new CappedBuffer(engine.policy.logMaxBytes);
      const attached = (await container.attach({
        stream: true,
        stdout: true,
        stderr: true,
      })) as unknown as Readable;
      const streamEnded = new Promise<void>((resolve) => {
        attached.once('end', resolve);
        attached.once('close', resolve);
        attached.once('error', () => resolve());
      });
      this.docker.modem.demuxStream(attached, stdout, stderr);

      let killedFor: 'timeout' | 'cancelled' | undefined;
      // Refused forks, peak memory and CPU are counted in the container's cgroup, which goes with it: read it while it runs.
      const cgroup = this.jobIo === 'volume' ? new CgroupWatch(container.id) : undefined;
      const kill = (why: 'timeout' | 'cancelled'): void => {
        killedFor ??= why;
        void (cgroup?.read() ?? Promise.resolve()).then(() =>
          container.kill({ signal: 'SIGKILL' }).catch((error: unknown) => {
            if (statusOf(error) !== 409 && statusOf(error) !== 404) {
              this.logger.warn({ jobId, err: error }, 'kill failed');
            }
          }),
        );
      };
      const onAbort = (): void => kill('cancelled');
      if (request.signal.aborted) throw new Error('cancelled before start');
      request.signal.addEventListener('abort', onAbort, { once: true });

      await container.start();
      cgroup?.start();
      const started = performance.now();
      const timer = setTimeout(() => kill('timeout'), engine.policy.timeoutMs);
      let exit: { StatusCode: number };
      try {
        exit = (await container.wait({ condition: 'not-running' })) as { StatusCode: number };
      } finally {
        clearTimeout(timer);
        cgroup?.stop();
        request.signal.removeEventListener('abort', onAbort);
      }
      const runMs = performance.now() - started;
      const state = (await container.inspect()).State;
      // The attach stream ends once the container's pipes close; do not wait on a stuck one forever.
      await Promise.race([streamEnded, new Promise((resolve) => setTimeout(resolve, 5000))]);
      attached.destroy();
      stdout.end();
      await stdout.close();

      const ending: RunEnding =
        killedFor === 'cancelled'
          ? { kind: 'cancelled' }
          : killedFor === 'timeout'
            ? { kind: 'timeout' }
            : state.OOMKilled
              ? { kind: 'oom', exitCode: exit.StatusCode }
              : { kind: 'exited', exitCode: exit.StatusCode };

      const limitsHit: string[] = [];
      if ((cgroup?.refusedForks ?? 0) > 0) {
        limitsHit.push(`the process limit (${engine.policy.pidsLimit}) was reached`);
      }
      if (killedFor === 'timeout' && state.OOMKilled) {
        limitsHit.push('a process had been killed by the kernel at the memory limit');
      }
      if (mountPath) {
        const st = await statfs(mountPath).catch(() => undefined);
        // ext4 keeps a little back even after ENOSPC (reserved and metadata blocks): under 2% or 1 MiB is full.
        if (st && (st.bavail * st.bsize < 1024 * 1024 || st.bavail < st.blocks * 0.02)) {
          limitsHit.push(`the job volume (${Math.round(engine.policy.volumeBytes / 2 ** 20)} MiB) was full`);
        }
        if (st && st.ffree === 0) limitsHit.push('the job volume ran out of inodes');
      }

      let result: CollectedResult = { kind: 'none' };
      let summary: string | null = null;
      if (ending.kind === 'exited') {
        const limits: ResultLimits = { ...defaultResultLimits, maxBytes: engine.policy.resultMaxBytes };
        if (mountPath) {
          result = await collectFromDirectory(mountPath, request.scratchDir, limits);
          summary = await readSummaryFile(path.join(mountPath, 'summary'), request.summaryMaxBytes);
        } else {
          result = await this.collectByArchive(
            container,
            `${engine.mountpoint}/result`,
            request.scratchDir,
            limits,
          );
          summary = await this.readSummaryByArchive(container, `${engine.mountpoint}/summary`, request);
        }
      }
      return {
        containerId: container.id,
        ending,
        stdout: { path: stdout.path, keptBytes: stdout.keptBytes, totalBytes: stdout.totalBytes },
        stderr: { head: stderr.head(), totalBytes: stderr.totalBytes },
        result,
        summary,
        limitsHit,
        runMs,
        usage: { peakMemoryBytes: cgroup?.peakMemoryBytes ?? null, cpuMs: cgroup?.cpuMs ?? null },
        startMs: started - t0,
        release,
      };
    } catch (error) {
      await release();
      throw error;
    }
  }

  private async collectByArchive(
    container: Docker.Container,
    archivePath: string,
    outDir: string,
    limits: ResultLimits,
  ): Promise<CollectedResult> {
    let stream: Readable;
    try {
      stream = (await container.getArchive({ path: archivePath })) as unknown as Readable;
    } catch (error) {
      if (statusOf(error) === 404) return { kind: 'none' };
      throw error;
    }
    return collectFromTar(stream, outDir, limits);
  }

  private async readSummaryByArchive(
    container: Docker.Container,
    archivePath: string,
    request: RunRequest,
  ): Promise<string | null> {
    const dir = path.join(request.scratchDir, 'summary');
    await mkdir(dir, { recursive: true });
    const result = await this.collectByArchive(container, archivePath, dir, {
      ...defaultResultLimits,
      maxBytes: 1024 * 1024,
    }).catch(() => ({ kind: 'none' }) as const);
    try {
      return result.kind === 'file' ? await readSummaryFile(result.path, request.summaryMaxBytes) : null;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async removeContainer(container: Docker.Container): Promise<void> {
    try {
      await container.remove({ force: true, v: true });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  private async removeVolume(name: string): Promise<void> {
    try {
      await this.docker.getVolume(name).remove();
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }
}

function toResolved(image: string, inspect: Docker.ImageInspectInfo): ResolvedImage {
  const repo = image.includes('@') ? image.slice(0, image.indexOf('@')) : image.replace(/:[^:/]+$/, '');
  const digests = inspect.RepoDigests ?? [];
  const digest = digests.find((d) => d.startsWith(repo + '@')) ?? digests[0] ?? inspect.Id;
  return { id: inspect.Id, digest };
}

/** Reads the start of a summary file without following links; null when absent or not a regular file. */
export async function readSummaryFile(filePath: string, maxBytes: number): Promise<string | null> {
  let handle;
  try {
    handle = await open(filePath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return null;
    const buffer = Buffer.alloc(Math.min(maxBytes, st.size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
