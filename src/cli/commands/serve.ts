import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { loadConfig } from '../../config/load-config.js';
import { startService } from '../../main.js';

/** `menagerie serve`: runs the service. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the service (API, console and workers by default)')
    .option('--port <port>', 'HTTP port (MENAGERIE_PORT)')
    .option('--host <address>', 'address to bind (MENAGERIE_HOST)')
    .option('--engines <path>', 'engines.json (MENAGERIE_ENGINES)')
    .option('--data <dir>', 'data directory (MENAGERIE_DATA)')
    .option(
      '--db <url>',
      'job store URL: sqlite:./data/menagerie.db, postgres://… or mysql://… (MENAGERIE_DB)',
    )
    .option('--queue <url>', 'queue URL: embedded or amqp://… (MENAGERIE_QUEUE)')
    .addOption(
      new Option('--role <role>', 'which parts to run (MENAGERIE_ROLE)').choices(['all', 'api', 'worker']),
    )
    .option('--worker-id <id>', 'stable id of this worker node (MENAGERIE_WORKER_ID)')
    .option('--api <url>', 'worker node: URL of an API node for inputs and results (MENAGERIE_API)')
    .option(
      '--worker-secret <secret>',
      'secret shared by API and worker nodes for the internal blob endpoints (MENAGERIE_WORKER_SECRET)',
    )
    .addOption(
      new Option('--job-io <mode>', 'how files cross into containers (MENAGERIE_JOB_IO)').choices([
        'auto',
        'volume',
        'archive',
      ]),
    )
    .addOption(
      new Option('--log-level <level>', 'log level (MENAGERIE_LOG_LEVEL)').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .addOption(
      new Option(
        '--auth <mode>',
        'required: a token on every request but /healthz; off: open, loopback only (MENAGERIE_AUTH)',
      ).choices(['off', 'required']),
    )
    .option('--tls-cert <file>', 'PEM certificate chain: serve HTTPS (MENAGERIE_TLS_CERT)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert (MENAGERIE_TLS_KEY)')
    .option(
      '--tls-client-ca <file>',
      'PEM CA: clients must present a certificate it signed, mTLS (MENAGERIE_TLS_CLIENT_CA)',
    )
    .option(
      '--behind-tls-proxy',
      'a TLS proxy terminates connections: allow plain HTTP on a non-loopback bind (MENAGERIE_BEHIND_TLS_PROXY)',
    )
    .option(
      '--rate-limit-per-address <n>',
      'requests per window per client address, 0 off (MENAGERIE_RATE_LIMIT_PER_ADDRESS)',
    )
    .option(
      '--rate-limit-per-token <n>',
      'requests per window per token, 0 off (MENAGERIE_RATE_LIMIT_PER_TOKEN)',
    )
    .option(
      '--max-queued-per-engine <n>',
      'queued jobs per engine before 429 (MENAGERIE_MAX_QUEUED_PER_ENGINE)',
    )
    .option('--config <file>', 'JSON config file (MENAGERIE_CONFIG)')
    .action(async (options) => {
      const config = loadConfig({
        env: process.env,
        configFile: options.config,
        flags: {
          port: options.port,
          host: options.host,
          engines: options.engines,
          data: options.data,
          db: options.db,
          queue: options.queue,
          role: options.role,
          workerId: options.workerId,
          api: options.api,
          workerSecret: options.workerSecret,
          jobIo: options.jobIo,
          logLevel: options.logLevel,
          auth: options.auth,
          tlsCert: options.tlsCert,
          tlsKey: options.tlsKey,
          tlsClientCa: options.tlsClientCa,
          behindTlsProxy: options.behindTlsProxy,
          rateLimitPerAddress: options.rateLimitPerAddress,
          rateLimitPerToken: options.rateLimitPerToken,
          maxQueuedPerEngine: options.maxQueuedPerEngine,
        },
      });
      const logger = pino({
        level: config.logLevel,
        ...(process.stdout.isTTY
          ? { transport: { target: 'pino-pretty', options: { colorize: true } } }
          : {}),
      });
      const service = await startService(config, logger);
      if (service.url) {
        logger.info({ url: service.url, console: `${service.url}/console/` }, 'menagerie is serving');
        const engine = config.role === 'all' ? 'apktool' : '<engine>';
        // With auth required, the hint carries the header and names how to get a token.
        const bearer = config.auth === 'required' ? '-H "Authorization: Bearer $MENAGERIE_TOKEN" ' : '';
        process.stderr.write(
          [
            '',
            `Menagerie is serving on ${service.url}`,
            `  console   ${service.url}/console/`,
            `  API docs  ${service.url}/api/v1/docs`,
            ...(bearer
              ? [
                  `  token     export MENAGERIE_TOKEN=$(menagerie token create <name> --scope submit,read | tail -1)`,
                ]
              : []),
            `  try       curl ${bearer}-XPOST ${service.url}/${engine}/upload -F upload=@test/fixtures/generated/framework-res.apk`,
            `            curl ${bearer}${service.url}/result/<jobid>`,
            '',
          ].join('\n') + '\n',
        );
      }
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        service.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGHUP', () => void service.reloadEngines());
    });
}
