import { readFile } from 'node:fs/promises';

interface CgroupFiles {
  readonly pidsEvents: string;
  readonly memoryPeak: string;
  readonly cpuUsage: string;
  /** cgroup v2 reports CPU in `cpu.stat` (`usage_usec`); v1 in `cpuacct.usage` (ns). */
  readonly v2: boolean;
}

/** Where a container's accounting may sit: cgroup v1 per controller (cgroupfs or systemd driver), then v2. */
function candidates(id: string): CgroupFiles[] {
  const v1 = (scope: string): CgroupFiles => ({
    pidsEvents: `/sys/fs/cgroup/pids/${scope}/pids.events`,
    memoryPeak: `/sys/fs/cgroup/memory/${scope}/memory.max_usage_in_bytes`,
    cpuUsage: `/sys/fs/cgroup/cpuacct/${scope}/cpuacct.usage`,
    v2: false,
  });
  const v2 = (scope: string): CgroupFiles => ({
    pidsEvents: `/sys/fs/cgroup/${scope}/pids.events`,
    memoryPeak: `/sys/fs/cgroup/${scope}/memory.peak`,
    cpuUsage: `/sys/fs/cgroup/${scope}/cpu.stat`,
    v2: true,
  });
  return [
    v1(`docker/${id}`),
    v1(`system.slice/docker-${id}.scope`),
    v2(`system.slice/docker-${id}.scope`),
    v2(`docker/${id}`),
  ];
}

/**
 * Samples a local container's cgroup while it runs: forks the pids limit
 * refused (`pids.events` "max N"), peak memory and CPU time. The cgroup goes
 * with the container, so it is read periodically and once more just before a
 * kill; the figures are those of the last read (a job shorter than one
 * interval may have no memory or CPU figures).
 */
export class CgroupWatch {
  private files: CgroupFiles | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Forks the pids limit refused, as last read. */
  refusedForks = 0;
  peakMemoryBytes: number | null = null;
  cpuMs: number | null = null;

  constructor(
    private readonly containerId: string,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.read(), this.intervalMs);
    this.timer.unref();
    void this.read();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads now; never throws (a gone cgroup keeps the last figures). */
  async read(): Promise<void> {
    for (const f of this.files ? [this.files] : candidates(this.containerId)) {
      const events = await readFile(f.pidsEvents, 'utf8').catch(() => undefined);
      if (events === undefined) continue;
      this.files = f;
      const refused = /^max (\d+)/m.exec(events);
      if (refused) this.refusedForks = Math.max(this.refusedForks, Number(refused[1]));
      const memory = Number((await readFile(f.memoryPeak, 'utf8').catch(() => '')).trim() || NaN);
      if (Number.isFinite(memory)) this.peakMemoryBytes = Math.max(this.peakMemoryBytes ?? 0, memory);
      const cpu = await readFile(f.cpuUsage, 'utf8').catch(() => undefined);
      if (cpu !== undefined) {
        const ms = f.v2
          ? Number(/^usage_usec (\d+)/m.exec(cpu)?.[1] ?? NaN) / 1000
          : Number(cpu.trim()) / 1e6;
        if (Number.isFinite(ms)) this.cpuMs = Math.max(this.cpuMs ?? 0, Math.round(ms));
      }
      return;
    }
  }
}
