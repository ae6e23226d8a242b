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
  /** Findings on the HTTP API's exposure (auth, TLS, rate limits), judged from the service config. */
  readonly apiFindings: readonly AuditFinding[];
  /** Run the live canaries (one container per engine). Default true. */
  readonly canary?: boolean;
}

export interface AuditReport {
  readonly findings: readonly AuditFinding[];
  readonly summary: { readonly pass: number; readonly warn: number; readonly fail: number };
}

/** Runs every check: daemon, API, each engine's policy and (unless disabled) a live canary per engine. */
export async function runAudit(probe: AuditProbe, options: AuditOptions): Promise<AuditReport> {
  const findings: AuditFinding[] = [...checkDaemon(await probe.daemonFacts()), ...options.apiFindings];
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
