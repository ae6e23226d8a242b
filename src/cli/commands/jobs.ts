import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ClientError, MenagerieClient, exitCodes, type JobJson } from '../client.js';
import { clientOptions } from '../client-options.js';

async function isFile(candidate: string): Promise<boolean> {
  return stat(candidate).then(
    (st) => st.isFile(),
    () => false,
  );
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/** An upload progress bar on stderr, drawn only on a terminal. */
function progressBar(
  file: string,
): { update: (sent: number, total: number) => void; done: () => void } | undefined {
  if (!process.stderr.isTTY) return undefined;
  const width = 24;
  let last = -1;
  return {
    update: (sent, total) => {
      const fraction = total > 0 ? sent / total : 1;
      const percent = Math.floor(fraction * 100);
      if (percent === last) return;
      last = percent;
      const filled = Math.round(fraction * width);
      process.stderr.write(
        `\r${file.slice(-30)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}%  ${formatSize(sent)} / ${formatSize(total)}`,
      );
    },
    done: () => process.stderr.write('\r\x1b[K'),
  };
}

const finalStates = new Set(['succeeded', 'failed', 'cancelled']);

function printJob(job: JobJson): void {
  const lines = [
    `job       ${job.id}`,
    `engine    ${job.engine}`,
    `state     ${job.state}${job.reason ? ` (${job.reason})` : ''}`,
    `input     ${job.input.name} (${job.input.size} bytes, sha256 ${job.input.sha256})`,
  ];
  if (job.exitCode !== null) lines.push(`exit code ${job.exitCode}`);
  if (job.imageDigest) lines.push(`image     ${job.imageDigest}`);
  if (job.durationMs !== null) lines.push(`duration  ${(job.durationMs / 1000).toFixed(2)} s`);
  if (job.result) lines.push(`result    ${job.result.kind}, ${job.result.size} bytes`);
  if (job.summary) lines.push('summary', ...job.summary.split('\n').map((l) => `  ${l}`));
  process.stdout.write(lines.join('\n') + '\n');
}

async function waitForJobs(client: MenagerieClient, jobs: JobJson[], quiet: boolean): Promise<JobJson[]> {
  const done = new Map<string, JobJson>();
  let spin = 0;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  const live = !quiet && process.stderr.isTTY;
  while (done.size < jobs.length) {
    for (const job of jobs) {
      if (done.has(job.id)) continue;
      const current = await client.json<JobJson>(`/api/v1/jobs/${job.id}`);
      if (finalStates.has(current.state)) done.set(job.id, current);
      else if (live) {
        process.stderr.write(
          `\r${frames[spin++ % frames.length]} ${current.engine} ${current.id} ${current.state}…   `,
        );
      }
    }
    if (done.size < jobs.length) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (live) process.stderr.write('\r\x1b[K');
  return jobs.map((j) => done.get(j.id) as JobJson);
}

/** `submit`, `status`, `result`, `engines`: the client commands. */
export function registerJobCommands(program: Command): void {
  clientOptions(
    program
      .command('submit')
      .description('Submit files to engines: arguments naming an existing file are files, the others engines')
      .argument('<engine-or-file...>', 'one or more engines, then one or more files')
      .option('--wait', 'wait for the jobs to finish and print their summaries'),
  ).action(async (args: string[], options) => {
    const files: string[] = [];
    const engines: string[] = [];
    for (const arg of args) ((await isFile(arg)) ? files : engines).push(arg);
    if (engines.length === 0 || files.length === 0) {
      throw new ClientError(
        `name at least one engine and one existing file (got engines: ${engines.join(', ') || 'none'}; files: ${files.join(', ') || 'none'})`,
        exitCodes.usage,
      );
    }
    const client = new MenagerieClient(options.server, options);
    const jobs: JobJson[] = [];
    for (const file of files) {
      const progress = options.json ? undefined : progressBar(file);
      const submitted = await client.submit(engines, file, progress?.update);
      progress?.done();
      jobs.push(...submitted.jobs);
    }
    if (!options.wait) {
      if (options.json) process.stdout.write(JSON.stringify(jobs.length === 1 ? jobs[0] : jobs) + '\n');
      else for (const job of jobs) process.stdout.write(`${job.id}\n`);
      return;
    }
    const finished = await waitForJobs(client, jobs, Boolean(options.json));
    if (options.json)
      process.stdout.write(JSON.stringify(finished.length === 1 ? finished[0] : finished) + '\n');
    else
      finished.forEach((job, i) => {
        if (i > 0) process.stdout.write('\n');
        printJob(job);
      });
    if (finished.some((job) => job.state !== 'succeeded')) process.exitCode = exitCodes.jobFailed;
  });

  clientOptions(
    program.command('status').description("Show a job's state").argument('<id>', 'job id'),
  ).action(async (id: string, options) => {
    const job = await new MenagerieClient(options.server, options).json<JobJson>(
      `/api/v1/jobs/${encodeURIComponent(id)}`,
    );
    if (options.json) process.stdout.write(JSON.stringify(job) + '\n');
    else printJob(job);
  });

  clientOptions(
    program
      .command('result')
      .description("Download a job's result")
      .argument('<id>', 'job id')
      .option('-o, --output <file>', 'write to a file instead of stdout'),
  ).action(async (id: string, options) => {
    const response = await new MenagerieClient(options.server, options).request(
      `/api/v1/jobs/${encodeURIComponent(id)}/result`,
    );
    const body = Readable.fromWeb(response.body as never);
    if (options.output) {
      await pipeline(body, createWriteStream(options.output));
      if (options.json) process.stdout.write(JSON.stringify({ id, output: options.output }) + '\n');
    } else {
      await pipeline(body, process.stdout);
    }
  });

  clientOptions(
    program
      .command('engines')
      .description('List the engines')
      .option('--policy', "show each engine's effective containment policy and its loosenings"),
  ).action(async (options) => {
    const { engines } = await new MenagerieClient(options.server, options).json<{
      engines: {
        name: string;
        image: string;
        digest: string | null;
        registryDigest: string | null;
        updateAvailable: boolean | null;
        available: boolean;
        workers: number;
        policy: { timeoutSeconds: number } & Record<string, unknown>;
      }[];
    }>('/api/v1/engines?checkRegistry=true');
    if (options.json) {
      process.stdout.write(JSON.stringify(engines) + '\n');
      return;
    }
    for (const e of engines) {
      const digest = e.available ? (e.digest?.replace(/^.*@/, '') ?? '') : '(image missing)';
      process.stdout.write(
        `${e.name.padEnd(16)} ${e.image} → ${digest}  workers ${e.workers}, timeout ${e.policy.timeoutSeconds} s\n`,
      );
      if (e.updateAvailable) {
        process.stdout.write(
          `${''.padEnd(16)} newer image under the tag: ${e.registryDigest} (pull it to run it: docker pull ${e.image})\n`,
        );
      }
      if (options.policy) process.stdout.write(formatPolicy(e.policy));
    }
  });
}

/** `menagerie engines --policy`: one control a line, then each loosening (dangerous ones marked). */
function formatPolicy(policy: Record<string, unknown>): string {
  const lines: string[] = [];
  const dangerous = new Set((policy.dangerousLoosenings as string[] | undefined) ?? []);
  for (const [key, value] of Object.entries(policy)) {
    if (key === 'loosenings' || key === 'dangerousLoosenings') continue;
    lines.push(`  ${key.padEnd(16)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  const loosenings = (policy.loosenings as string[] | undefined) ?? [];
  lines.push(
    loosenings.length === 0
      ? '  loosenings       none (hardened defaults)'
      : `  loosenings       ${loosenings.map((l) => (dangerous.has(l) ? `${l} (DANGEROUS, allowed by allowLoosening)` : l)).join(', ')}`,
  );
  return lines.join('\n') + '\n';
}
