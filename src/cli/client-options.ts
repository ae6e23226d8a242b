import { Option, type Command } from 'commander';

/** Options every client command takes: where the server is, and JSON output. */
export function clientOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--server <url>', 'server to talk to')
        .env('MENAGERIE_SERVER')
        .default('http://127.0.0.1:8100'),
    )
    .option('--json', 'print JSON for scripts');
}
