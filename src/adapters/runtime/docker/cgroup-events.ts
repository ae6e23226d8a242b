import { readFile } from 'node:fs/promises';

/** Where a container's pids cgroup may sit, by cgroup version and driver. */
function pidsCgroupCandidates(containerId: string): string[] {
  return [
    `/sys/fs/cgroup/pids/docker/${containerId}`,
    `/sys/fs/cgroup/pids/system.slice/docker-${containerId}.scope`,
    `/sys/fs/cgroup/system.slice/docker-${containerId}.scope`,
    `/sys/fs/cgroup/docker/${containerId}`,
  ];
}

/**
 * Watches a local container's pids cgroup for refused forks (`pids.events`
 * "max N"). The cgroup vanishes when the container stops, so it is read while
 * the container runs: periodically, and once more just before a kill.
 */
export class PidsLimitWatch {
  private dir: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Forks the pids limit refused, as last read. */
  refusedForks = 0;

  constructor(
    private readonly containerId: string,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.read(), this.intervalMs);
    this.timer.unref();
    void this.read();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the counter now; never throws (a gone cgroup keeps the last value). */
  async read(): Promise<number> {
    for (const dir of this.dir ? [this.dir] : pidsCgroupCandidates(this.containerId)) {
      const text = await readFile(`${dir}/pids.events`, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      this.dir = dir;
      const m = /^max (\d+)/m.exec(text);
      if (m) this.refusedForks = Math.max(this.refusedForks, Number(m[1]));
      break;
    }
    return this.refusedForks;
  }
}
