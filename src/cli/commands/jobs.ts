import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { MenagerieClient, exitCodes, type JobJson } from '../client.js';
import { clientOptions } from '../client-options.js';

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
      .description('Submit a file to an engine')
      .argument('<engine>', 'engine name')
      .argument('<file>', 'file to analyze')
      .option('--wait', 'wait for the job to finish and print its summary'),
  ).action(async (engine: string, file: string, options) => {
    const client = new MenagerieClient(options.server);
    const { jobs } = await client.submit([engine], file);
    if (!options.wait) {
      if (options.json) process.stdout.write(JSON.stringify(jobs[0]) + '\n');
      else process.stdout.write(`${jobs[0]?.id}\n`);
      return;
    }
    const [job] = await waitForJobs(client, jobs, Boolean(options.json));
    if (!job) return;
    if (options.json) process.stdout.write(JSON.stringify(job) + '\n');
    else printJob(job);
    if (job.state !== 'succeeded') process.exitCode = exitCodes.jobFailed;
  });

  clientOptions(
    program.command('status').description("Show a job's state").argument('<id>', 'job id'),
  ).action(async (id: string, options) => {
    const job = await new MenagerieClient(options.server).json<JobJson>(
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
    const response = await new MenagerieClient(options.server).request(
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

  clientOptions(program.command('engines').description('List the engines')).action(async (options) => {
    const { engines } = await new MenagerieClient(options.server).json<{
      engines: {
        name: string;
        image: string;
        digest: string | null;
        available: boolean;
        workers: number;
        policy: { timeoutSeconds: number };
      }[];
    }>('/api/v1/engines');
    if (options.json) {
      process.stdout.write(JSON.stringify(engines) + '\n');
      return;
    }
    for (const e of engines) {
      process.stdout.write(
        `${e.name.padEnd(16)} ${e.image}  ${e.available ? (e.digest ?? '') : '(image missing)'}  workers ${e.workers}, timeout ${e.policy.timeoutSeconds} s\n`,
      );
    }
  });
}
