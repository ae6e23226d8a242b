#!/usr/bin/env node
import { Command } from 'commander';
import { EngineConfigError } from '../config/engines-config.js';
import { ConfigError } from '../config/load-config.js';
import { isJobId } from '../domain/job.js';
import { ClientError, exitCodes } from './client.js';
import { registerAudit } from './commands/audit.js';
import { registerEngineCommands } from './commands/engine.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerJobManagementCommands } from './commands/manage-jobs.js';
import { registerServe } from './commands/serve.js';
import { registerTokenCommands } from './commands/token.js';

const program = new Command();
program
  .name('menagerie')
  .description('Run untrusted files through containerized analyzers.')
  .showHelpAfterError()
  .configureOutput({
    outputError: (text, write) => {
      write(text);
      // Ids made before they were kept from starting with '-' read as options.
      const id = /unknown option '([^']+)'/.exec(text)?.[1];
      if (id && isJobId(id)) write(`menagerie: a job id that begins with '-' goes after '--': … -- ${id}\n`);
    },
  });

registerServe(program);
registerAudit(program);
registerJobCommands(program);
registerJobManagementCommands(program);
registerEngineCommands(program);
registerTokenCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ClientError) {
    process.stderr.write(`menagerie: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  if (error instanceof ConfigError || error instanceof EngineConfigError) {
    process.stderr.write(`menagerie: configuration: ${error.message}\n`);
    process.exit(exitCodes.usage);
  }
  process.stderr.write(`menagerie: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(exitCodes.internal);
});
