import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { ClientError, exitCodes } from '../client.js';
import { scaffoldEngine } from '../../services/engine-scaffold.js';

function enginesOption(): Option {
  return new Option('--engines <path>', 'engines.json')
    .env('MENAGERIE_ENGINES')
    .default('engines/engines.json');
}

async function imageOf(enginesFile: string, name: string): Promise<string> {
  let config: { engines?: { name: string; image: string }[] };
  try {
    config = JSON.parse(await readFile(enginesFile, 'utf8')) as typeof config;
  } catch (error) {
    throw new ClientError(`cannot read ${enginesFile}: ${(error as Error).message}`, exitCodes.usage);
  }
  const engine = config.engines?.find((e) => e.name === name);
  if (!engine) throw new ClientError(`${enginesFile} has no engine named "${name}"`, exitCodes.notFound);
  return engine.image;
}

/** Runs the docker client; with `quiet`, its output goes to stderr so stdout stays JSON. */
function docker(args: string[], quiet = false): Promise<void> {
  return new Promise((resolve, reject) => {
    // The legacy builder: BuildKit's buildx plugin is not part of Debian's docker.io.
    const child = spawn('docker', args, {
      stdio: ['ignore', quiet ? process.stderr : 'inherit', 'inherit'],
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
    });
    child.on('error', (error) =>
      reject(new ClientError(`cannot run docker: ${error.message}`, exitCodes.internal)),
    );
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new ClientError(`docker ${args[0]} failed (exit ${code})`, exitCodes.internal)),
    );
  });
}

/** `engine new|build|push`: making engines. */
export function registerEngineCommands(program: Command): void {
  const engine = program.command('engine').description('Make engines: scaffold, build, push');

  engine
    .command('new')
    .description('Scaffold an engine: Dockerfile, run script, sample, smoke test and engines.json entry')
    .argument('<name>', 'engine name')
    .addOption(enginesOption())
    .option('--dir <dir>', 'where engine folders live', 'engines')
    .option('--registry <host>', 'registry the image is tagged for', 'localhost:5000')
    .option('--json', 'print JSON for scripts')
    .action(async (name: string, options) => {
      let result;
      try {
        result = await scaffoldEngine(name, {
          enginesDir: options.dir,
          enginesFile: options.engines,
          registry: options.registry,
        });
      } catch (error) {
        throw new ClientError((error as Error).message, exitCodes.usage);
      }
      if (options.json) {
        process.stdout.write(JSON.stringify(result) + '\n');
        return;
      }
      process.stdout.write(
        [
          `engine ${name} scaffolded in ${result.dir}:`,
          ...result.files.map((f) => `  ${f}`),
          `  ${options.engines} (entry added, image ${result.image})`,
          '',
          'next:',
          `  edit ${path.join(result.dir, 'run.sh')} (and the Dockerfile for packages)`,
          `  menagerie engine build ${name} && menagerie engine push ${name}`,
          '  restart menagerie serve, then: menagerie submit ' + name + ' <file> --wait',
        ].join('\n') + '\n',
      );
    });

  engine
    .command('build')
    .description("Build an engine's image from its folder, tagged as engines.json names it")
    .argument('<name>', 'engine name')
    .addOption(enginesOption())
    .option('--dir <dir>', 'where engine folders live', 'engines')
    .option('--json', 'print JSON for scripts (docker output goes to stderr)')
    .action(async (name: string, options) => {
      const image = await imageOf(options.engines, name);
      await docker(['build', '--force-rm', '-t', image, path.join(options.dir, name)], Boolean(options.json));
      process.stdout.write(
        options.json ? JSON.stringify({ engine: name, image, built: true }) + '\n' : `built ${image}\n`,
      );
    });

  engine
    .command('push')
    .description("Push an engine's image to its registry")
    .argument('<name>', 'engine name')
    .addOption(enginesOption())
    .option('--json', 'print JSON for scripts (docker output goes to stderr)')
    .action(async (name: string, options) => {
      const image = await imageOf(options.engines, name);
      await docker(['push', image], Boolean(options.json));
      process.stdout.write(
        options.json ? JSON.stringify({ engine: name, image, pushed: true }) + '\n' : `pushed ${image}\n`,
      );
    });
}
