import { readFile } from 'node:fs/promises';

/** Where a container's memory and CPU accounting may sit: cgroup v1 (per controller), then v2. */
function candidates(containerId: string): { memory: string; cpu: string; v2: boolean }[] {
  return [
    {
      memory: `/sys/fs/cgroup/memory/docker/${containerId}/memory.max_usage_in_bytes`,
      cpu: `/sys/fs/cgroup/cpuacct/docker/${containerId}/cpuacct.usage`,
      v2: false,
    },
    {
      memory: `/sys/fs/cgroup/memory/system.slice/docker-${containerId}.scope/memory.max_usage_in_bytes`,
      cpu: `/sys/fs/cgroup/cpuacct/system.slice/docker-${containerId}.scope/cpuacct.usage`,
      v2: false,
    },
    {
      memory: `/sys/fs/cgroup/system.slice/docker-${containerId}.scope/memory.peak`,
      cpu: `/sys/fs/cgroup/system.slice/docker-${containerId}.scope/cpu.stat`,
      v2: true,
    },
  ];
}

/**
 * Samples a local container's peak memory and CPU time from its cgroup while
 * it runs. The cgroup goes with the container, so the figures are those of
 * the last sample: a job shorter than one interval may have none.
 */
export class ResourceWatch {
  private paths: { memory: string; cpu: string; v2: boolean } | undefined;
  private timer: NodeJS.Timeout | undefined;
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
    for (const p of this.paths ? [this.paths] : candidates(this.containerId)) {
      const memory = await readFile(p.memory, 'utf8').catch(() => undefined);
      if (memory === undefined) continue;
      this.paths = p;
      const peak = Number(memory.trim());
      if (Number.isFinite(peak)) this.peakMemoryBytes = Math.max(this.peakMemoryBytes ?? 0, peak);
      const cpu = await readFile(p.cpu, 'utf8').catch(() => undefined);
      if (cpu !== undefined) {
        const ms = p.v2
          ? Number(/^usage_usec (\d+)/m.exec(cpu)?.[1] ?? NaN) / 1000
          : Number(cpu.trim()) / 1e6;
        if (Number.isFinite(ms)) this.cpuMs = Math.max(this.cpuMs ?? 0, Math.round(ms));
      }
      return;
    }
  }
}
