import { z } from 'zod';

const booleanish = z.union([z.boolean(), z.stringbool()]);

/**
 * API exposure: authentication, TLS, rate limits, backpressure and server
 * timeouts. Spread into the service's config schema.
 */
export const accessConfigShape = {
  /**
   * `off`: no token needed (allowed only on a loopback bind); a token that is
   * sent is still checked. `required`: a token on every request but /healthz,
   * the console's static files and the API description.
   */
  auth: z.enum(['off', 'required']).default('off'),
  /** PEM certificate chain for native TLS. */
  tlsCert: z.string().min(1).optional(),
  /** PEM private key for native TLS. */
  tlsKey: z.string().min(1).optional(),
  /** PEM CA bundle: with it, clients must present a certificate it signed (mTLS). */
  tlsClientCa: z.string().min(1).optional(),
  /** The operator says a TLS proxy terminates connections: plain HTTP on a non-loopback bind is allowed. */
  behindTlsProxy: booleanish.default(false),
  /** Most requests per client address per window; 0: no limit. */
  rateLimitPerAddress: z.number().int().min(0).default(6000),
  /** Most requests per token per window; 0: no limit. */
  rateLimitPerToken: z.number().int().min(0).default(3000),
  /** Rate-limit window, ms. */
  rateLimitWindowMs: z.number().int().min(100).default(60_000),
  /** Most queued jobs per engine; past it a submission gets 429 and nothing is stored. */
  maxQueuedPerEngine: z.number().int().min(1).default(1000),
  /** Per-engine overrides of maxQueuedPerEngine (config file only). */
  maxQueuedByEngine: z.record(z.string(), z.number().int().min(1)).default({}),
  /** Free space the data directory keeps, MiB: below it uploads get 507 before anything is written. */
  minFreeDiskMb: z.number().int().min(0).default(512),
  /** Longest time to receive a whole request (headers and body), ms; slow bodies get 408. */
  requestTimeoutMs: z.number().int().min(1000).default(600_000),
  /** Longest time to receive a request's headers, ms; slow headers get 408. */
  headersTimeoutMs: z.number().int().min(500).default(20_000),
  /**
   * Idle keep-alive connections are closed after this, ms. Longer than the usual
   * proxy idle timeout (60 s), so a proxy never reuses a connection this side closed.
   */
  keepAliveTimeoutMs: z.number().int().min(100).default(72_000),
  /** Largest request head (request line and headers), bytes; larger gets 431. */
  maxHeaderBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(16_384),
};

/** Environment variables of the keys above. */
export const accessEnvironmentKeys = {
  MENAGERIE_AUTH: 'auth',
  MENAGERIE_TLS_CERT: 'tlsCert',
  MENAGERIE_TLS_KEY: 'tlsKey',
  MENAGERIE_TLS_CLIENT_CA: 'tlsClientCa',
  MENAGERIE_BEHIND_TLS_PROXY: 'behindTlsProxy',
  MENAGERIE_RATE_LIMIT_PER_ADDRESS: 'rateLimitPerAddress',
  MENAGERIE_RATE_LIMIT_PER_TOKEN: 'rateLimitPerToken',
  MENAGERIE_RATE_LIMIT_WINDOW_MS: 'rateLimitWindowMs',
  MENAGERIE_MAX_QUEUED_PER_ENGINE: 'maxQueuedPerEngine',
  MENAGERIE_MIN_FREE_DISK_MB: 'minFreeDiskMb',
  MENAGERIE_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
  MENAGERIE_HEADERS_TIMEOUT_MS: 'headersTimeoutMs',
  MENAGERIE_KEEP_ALIVE_TIMEOUT_MS: 'keepAliveTimeoutMs',
  MENAGERIE_MAX_HEADER_BYTES: 'maxHeaderBytes',
} as const;

/** Keys above whose environment values are numbers. */
export const accessNumericKeys = [
  'rateLimitPerAddress',
  'rateLimitPerToken',
  'rateLimitWindowMs',
  'maxQueuedPerEngine',
  'minFreeDiskMb',
  'requestTimeoutMs',
  'headersTimeoutMs',
  'keepAliveTimeoutMs',
  'maxHeaderBytes',
] as const;

/** Whether an address to bind reaches only this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1'
  );
}

/**
 * Why this exposure is refused at start, or null when it is allowed: a
 * non-loopback bind needs `auth: required`, and TLS (native or a proxy the
 * operator names); TLS needs both a certificate and a key.
 */
export function exposureProblem(config: {
  host: string;
  role?: string;
  auth: 'off' | 'required';
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsClientCa?: string | undefined;
  behindTlsProxy: boolean;
}): string | null {
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey))
    return 'TLS needs both --tls-cert and --tls-key (MENAGERIE_TLS_CERT, MENAGERIE_TLS_KEY)';
  if (config.tlsClientCa && !config.tlsCert)
    return '--tls-client-ca (mTLS) needs native TLS: give --tls-cert and --tls-key as well';
  if (config.role === 'worker' || isLoopbackHost(config.host)) return null;
  if (config.auth !== 'required')
    return `binding to ${config.host}, which other machines can reach, needs --auth required (MENAGERIE_AUTH=required) so that nobody submits or reads without a token; create one with "menagerie token create <name> --scope …", or bind to 127.0.0.1`;
  if (!config.tlsCert && !config.behindTlsProxy)
    return `binding to ${config.host} over plain HTTP would send tokens and files in the clear; give --tls-cert and --tls-key, or --behind-tls-proxy when a TLS proxy terminates connections in front of Menagerie`;
  return null;
}
