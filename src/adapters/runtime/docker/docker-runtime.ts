import { constants } from 'node:fs';
import { mkdir, open, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
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
import { JobFilesystems, unmount, type IdMap } from './job-filesystem.js';
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

/**
 * Errors of a request to the Docker engine that mean the engine itself is away
 * (restarting, stopped, frozen), not that it refused the request: its socket
 * refuses or lacks a listener, the connection drops, or it does not answer.
 */
export function isConnectionError(error: unknown): boolean {
  const { code, syscall, message } = error as { code?: string; syscall?: string; message?: string };
  return (
    syscall === 'connect' ||
    code === 'ECONNRESET' ||
    code === engineSilent ||
    /socket hang up/.test(message ?? '')
  );
}

const engineSilent = 'ENGINE_SILENT';

/** A request that must answer within `ms`; past it, it counts as the engine being away. */
async function answerWithin<T>(request: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      request,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              Object.assign(new Error(`the Docker engine did not answer within ${ms / 1000} s`), {
                code: engineSilent,
              }),
            ),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a run waits for a Docker engine that went away to answer again, ms. */
const engineReturnMs = 60_000;
/** How long a cleanup request may go unanswered before the engine counts as away, ms. */
const cleanupAnswerMs = 30_000;
/** How often cleanups the engine could not do while away are tried again, ms. */
const deferredCleanupMs = 5_000;

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
    info.DockerRootDir ?? '/var/lib/docker',
    // A local engine on a host that enforces AppArmor gets a profile per engine.
    isLocal && hostHasAppArmor() ? new AppArmorLoader() : null,
  );
}

