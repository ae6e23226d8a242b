/**
 * The attack suite: each hostile engine from test/fixtures/engines/attacks
 * runs through the whole service against the real Docker engine, all at
 * once, beside benign jobs. Every attack must end with a specific reason (or
 * succeed with a report proving each attempt failed), with the host, the
 * service and the other jobs unharmed. docs/security.md records what
 * stopped each one.
 */
import { lstat, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  docker,
  getJob,
  leftoversOf,
  startTestService,
  submit,
  waitFor,
  waitForFinal,
  writeEngines,
  type JobJson,
  type TestService,
} from '../helpers/service.js';

const MiB = 1024 * 1024;

/** Small limits keep the suite fast and make every cap easy to reach. */
const limits = {
  memoryMb: 64,
  cpus: 0.5,
  pids: 64,
  tmpfsMb: 16,
  volumeMb: 32,
  fsizeMb: 24,
  resultMaxMb: 16,
  logMaxKb: 64,
};

function attack(script: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: script,
    workers: 1,
    image: 'localhost:5000/attacks:stable',
    cmd: `/engine/${script}.sh`,
    mountpoint: '/var/data',
    sizelimit: 1_000_000,
    inputfilename: 'sample',
    user: 1000,
    timeout: 30,
    resources: limits,
    ...fields,
  };
}

const attacks = [
  attack('fork-bomb', { timeout: 4 }),
  attack('memory-bomb'),
  attack('cpu-spin', { timeout: 3 }),
  attack('never-exits', { timeout: 3 }),
  attack('disk-fill'),
  attack('volume-fill', { resources: { ...limits, fsizeMb: 64 } }),
  attack('rootfs-write'),
  attack('network'),
  attack('host-read'),
  attack('proc-write'),
  attack('privilege'),
  attack('setuid'),
  attack('flood', { timeout: 120 }),
  attack('result-symlink'),
  attack('result-hardlink'),
  attack('result-fifo'),
  attack('result-dotdot'),
  attack('result-newline'),
  attack('result-many-files', { resources: { ...limits, volumeMb: 64 } }),
  attack('result-sparse', { resources: { ...limits, fsizeMb: 256 } }),
  attack('result-gzip-bomb'),
];

/** Lines of an attack's report, keyed by their label ("label: exit N: output"). */
function report(text: string): Map<string, { exit: number; output: string }> {
  const lines = new Map<string, { exit: number; output: string }>();
  for (const line of text.split('\n')) {
    const m = /^(.+?): exit (\d+): (.*)$/.exec(line);
    if (m) lines.set(m[1] as string, { exit: Number(m[2]), output: m[3] as string });
  }
  return lines;
}

async function resultText(url: string, id: string): Promise<string> {
  const response = await fetch(`${url}/api/v1/jobs/${id}/result`);
  expect(response.status).toBe(200);
  return response.text();
}

async function healthy(url: string): Promise<boolean> {
  const response = await fetch(`${url}/healthz`);
  return response.status === 200 && ((await response.json()) as { status: string }).status === 'ok';
}

/** Host facts an escaped payload would change. */
async function hostFacts(): Promise<Record<string, string>> {
  const read = (p: string) => readFile(p, 'utf8').catch(() => '(unreadable)');
  return {
    corePattern: await read('/proc/sys/kernel/core_pattern'),
    hostname: await read('/proc/sys/kernel/hostname'),
    modules: String((await read('/proc/modules')).split('\n').length),
  };
}

