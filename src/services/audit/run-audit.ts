import type { EngineSpec } from '../../domain/index.js';
import type { AuditFinding, CanaryObservation, ContainerSpecFacts, DaemonFacts } from './audit-types.js';
import { checkCanary } from './canary-checks.js';
import { checkDaemon } from './daemon-checks.js';
import { checkEngine } from './engine-checks.js';

/** Where the audit's facts come from (the Docker adapter in production). */
export interface AuditProbe {
  daemonFacts(): Promise<DaemonFacts>;
  /** The create body the runtime would send for a job of this engine. */
  containerSpec(engine: EngineSpec): ContainerSpecFacts;
  /** Runs one container under the engine's policy and reports what it saw from inside. */
  runCanary(engine: EngineSpec): Promise<CanaryObservation>;
}

export interface AuditOptions {
  readonly engines: readonly EngineSpec[];
  /** Address the HTTP API binds to (from the service config). */
  readonly apiHost: string;
  /** Run the live canaries (one container per engine). Default true. */
  readonly canary?: boolean;
}

export interface AuditReport {
  readonly findings: readonly AuditFinding[];
  readonly summary: { readonly pass: number; readonly warn: number; readonly fail: number };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '[::1]';
}

/** Checks the API's exposure: until authentication and TLS exist, only loopback is safe. */
export function checkApi(host: string): AuditFinding[] {
  const local = isLoopback(host);
  return [
    {
      status: local ? 'PASS' : 'FAIL',
      check: 'api.exposure',
      cis: null,
      subject: 'api',
      reason: local
        ? `the HTTP API listens on ${host} only`
        : `the HTTP API listens on ${host} with no authentication, TLS or rate limits: anyone who reaches it can submit files and read results`,
      fix: local ? null : 'bind to 127.0.0.1 (--host) and put an authenticating TLS proxy in front',
    },
  ];
}

/** Runs every check: daemon, API, each engine's policy and (unless disabled) a live canary per engine. */
export async function runAudit(probe: AuditProbe, options: AuditOptions): Promise<AuditReport> {
  const findings: AuditFinding[] = [...checkDaemon(await probe.daemonFacts()), ...checkApi(options.apiHost)];
  for (const engine of options.engines) {
    findings.push(...checkEngine(engine, probe.containerSpec(engine)));
    if (options.canary !== false) findings.push(...checkCanary(engine, await probe.runCanary(engine)));
  }
  const count = (s: string) => findings.filter((f) => f.status === s).length;
  return { findings, summary: { pass: count('PASS'), warn: count('WARN'), fail: count('FAIL') } };
}

/** One line per finding: `STATUS  [CIS id]  check (subject): reason. Fix: …`. */
export function formatAudit(report: AuditReport): string {
  const lines = report.findings.map((f) => {
    const cis = f.cis ? `[CIS ${f.cis}]` : '[menagerie]';
    return `${f.status.padEnd(4)}  ${cis.padEnd(12)} ${f.check} (${f.subject}): ${f.reason}${f.fix ? `. Fix: ${f.fix}` : ''}`;
  });
  const s = report.summary;
  lines.push(`\n${s.pass} PASS, ${s.warn} WARN, ${s.fail} FAIL`);
  return lines.join('\n') + '\n';
}
