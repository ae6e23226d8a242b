import { execFile } from 'node:child_process';
import { copyFile, chmod, chown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
// Host tools live in sbin, which a service's PATH may lack.
const toolEnv = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/bin:/bin` };

/** How container ids map to host ids (user-namespace remap); identity without a remap. */
export interface IdMap {
  readonly uidBase: number;
  readonly gidBase: number;
}

export interface JobFilesystem {
  /** The directory holding the image (and the mount, unless mounted elsewhere). */
  readonly dir: string;
  /** Where the filesystem is mounted: the job volume's contents. */
  readonly mountPath: string;
}

/**
 * Per-job filesystems: a sparse ext4 image, loop-mounted nosuid,nodev,noexec,
 * owned by the engine's (remapped) user. Its size is the job volume's cap, so
 * a payload that fills it stops there, and no link in it can reach another
 * filesystem.
 */
export class JobFilesystems {
  constructor(
    private readonly baseDir: string,
    private readonly idMap: IdMap,
  ) {}

  /** The host ids of a container user given as `uid` or `uid:gid`. */
  hostIds(user: string): { uid: number; gid: number } {
    const [uid, gid] = user.split(':').map(Number);
    return { uid: this.idMap.uidBase + (uid ?? 0), gid: this.idMap.gidBase + (gid ?? uid ?? 0) };
  }

  /**
   * Creates, mounts and fills a job filesystem: the input is copied in, read-only,
   * owned by the container's root; the root directory belongs to the engine user.
   * It is mounted on `mountAt` (an existing directory) when given, else in its own directory.
   */
  async create(
    key: string,
    sizeBytes: number,
    user: string,
    input: { path: string; name: string },
    mountAt?: string,
  ): Promise<JobFilesystem> {
    const dir = path.join(this.baseDir, key);
    const image = path.join(dir, 'volume.ext4');
    const mountPath = mountAt ?? path.join(dir, 'mnt');
    await this.destroy(dir, mountPath);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!mountAt) await mkdir(mountPath, { mode: 0o700 });
    const owner = this.hostIds(user);
    try {
      await run('truncate', ['-s', String(sizeBytes), image], { env: toolEnv });
      await run(
        'mkfs.ext4',
        [
          '-q',
          '-F',
          '-m',
          '0',
          '-O',
          '^has_journal,^resize_inode',
          '-E',
          `lazy_itable_init=1,nodiscard,root_owner=${owner.uid}:${owner.gid}`,
          image,
        ],
        { env: toolEnv },
      );
      await run('mount', ['-o', 'loop,nosuid,nodev,noexec', image, mountPath], { env: toolEnv });
      await rm(path.join(mountPath, 'lost+found'), { recursive: true, force: true });
      await chmod(mountPath, 0o755);
      const target = path.join(mountPath, input.name);
      await copyFile(input.path, target);
      const root = this.hostIds('0');
      await chown(target, root.uid, root.gid);
      await chmod(target, 0o444);
      // The directory that holds the mount stays private to the service.
      await chmod(dir, 0o711);
    } catch (error) {
      await this.destroy(dir, mountPath).catch(() => undefined);
      throw new Error(`could not prepare the job filesystem in ${dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return { dir, mountPath };
  }

  /** Unmounts and deletes a job filesystem; safe on a partial or absent one. */
  async destroy(dir: string, mountPath = path.join(dir, 'mnt')): Promise<void> {
    await unmount(mountPath);
    await rm(dir, { recursive: true, force: true });
  }

  /** Removes every job filesystem under the base directory (leftovers of a crash). */
  async destroyAll(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.baseDir);
    } catch {
      return 0;
    }
    for (const name of names) await this.destroy(path.join(this.baseDir, name));
    return names.length;
  }
}

/** Unmounts whatever is mounted on `dir`; nothing when nothing is. */
export async function unmount(dir: string): Promise<void> {
  if (!(await isMountPoint(dir))) return;
  try {
    await run('umount', [dir], { env: toolEnv });
  } catch {
    // Still busy (a container not yet gone): detach now, freed when the last user leaves.
    await run('umount', ['-l', dir], { env: toolEnv });
  }
}

async function isMountPoint(dir: string): Promise<boolean> {
  try {
    const [self, parent] = await Promise.all([stat(dir), stat(path.dirname(dir))]);
    return self.dev !== parent.dev;
  } catch {
    return false;
  }
}
