import { isLoopbackHost } from '../../config/access-schema.js';

/**
 * One verdict on the API's exposure, in the shape of `menagerie audit`'s
 * findings (src/services/audit/audit-types.ts AuditFinding).
 */
export interface ApiExposureFinding {
  readonly status: 'PASS' | 'WARN' | 'FAIL';
  readonly check: string;
  readonly cis: string | null;
  readonly subject: 'api';
  readonly reason: string;
  readonly fix: string | null;
}

/** The config keys the verdicts read. */
export interface ApiExposureConfig {
  readonly host: string;
  readonly port: number;
  readonly role?: string;
  readonly auth: 'off' | 'required';
  readonly tlsCert?: string | undefined;
  readonly tlsClientCa?: string | undefined;
  readonly behindTlsProxy: boolean;
  readonly rateLimitPerAddress: number;
  readonly rateLimitPerToken: number;
  readonly rateLimitWindowMs: number;
  readonly maxQueuedPerEngine: number;
  readonly minFreeDiskMb: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
}

function finding(
  status: ApiExposureFinding['status'],
  check: string,
  reason: string,
  fix: string | null = null,
): ApiExposureFinding {
  return { status, check, cis: null, subject: 'api', reason, fix: status === 'PASS' ? null : fix };
}

/**
 * The API's exposure as audit lines: authentication, TLS, rate limits,
 * backpressure and timeouts, judged from the configuration the service runs with.
 * For `menagerie audit` (src/services/audit/); a pure function of the config.
 */
export function apiExposureFindings(config: ApiExposureConfig): ApiExposureFinding[] {
  if (config.role === 'worker')
    return [finding('PASS', 'api.exposure', 'this node serves no HTTP API (role worker)')];
  const local = isLoopbackHost(config.host);
  const where = `${config.host}:${config.port}`;
  const out: ApiExposureFinding[] = [];
  out.push(
    config.auth === 'required'
      ? finding(
          'PASS',
          'api.auth',
          `every request but /healthz and the console's files needs a token (listening on ${where})`,
        )
      : local
        ? finding(
            'WARN',
            'api.auth',
            `no token is needed: anyone on this machine can submit files and read every result (listening on ${where})`,
            'run with --auth required (MENAGERIE_AUTH=required) and give clients tokens ("menagerie token create")',
          )
        : finding(
            'FAIL',
            'api.auth',
            `the API listens on ${where}, reachable from other machines, without authentication`,
            'run with --auth required, or bind to 127.0.0.1',
          ),
  );
  out.push(
    config.tlsCert
      ? finding(
          'PASS',
          'api.tls',
          config.tlsClientCa
            ? 'native TLS, and clients must present a certificate signed by the client CA (mTLS)'
            : 'native TLS (TLS 1.2 or later)',
        )
      : config.behindTlsProxy
        ? finding(
            'WARN',
            'api.tls',
            'plain HTTP; the operator says a TLS proxy terminates connections in front of it',
            'make sure only the proxy can reach this port, or give --tls-cert and --tls-key',
          )
        : local
          ? finding(
              'PASS',
              'api.tls',
              `plain HTTP on a loopback address (${config.host}): nothing crosses the network`,
            )
          : finding(
              'FAIL',
              'api.tls',
              `plain HTTP on ${config.host}: tokens and files cross the network in the clear`,
              'give --tls-cert and --tls-key, or --behind-tls-proxy behind a TLS proxy',
            ),
  );
  const windowS = Math.round(config.rateLimitWindowMs / 1000);
  const limits = [
    config.rateLimitPerAddress > 0 ? `${config.rateLimitPerAddress} per address` : null,
    config.rateLimitPerToken > 0 ? `${config.rateLimitPerToken} per token` : null,
  ].filter((x): x is string => x !== null);
  out.push(
    limits.length === 2
      ? finding(
          'PASS',
          'api.rate-limit',
          `at most ${limits.join(' and ')} requests per ${windowS} s (429 with Retry-After)`,
        )
      : finding(
          'WARN',
          'api.rate-limit',
          limits.length
            ? `only ${limits.join('')} requests per ${windowS} s are limited`
            : 'requests are not rate-limited',
          'set --rate-limit-per-address and --rate-limit-per-token above 0',
        ),
  );
  out.push(
    config.minFreeDiskMb > 0
      ? finding(
          'PASS',
          'api.backpressure',
          `at most ${config.maxQueuedPerEngine} queued jobs per engine; uploads refused below ${config.minFreeDiskMb} MiB free`,
        )
      : finding(
          'WARN',
          'api.backpressure',
          `at most ${config.maxQueuedPerEngine} queued jobs per engine, but no disk-space watermark: uploads can fill the data directory`,
          'set minFreeDiskMb (MENAGERIE_MIN_FREE_DISK_MB) above 0',
        ),
  );
  out.push(
    config.headersTimeoutMs <= 60_000
      ? finding(
          'PASS',
          'api.timeouts',
          `headers within ${config.headersTimeoutMs / 1000} s, whole requests within ${config.requestTimeoutMs / 1000} s`,
        )
      : finding(
          'WARN',
          'api.timeouts',
          `slow clients may hold a connection ${config.headersTimeoutMs / 1000} s before sending headers`,
          'lower headersTimeoutMs (MENAGERIE_HEADERS_TIMEOUT_MS) to 60000 or less',
        ),
  );
  return out;
}
