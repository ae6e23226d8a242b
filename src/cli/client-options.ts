import { Option, type Command } from 'commander';

/** Options every client command takes: where the server is, the token and CA, and JSON output. */
export function clientOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--server <url>', 'server to talk to')
        .env('MENAGERIE_SERVER')
        .default('http://127.0.0.1:8100'),
    )
    .addOption(
      new Option('--token <token>', 'API token, sent as Authorization: Bearer').env('MENAGERIE_TOKEN'),
    )
    .addOption(
      new Option('--ca <file>', "PEM CA that signed the server's TLS certificate").env('MENAGERIE_CA'),
    )
    .option('--json', 'print JSON for scripts');
}
