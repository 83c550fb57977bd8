/** Reads the table and the facts, judges them, and renders the check result (state from the worst finding). */
import type {CheckResult} from '../../core/result/check-result.js';
import type {IpvsTable} from '../../core/ipvs/model.js';
import {openIpvsControl} from '../../core/ipvs/open.js';
import {stateName} from '../../core/result/state.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {gatherIpvsAuditFacts} from './facts.js';
import {auditIpvsTable, ipvsFindingLine, ipvsFindingsState, type IpvsAuditFacts, type IpvsAuditOptions, type IpvsFinding} from './judge.js';

/** Kept free of the deadline for judging and printing the result. */
const REPORT_RESERVE_MS = 50;

export async function runIpvsAudit(options: IpvsAuditOptions, context: RunContext): Promise<CheckResult> {
  const notices: string[] = [];
  const control = await openIpvsControl({notice: (line) => notices.push(line), deadline: context.deadline - REPORT_RESERVE_MS});
  let table: IpvsTable;
  try {
    table = await control.read();
  } finally {
    control.close();
  }
  return ipvsAuditResult(table, gatherIpvsAuditFacts(), options, notices);
}

export function ipvsAuditResult(table: IpvsTable, facts: IpvsAuditFacts, options: IpvsAuditOptions, notices: readonly string[] = []): CheckResult {
  const findings = auditIpvsTable(table, facts, options);
  const destinations = table.services.reduce((n, s) => n + s.destinations.length, 0);
  const counts = `${table.services.length} service${table.services.length === 1 ? '' : 's'}, ${destinations} real server${destinations === 1 ? '' : 's'}`;
  const ids = [...new Set(findings.map((f) => f.id))].join(' ');
  return {
    check: 'IPVS-AUDIT',
    state: ipvsFindingsState(findings),
    summary: findings.length === 0 ? `no IPVS faults (${counts}, read through ${table.source})` : `${findings.length} finding${findings.length === 1 ? '' : 's'} (${ids}) in ${counts}: ${findings[0]!.message}`,
    details: [...findings.map(ipvsFindingLine), ...notices.map((n) => `note: ${n}`)],
    perfdata: [
      {label: 'services', value: table.services.length, min: 0},
      {label: 'real_servers', value: destinations, min: 0},
      {label: 'findings', value: findings.length, min: 0},
    ],
    data: {source: table.source, onDown: options.onDown, sysctl: facts.sysctl, kernel: facts.kernelRelease, findings: findings.map(findingJson), notices},
  };
}

function findingJson(f: IpvsFinding): Record<string, string> {
  return {id: f.id, severity: stateName(f.severity), message: f.message, entry: f.entry, fix: f.fix};
}