/** The Docker Engine adapter of the container runtime port. */
export class DockerRuntime implements ContainerRuntime {
  /** Set when a request found the engine away; the next run waits for it before creating anything. */
  private engineAway = false;
  /** Cleanups (container, volume, job filesystem) left for when the engine answers again, in order. */
  private readonly deferredCleanups: (() => Promise<void>)[] = [];
  private deferredTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly docker: Docker,
    readonly jobIo: 'volume' | 'archive',
    private readonly filesystems: JobFilesystems,
    private readonly logger: Logger,
    /** The engine's data root (local engines): where its local volumes keep their contents. */
    private readonly dockerRootDir: string,
    /** Loads per-engine AppArmor profiles; null where the host has no AppArmor. */
    private readonly apparmor: AppArmorLoader | null = null,
  ) {}

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async close(): Promise<void> {
    // dockerode keeps no connections open between requests.
    if (this.deferredTimer) clearTimeout(this.deferredTimer);
    this.deferredTimer = null;
  }

  /** Where a local volume's contents live on the engine's host (the local driver's layout). */
  private volumeDataPath(name: string): string {
    return path.join(this.dockerRootDir, 'volumes', name, '_data');
  }

  /** Resolves once the engine answers; throws when it has not within `ms`. */
  private async untilEngineAnswers(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (let pause = 250; ; pause = Math.min(pause * 2, 2000)) {
      try {
        await this.docker.ping();
        if (this.engineAway) this.logger.info('the Docker engine answers again');
        this.engineAway = false;
        return;
      } catch (error) {
        if (Date.now() + pause > deadline) {
          throw new Error(
            `the Docker engine has not answered for ${Math.round(ms / 1000)} s (${(error as Error).message})`,
            { cause: error },
          );
        }
      }
      await delay(pause);
    }
  }

  /**
   * Runs cleanups in order. One that fails because the engine is away is kept,
   * with the ones after it, and tried again until the engine answers: a
   * restarted engine does not leave a lost run's container and volume behind.
   */
  private async cleanUp(cleanups: (() => Promise<void>)[], jobId?: string): Promise<void> {
    while (cleanups.length > 0) {
      const cleanup = cleanups[0]!;
      try {
        await cleanup();
      } catch (error) {
        if (isConnectionError(error)) {
          this.engineAway = true;
          this.deferredCleanups.push(...cleanups);
          this.scheduleDeferredCleanups();
          this.logger.warn(
            { jobId, err: error },
            'the Docker engine is away; cleanup is tried again when it answers',
          );
          return;
        }
        this.logger.warn(
          { jobId, err: error },
          'cleanup after the job failed; it is retried at the next start',
        );
      }
      cleanups.shift();
    }
  }

  private scheduleDeferredCleanups(): void {
    if (this.deferredTimer) return;
    this.deferredTimer = setTimeout(() => {
      this.deferredTimer = null;
      void this.cleanUp(this.deferredCleanups.splice(0));
    }, deferredCleanupMs);
    this.deferredTimer.unref();
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
      // A job filesystem still mounted on it goes first.
      if (this.jobIo === 'volume') await unmount(v.Mountpoint);
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
    const release = (): Promise<void> => this.cleanUp(cleanups.splice(0).reverse(), jobId);
    if (this.engineAway) await this.untilEngineAnswers(engineReturnMs);
    try {
      // A plain local volume. In volume mode the job filesystem is mounted on its
      // directory: Docker mounts nothing itself (a volume with mount options would
      // be, and a live-restored engine loses count of those mounts: moby#44422).
      await this.docker.createVolume({ Name: volumeName, Labels: volumeLabels });
      cleanups.push(() => this.removeVolume(volumeName));
      let mountPath: string | undefined;
      if (this.jobIo === 'volume') {
        const fs = await this.filesystems.create(
          key,
          engine.policy.volumeBytes,
          engine.policy.user,
          { path: request.inputPath, name: engine.inputFileName },
          this.volumeDataPath(volumeName),
        );
        cleanups.push(() => this.filesystems.destroy(fs.dir, fs.mountPath));
        mountPath = fs.mountPath;
      }
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
      let onKill = (): void => undefined;
      const killAsked = new Promise<void>((resolve) => (onKill = resolve));
      // Refused forks, peak memory and CPU are counted in the container's cgroup, which goes with it: read it while it runs.
      const cgroup = this.jobIo === 'volume' ? new CgroupWatch(container.id) : undefined;
      const kill = (why: 'timeout' | 'cancelled'): void => {
        killedFor ??= why;
        onKill();
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
      let exit: { StatusCode: number; outputCut: boolean };
      try {
        exit = await this.waitForExit(container, streamEnded, {
          jobId,
          killAsked,
          // A kill asked for while the engine was away is asked again once it answers.
          killAgain: () => killedFor !== undefined && kill(killedFor),
          signal: request.signal,
          giveUpAt: Date.now() + engine.policy.timeoutMs + engineReturnMs,
        });
      } finally {
        clearTimeout(timer);
        cgroup?.stop();
        request.signal.removeEventListener('abort', onAbort);
      }
      const runMs = performance.now() - started;
      let state = (await container.inspect()).State;
      // A busy engine can record an OOM kill just after the exit: an unexplained SIGKILL is looked at again.
      for (let look = 0; look < 5 && !killedFor && exit.StatusCode === 137 && !state.OOMKilled; look++) {
        await delay(200);
        state = (await container.inspect()).State;
      }
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

      if (exit.outputCut) {
        stderr.write(
          '\n[menagerie: the Docker engine restarted during the run; output written meanwhile was not captured]\n',
        );
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
      if (exit.outputCut && ending.kind === 'exited' && exit.StatusCode >= 128) {
        // A Docker engine without live-restore stops its containers as it goes down.
        throw new Error(
          `the container ended by signal (exit ${exit.StatusCode}) while the Docker engine was away; the job runs again`,
        );
      }
      if (exit.outputCut && ending.kind === 'exited' && result.kind === 'none') {
        // Its stdout would be the result, and part of it is missing.
        throw new Error(
          'the Docker engine restarted while the engine ran, cutting its output; the job runs again',
        );
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
      if (isConnectionError(error)) this.engineAway = true;
      await release();
      throw error;
    }
  }

  /**
   * Waits for a started container to stop. The engine answers its wait request
   * when the container stops; but when the engine goes away meanwhile (a
   * restart, with live-restore keeping the container running), that request is
   * never answered: the connection closes and the attach stream ends. So once
   * the attach stream has ended (or a kill was asked for) without an answer,
   * the container is followed by inspecting it: every 5 s while the engine
   * answers (a container may close its output and run on), every 0.5 s while it
   * is away. An exit the wait request does not report means its connection was
   * lost, and the output captured through the attach stream counts as cut.
   */
  private async waitForExit(
    container: Docker.Container,
    streamEnded: Promise<void>,
    how: {
      jobId: string;
      killAsked: Promise<void>;
      killAgain: () => void;
      signal: AbortSignal;
      giveUpAt: number;
    },
  ): Promise<{ StatusCode: number; outputCut: boolean }> {
    const abort = new AbortController();
    const waited = container.wait({ condition: 'not-running', abortSignal: abort.signal }).then(
      (answer: { StatusCode: number }) => ({ answer }),
      (error: unknown) => ({ error }),
    );
    // A frozen engine ends neither the wait nor the stream: a kill that goes unanswered also makes us look.
    const look = Promise.race([
      streamEnded.then(() => delay(1000)),
      how.killAsked.then(() => delay(5000)),
    ]).then(() => 'look' as const);
    const first = await Promise.race([waited, look]);
    let lost = false;
    const loseSight = (): void => {
      if (lost) return;
      lost = true;
      this.engineAway = true;
      this.logger.warn({ jobId: how.jobId }, 'the Docker engine went away during the run; waiting for it');
    };
    if (first !== 'look') {
      if ('answer' in first) return { ...first.answer, outputCut: false };
      if (!isConnectionError(first.error)) throw first.error;
      loseSight();
    }
    for (let pause = 0; ; pause = lost ? 500 : 5000) {
      if (pause > 0) {
        const next = await Promise.race([waited, delay(pause).then(() => 'look' as const)]);
        if (next !== 'look') {
          if ('answer' in next) return { ...next.answer, outputCut: lost };
          if (!isConnectionError(next.error)) throw next.error;
          loseSight();
        }
      }
      let state: Docker.ContainerInspectInfo['State'];
      try {
        state = (await answerWithin(container.inspect(), 10_000)).State;
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        loseSight();
        if (how.signal.aborted) {
          // Cancelled or shutting down: not worth waiting for the engine (its container is removed when it is back).
          throw new Error('stopped while the Docker engine was away', { cause: error });
        }
        if (Date.now() > how.giveUpAt) {
          throw new Error('the Docker engine went away during the run and did not come back', {
            cause: error,
          });
        }
        continue;
      }
      this.engineAway = false;
      if (!state.Running) {
        if (!lost) {
          // Without a lost connection the wait request reports an exit within milliseconds.
          const late = await Promise.race([waited, delay(2000).then(() => 'late' as const)]);
          if (late !== 'late' && 'answer' in late) return { ...late.answer, outputCut: false };
        }
        abort.abort();
        return { StatusCode: state.ExitCode, outputCut: true };
      }
      how.killAgain();
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

  // A removal a frozen engine does not answer counts as the engine away: it is tried again
  // later instead of holding the job's worker slot.
  private async removeContainer(container: Docker.Container): Promise<void> {
    try {
      await answerWithin(container.remove({ force: true, v: true }), cleanupAnswerMs);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  private async removeVolume(name: string): Promise<void> {
    try {
      await answerWithin(this.docker.getVolume(name).remove(), cleanupAnswerMs);
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
