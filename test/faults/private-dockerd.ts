import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import Docker from 'dockerode';
import { docker as sharedDocker } from '../helpers/service.js';
import { unmountUnder } from './cluster.js';

/**
 * A Docker engine of a test's own: its own socket, data root, exec root (and
 * so its own containerd) and config file, so that it can be restarted without
 * touching the engine every other test shares. Like the shared one it remaps
 * user namespaces and keeps containers running across a restart
 * (live-restore); it has no bridge and touches no iptables rules, since
 * engines run without a network. It runs in a network namespace of its own:
 * a dockerd without a bridge deletes the host's `docker0` at start, which is
 * the shared engine's.
 */
export interface PrivateDockerd {
  /** Its socket, as DOCKER_HOST takes it. */
  readonly host: string;
  readonly docker: Docker;
  /** Copies an image from the shared engine. */
  copyImage(name: string): Promise<void>;
  /** Stops the daemon (SIGTERM; containers keep running) and starts it again; resolves when it answers. */
  restart(pauseMs?: number): Promise<void>;
  /** Removes every container and volume, stops the daemon and deletes its directories. */
  destroy(): Promise<void>;
}

const dockerdConfig = {
  'userns-remap': 'default',
  'live-restore': true,
  'no-new-privileges': true,
  'log-driver': 'local',
  bridge: 'none',
  iptables: false,
  'ip-masq': false,
  'ip-forward': false,
};

export async function startPrivateDockerd(): Promise<PrivateDockerd> {
  const tag = randomBytes(4).toString('hex');
  // Short: containerd's socket lives under the exec root, and socket paths are limited to 108 bytes.
  const runDir = `/run/menagerie-dockerd-${tag}`;
  const dataRoot = `/var/lib/menagerie-dockerd-${tag}`;
  const socket = path.join(runDir, 'docker.sock');
  const configFile = path.join(runDir, 'daemon.json');
  const logFile = path.join(runDir, 'dockerd.log');
  await mkdir(runDir, { recursive: true, mode: 0o700 });
  await writeFile(configFile, JSON.stringify(dockerdConfig));
  const docker = new Docker({ socketPath: socket });
  let child: ChildProcess | undefined;

  const exited = (): Promise<void> =>
    !child || child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise((resolve) => child!.once('exit', () => resolve()));

  const start = async (): Promise<void> => {
    const log = await open(logFile, 'a');
    child = spawn(
      'unshare',
      [
        '--net',
        '--',
        'dockerd',
        '--config-file',
        configFile,
        '--host',
        `unix://${socket}`,
        '--data-root',
        dataRoot,
        '--exec-root',
        path.join(runDir, 'exec'),
        '--pidfile',
        path.join(runDir, 'dockerd.pid'),
      ],
      { stdio: ['ignore', log.fd, log.fd] },
    );
    await log.close();
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dockerd exited (${child.exitCode}); see ${logFile}`);
      try {
        await docker.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`dockerd did not answer within 30 s; see ${logFile}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };

  const stop = async (): Promise<void> => {
    child?.kill('SIGTERM');
    await exited();
  };

  try {
    await start();
  } catch (error) {
    await stop();
    await removeEverything(tag, dataRoot, runDir);
    throw error;
  }

  return {
    host: `unix://${socket}`,
    docker,
    copyImage: async (name) => {
      const tar = await sharedDocker.getImage(name).get();
      const loading = await docker.loadImage(tar);
      await new Promise<void>((resolve, reject) =>
        docker.modem.followProgress(loading, (error: Error | null) => (error ? reject(error) : resolve())),
      );
    },
    restart: async (pauseMs = 1000) => {
      await stop();
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await start();
    },
    destroy: async () => {
      try {
        if (child && child.exitCode === null) {
          for (const c of await docker.listContainers({ all: true })) {
            await docker.getContainer(c.Id).remove({ force: true, v: true });
          }
          const { Volumes } = await docker.listVolumes();
          for (const v of Volumes ?? []) {
            // A job filesystem a worker left mounted on it goes first.
            await run('umount', ['-l', v.Mountpoint]).catch(() => undefined);
            await docker.getVolume(v.Name).remove();
          }
        }
      } finally {
        await stop();
        await removeEverything(tag, dataRoot, runDir);
      }
    },
  };
}

const run = promisify(execFile);

/**
 * After the daemon has stopped: ends container shims it left (a container
 * started just as it stopped can outlive it), unmounts what it mounted under
 * its data root (with a user-namespace remap, the remapped root is mounted on
 * itself) and deletes its directories.
 */
async function removeEverything(tag: string, dataRoot: string, runDir: string): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('/usr/bin/containerd-shim') && cmdline.includes(`${runDir}/`)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await unmountUnder(dataRoot);
  await rm(dataRoot, { recursive: true, force: true });
  // The remap also makes `<dir>.<uid>.<gid>` siblings of the directories it was given.
  for (const parent of ['/run', '/var/lib']) {
    for (const name of await readdir(parent)) {
      if (name.startsWith(`menagerie-dockerd-${tag}`))
        await rm(path.join(parent, name), { recursive: true, force: true });
    }
  }
  await rm(runDir, { recursive: true, force: true });
}