describe('containment: hostile engines stay in their box', () => {
  let svc: TestService;
  let workerId: string;
  const jobs = new Map<string, JobJson>();
  const benign: JobJson[] = [];
  let factsBefore: Record<string, string>;
  let rssBaseline = 0;
  let rssPeak = 0;
  let healthyThroughout = true;
  const windows = new Map<string, { startedAt: number; finishedAt: number }>();
  let hostListener: Server;
  let hostConnections = 0;

  beforeAll(async () => {
    factsBefore = await hostFacts();
    const engines = await writeEngines([
      ...attacks,
      attack('benign', { name: 'benign', workers: 2, cmd: '/engine/benign.sh' }),
    ]);
    svc = await startTestService({ engines });
    workerId = svc.workerId;
    const port = new URL(svc.url).port;
    // A listener on every host address counts whoever reaches it: the network attack aims at it too.
    hostListener = createServer((socket) => {
      hostConnections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => hostListener.listen(0, '0.0.0.0', resolve));
    const listenerPort = (hostListener.address() as { port: number }).port;
    const hostAddresses = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4')
      .map((a) => a!.address);
    const targets = [
      ...hostAddresses.map((a) => `tcp ${a} ${port}`),
      ...hostAddresses.map((a) => `tcp ${a} ${listenerPort}`),
      'tcp 172.17.0.1 2375',
      'tcp 169.254.169.254 80',
      'dns example.com',
      ...hostAddresses.filter((a) => a !== '127.0.0.1').map((a) => `dns example.com ${a}`),
    ];

    rssBaseline = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      healthy(svc.url).then(
        (ok) => (healthyThroughout &&= ok),
        () => (healthyThroughout = false),
      );
    }, 250);
    try {
      const ids = new Map<string, string>(
        await Promise.all(
          attacks.map(async (a) => {
            const name = a.name as string;
            const input = name === 'network' ? targets.join('\n') + '\n' : `input for ${name}\n`;
            return [name, await submit(svc.url, name, Buffer.from(input))] as const;
          }),
        ),
      );
      // The benign jobs run while the attacks hold their containers (the flood runs longest).
      await waitFor('the flood attack running', async () => {
        const flood = await getJob(svc.url, ids.get('flood') as string);
        if (flood.state === 'running') return true;
        if (flood.state !== 'queued')
          throw new Error(`the flood ended (${flood.state}) before the benign jobs started`);
        return undefined;
      });
      const benignIds = await Promise.all(
        [1, 2, 3].map((n) => submit(svc.url, 'benign', Buffer.from(`benign ${n}`))),
      );
      for (const id of benignIds) benign.push(await waitForFinal(svc.url, id, 60_000));
      for (const [name, id] of ids) jobs.set(name, await waitForFinal(svc.url, id, 180_000));
      for (const j of [...benign, ...jobs.values()]) windows.set(j.id, await runWindow(svc.url, j.id));
    } finally {
      clearInterval(sampler);
    }
  }, 300_000);

  afterAll(async () => {
    hostListener?.close();
    await svc?.stop();
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  const job = (name: string): JobJson => {
    const found = jobs.get(name);
    if (!found) throw new Error(`no job for ${name}`);
    return found;
  };

  it('runs benign jobs to success while the attacks run beside them', async () => {
    expect(benign.map((j) => j.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const flood = windows.get(job('flood').id)!;
    for (const b of benign) {
      const w = windows.get(b.id)!;
      expect(w.startedAt < flood.finishedAt && w.finishedAt > flood.startedAt, 'overlaps the flood').toBe(
        true,
      );
    }
    expect(await resultText(svc.url, benign[0]!.id)).toBe('benign 1');
  });

  it('keeps the service answering /healthz throughout', async () => {
    expect(healthyThroughout).toBe(true);
    expect(await healthy(svc.url)).toBe(true);
  });

  it('fork bomb: hits the pids limit and is killed at the timeout', () => {
    const j = job('fork-bomb');
    expect(j.state).toBe('failed');
    expect(j.reason).toMatch(/^timeout after 4 s \(killed\); the process limit \(64\) was reached$/);
  });

  it('memory bomb: the kernel OOM-kills it at the memory limit, and the reason says who killed', () => {
    const j = job('memory-bomb');
    expect(j.state).toBe('failed');
    expect(j.exitCode).toBe(137);
    expect(j.reason).toMatch(/^out of memory: the kernel killed a process at the 64 MiB memory limit/);
  });

  it('CPU spin ignoring SIGTERM: killed at the timeout', () => {
    const j = job('cpu-spin');
    expect(j.state).toBe('failed');
    expect(j.reason).toMatch(/^timeout after 3 s \(killed\)/);
  });

  it('a payload that never exits: killed at the timeout', () => {
    const j = job('never-exits');
    expect(j.state).toBe('failed');
    expect(j.reason).toBe('timeout after 3 s (killed)');
  });

  it('disk fill: every writable path stops at its cap, bytes and inodes', async () => {
    const j = job('disk-fill');
    expect(j.state, j.reason ?? '').toBe('succeeded');
    const r = report(await resultText(svc.url, j.id));
    // The job volume: the file-size limit (24 MiB) comes before the 32 MiB volume is full.
    expect(r.get('bytes /var/data')?.output).toMatch(/File size limit exceeded|No space left on device/);
    expect(r.get('bytes /tmp')?.output).toMatch(/No space left on device/);
    expect(r.get('bytes /dev/shm')?.output).toMatch(/No space left on device/);
    for (const dir of ['/var/data', '/tmp', '/dev/shm']) {
      expect(r.get(`inodes ${dir}`)?.output).toMatch(/No space left on device/);
    }
    // Past RLIMIT_FSIZE the kernel sends SIGXFSZ (exit 128 + 25) or answers EFBIG.
    const fsize = r.get('fsize');
    expect(fsize?.exit === 153 || /File too large/.test(fsize?.output ?? ''), JSON.stringify(fsize)).toBe(
      true,
    );
  });

  it('filling the job volume: the engine fails, and the reason says the volume was full', () => {
    const j = job('volume-fill');
    expect(j.state).toBe('failed');
    expect(j.reason).toBe('exit 1; the job volume (32 MiB) was full');
  });

  it('writing to the root filesystem fails everywhere', async () => {
    const j = job('rootfs-write');
    expect(j.state).toBe('succeeded');
    const r = report(await resultText(svc.url, j.id));
    expect(r.size).toBe(5);
    for (const [label, { exit, output }] of r) {
      expect(exit, label).not.toBe(0);
      expect(output, label).toMatch(/Read-only file system|Permission denied/);
    }
  });

  it('network: only loopback; the host API, other addresses, DNS and raw sockets are out of reach', async () => {
    const j = job('network');
    expect(j.state).toBe('succeeded');
    const text = await resultText(svc.url, j.id);
    const r = report(text);
    expect(r.get('interfaces')?.output.trim()).toBe('lo:');
    const tcp = [...r].filter(([label]) => label.startsWith('tcp '));
    expect(tcp.length).toBeGreaterThanOrEqual(3);
    for (const [label, { exit, output }] of tcp) {
      expect(exit, label).not.toBe(0);
      expect(output, label).toMatch(/Connection refused|Network is unreachable/);
    }
    for (const [label, { exit }] of [...r].filter(([l]) => l.startsWith('dns ')))
      expect(exit, label).not.toBe(0);
    expect(r.get('raw socket (ping)')?.output).toMatch(/permission denied/);
    expect(text).not.toMatch(/HTTP\/1\.|"status"/);
    expect(hostConnections).toBe(0);
  });

  it('reading the host: kcore, keys, firmware, sockets and devices show nothing', async () => {
    const j = job('host-read');
    expect(j.state).toBe('succeeded');
    const r = report(await resultText(svc.url, j.id));
    expect(r.get('kcore bytes')?.output).toMatch(/(^|\|)0$/);
    expect(r.get('keys')?.output).toBe('0');
    expect(r.get('firmware entries')?.output).toBe('0');
    expect(r.get('sockets')?.output).toBe('0');
    expect(r.get('block devices')?.output).toBe('0');
    expect(r.get('docker.sock')?.exit).not.toBe(0);
    expect(r.get('host pid 1 root')?.exit).not.toBe(0);
    expect(r.get('kmsg')?.exit).not.toBe(0);
    expect(r.get('host mem')?.exit).not.toBe(0);
  });

  it('writing kernel knobs: sysrq-trigger, core_pattern, release_agent all refused', async () => {
    const j = job('proc-write');
    expect(j.state).toBe('succeeded');
    const r = report(await resultText(svc.url, j.id));
    for (const label of [
      'sysrq-trigger',
      'core_pattern',
      'mount cgroup for release_agent',
      'notify_on_release',
      'sysctl',
      'hostname',
    ]) {
      expect(r.get(label)?.exit, label).not.toBe(0);
    }
    expect(r.get('release_agent (existing)')?.output).toBe('none-writable');
  });

  it('mount, unshare -U, mknod and nsenter are refused; no capabilities, NoNewPrivs, seccomp filter', async () => {
    const j = job('privilege');
    expect(j.state).toBe('succeeded');
    const r = report(await resultText(svc.url, j.id));
    for (const label of [
      'mount tmpfs',
      'mount proc',
      'unshare -U',
      'unshare -m',
      'unshare -n',
      'mknod char',
      'mknod block',
      'nsenter pid 1',
    ]) {
      expect(r.get(label)?.exit, label).not.toBe(0);
      expect(r.get(label)?.output, label).toMatch(/Operation not permitted|permission denied/);
    }
    expect(r.get('status')?.output).toMatch(
      /CapEff:\s+0{16}\s+CapBnd:\s+0{16}\s+NoNewPrivs:\s+1\s+Seccomp:\s+2/,
    );
  });

  it('a setuid-root binary in the image gives no root', async () => {
    const j = job('setuid');
    expect(j.state).toBe('succeeded');
    const r = report(await resultText(svc.url, j.id));
    expect(r.get('mode')?.output).toBe('-rwsr-xr-x root');
    expect(r.get('su through setuid busybox')?.output).toMatch(/must be suid/);
    expect(r.get('read root-only file')?.output).toMatch(/Permission denied/);
    expect(r.get('id')?.output).toMatch(/^uid=1000/);
  });

  it('a 1 GiB flood on stdout and stderr: the job fails, logs are capped, service memory stays flat', async () => {
    const j = job('flood');
    expect(j.state).toBe('failed');
    expect(j.reason).toBe('result too large (stdout passed 16 MiB)');
    const logs = (await (await fetch(`${svc.url}/api/v1/jobs/${j.id}/logs`)).json()) as {
      stdout: string;
      stderr: string;
      stdoutBytes: number;
      stderrBytes: number;
      truncated: boolean;
    };
    expect(logs.stdoutBytes).toBe(512 * MiB);
    expect(logs.stderrBytes).toBe(512 * MiB);
    expect(logs.truncated).toBe(true);
    expect(Buffer.byteLength(logs.stdout)).toBeLessThanOrEqual(64 * 1024);
    expect(Buffer.byteLength(logs.stderr)).toBeLessThanOrEqual(64 * 1024);
    // 1 GiB passed through this process; far less than that may stay.
    expect(rssPeak - rssBaseline).toBeLessThan(400 * MiB);
  });

  it.each([
    ['result-symlink', /symbolic link/],
    ['result-hardlink', /hard link/],
    ['result-fifo', /FIFO|not a regular file/],
    ['result-dotdot', /"result\/a\/b\/up" is a symbolic link/],
    ['result-newline', /control character/],
    ['result-sparse', /^result too large \(more than 16 MiB\)$/],
  ])('%s: the result is refused with a reason, and nothing of it is served', async (name, reason) => {
    const j = job(name);
    expect(j.state).toBe('failed');
    expect(j.reason).toMatch(reason);
    expect(j.result).toBeNull();
    expect((await fetch(`${svc.url}/link/${j.id}`)).status).toBe(404);
  });

  it('a million tiny files: the volume runs out of inodes long before, and what is left is archived within caps', async () => {
    const j = job('result-many-files');
    expect(j.state, j.reason ?? '').toBe('succeeded');
    expect(j.result?.kind).toBe('archive');
    expect(j.result!.size).toBeLessThan(16 * MiB);
    const logs = (await (await fetch(`${svc.url}/api/v1/jobs/${j.id}/logs`)).json()) as { stderr: string };
    const made = Number(/made (\d+) files/.exec(logs.stderr)?.[1]);
    expect(made).toBeGreaterThan(1000);
    expect(made).toBeLessThan(1_000_000);
  });

  it('a gzip bomb is stored as the bytes it is: never decompressed', async () => {
    const j = job('result-gzip-bomb');
    expect(j.state).toBe('succeeded');
    expect(j.result?.kind).toBe('file');
    expect(j.result!.size).toBeLessThan(4 * MiB);
    const bytes = Buffer.from(await (await fetch(`${svc.url}/link/${j.id}`)).arrayBuffer());
    expect(bytes.length).toBe(j.result!.size);
    expect(bytes.subarray(0, 2).toString('hex')).toBe('1f8b');
  });

  it('leaves the host as it was: kernel settings, mounts, disk, containers', async () => {
    expect(await hostFacts()).toEqual(factsBefore);
    // Job filesystems (under the data directory; other services on this host have their own) are unmounted.
    const ours = async () =>
      (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(svc.dataDir));
    await waitFor('job filesystems unmounted', async () => ((await ours()).length === 0 ? true : undefined));
    // What the service keeps on disk: the database, inputs, capped logs and the results it accepted.
    expect(await diskUsage(svc.dataDir)).toBeLessThan(64 * MiB);
    const running = await docker.listContainers({ filters: { label: [`menagerie.worker=${workerId}`] } });
    expect(running).toEqual([]);
  });
});

/** When a job ran, from the API's timestamps. */
async function runWindow(url: string, id: string): Promise<{ startedAt: number; finishedAt: number }> {
  const j = (await (await fetch(`${url}/api/v1/jobs/${id}`)).json()) as {
    startedAt: string;
    finishedAt: string;
  };
  return { startedAt: Date.parse(j.startedAt), finishedAt: Date.parse(j.finishedAt) };
}

/** Bytes a directory tree takes on disk (allocated blocks, so sparse files count as what they use). */
async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += (await lstat(full)).blocks * 512;
    if (entry.isDirectory()) total += await diskUsage(full);
  }
  return total;
}

describe('containment: hostile results when files cross by archive copies (a remote Docker engine)', () => {
  let svc: TestService;
  const names = [
    'result-symlink',
    'result-hardlink',
    'result-fifo',
    'result-dotdot',
    'result-newline',
    'result-sparse',
    'result-gzip-bomb',
  ];
  const jobs = new Map<string, JobJson>();

  beforeAll(async () => {
    const engines = await writeEngines(attacks.filter((a) => names.includes(a.name as string)));
    svc = await startTestService({ engines, flags: { jobIo: 'archive' } });
    const ids = await Promise.all(
      names.map(async (name) => [name, await submit(svc.url, name, Buffer.from('x'))] as const),
    );
    for (const [name, id] of ids) jobs.set(name, await waitForFinal(svc.url, id, 120_000));
  }, 180_000);

  afterAll(async () => {
    const workerId = svc.workerId;
    await svc.stop();
    expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
  });

  it.each([
    ['result-symlink', /symbolic link/],
    ['result-fifo', /FIFO|not a regular file/],
    ['result-dotdot', /symbolic link/],
    ['result-newline', /control character/],
    ['result-sparse', /^result too large \(more than 16 MiB\)$/],
  ])('%s: refused from the tar stream, nothing served', async (name, reason) => {
    const j = jobs.get(name)!;
    expect(j.state).toBe('failed');
    expect(j.reason).toMatch(reason);
    expect((await fetch(`${svc.url}/link/${j.id}`)).status).toBe(404);
  });

  it('result-hardlink: Docker sends a lone hard-linked file as a plain file, so only its own bytes come out', async () => {
    // The link can only point inside the same job volume; the engine's own file is what is read.
    const j = jobs.get('result-hardlink')!;
    expect(j.state).toBe('succeeded');
    expect(await resultText(svc.url, j.id)).toBe('secret\n');
  });

  it('result-gzip-bomb: stored compressed, never expanded', () => {
    const j = jobs.get('result-gzip-bomb')!;
    expect(j.state).toBe('succeeded');
    expect(j.result!.size).toBeLessThan(4 * MiB);
  });
});
