import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { DockerAuditProbe } from '../../adapters/runtime/docker/docker-audit.js';
import { parseEnginesConfig } from '../../config/engines-config.js';
import { loadConfig } from '../../config/load-config.js';
import { apiExposureFindings } from '../../http/plugins/index.js';
import { formatAudit, runAudit } from '../../services/audit/run-audit.js';
import { ClientError, exitCodes } from '../client.js';

/** `menagerie audit`: checks the Docker daemon, the API's exposure and every engine's containment. */
export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'Check the Docker daemon, the API exposure and each engine (policy and a live canary); PASS/WARN/FAIL with CIS Docker Benchmark ids; exits 1 on any FAIL',
    )
    .option('--engines <path>', 'engines.json (MENAGERIE_ENGINES)')
    .option('--host <address>', 'address the API binds to (MENAGERIE_HOST)')
    .option('--config <file>', 'JSON config file (MENAGERIE_CONFIG)')
    .option('--daemon-json <path>', "the Docker daemon's config file", '/etc/docker/daemon.json')
    .option('--no-canary', 'skip the live canary containers')
    .option('--json', 'print the findings as JSON')
    .action(async (options) => {
      const config = loadConfig({
        env: process.env,
        configFile: options.config,
        flags: { engines: options.engines, host: options.host },
      });
      let text: string;
      try {
        text = await readFile(config.engines, 'utf8');
      } catch (error) {
        throw new ClientError(`cannot read ${config.engines}: ${(error as Error).message}`, exitCodes.usage);
      }
      const engines = parseEnginesConfig(text, config.engineDefaults, config.engines);
      const probe = new DockerAuditProbe({
        dockerHost: config.dockerHost,
        daemonJsonPath: options.daemonJson,
      });
      let report;
      try {
        report = await runAudit(probe, {
          engines,
          apiFindings: apiExposureFindings(config),
          canary: options.canary,
        });
      } catch (error) {
        throw new ClientError(
          `the Docker engine did not answer: ${(error as Error).message}`,
          exitCodes.unreachable,
        );
      }
      process.stdout.write(options.json ? JSON.stringify(report) + '\n' : formatAudit(report));
      if (report.summary.fail > 0) process.exitCode = 1;
    });
}
