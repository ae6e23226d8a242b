import type { Command } from 'commander';
import { MenagerieClient, type JobJson } from '../client.js';
import { clientOptions } from '../client-options.js';

function shortDuration(ms: number | null): string {
  if (ms === null) return '';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `jobs`, `logs`, `cancel`: looking through and steering jobs. */
export function registerJobManagementCommands(program: Command): void {
  clientOptions(
    program
      .command('jobs')
      .description('List jobs, newest first')
      .option('--engine <name>', 'only this engine')
      .option('--state <state>', 'only this state: queued, running, succeeded, failed, cancelled')
      .option('--sha256 <hash>', 'only jobs of this input')
      .option('--limit <n>', 'how many', '20')
      .option('--cursor <cursor>', 'the page after this cursor (printed at the end of a page)'),
  ).action(async (options) => {
    const query = new URLSearchParams();
    for (const key of ['engine', 'state', 'sha256', 'limit', 'cursor'] as const) {
      if (options[key]) query.set(key, String(options[key]));
    }
    const page = await new MenagerieClient(options.server, options).json<{
      jobs: JobJson[];
      nextCursor: string | null;
    }>(`/api/v1/jobs?${query}`);
    if (options.json) {
      process.stdout.write(JSON.stringify(page) + '\n');
      return;
    }
    for (const job of page.jobs) {
      process.stdout.write(
        [
          job.id,
          job.engine.padEnd(12),
          job.state.padEnd(10),
          job.createdAt,
          shortDuration(job.durationMs).padStart(8),
          job.input.name,
          job.reason ? `(${job.reason})` : '',
        ]
          .join('  ')
          .trimEnd() + '\n',
      );
    }
    if (page.nextCursor) process.stdout.write(`more: menagerie jobs --cursor ${page.nextCursor}\n`);
  });

  clientOptions(
    program
      .command('logs')
      .description("Print a job's stdout and stderr (capped)")
      .argument('<id>', 'job id'),
  ).action(async (id: string, options) => {
    const logs = await new MenagerieClient(options.server, options).json<{
      stdout: string;
      stderr: string;
      truncated: boolean;
    }>(`/api/v1/jobs/${encodeURIComponent(id)}/logs`);
    if (options.json) {
      process.stdout.write(JSON.stringify(logs) + '\n');
      return;
    }
    process.stdout.write(logs.stdout);
    process.stderr.write(logs.stderr);
    if (logs.truncated)
      process.stderr.write('\n(menagerie: output was longer than the cap and is truncated)\n');
  });

  clientOptions(
    program.command('cancel').description('Cancel a queued or running job').argument('<id>', 'job id'),
  ).action(async (id: string, options) => {
    const job = await new MenagerieClient(options.server, options).json<JobJson>(
      `/api/v1/jobs/${encodeURIComponent(id)}`,
      {
        method: 'DELETE',
      },
    );
    if (options.json) process.stdout.write(JSON.stringify(job) + '\n');
    else process.stdout.write(`${job.id} ${job.state}\n`);
  });
}
