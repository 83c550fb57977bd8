/**
 * Turns the outcomes of the modes into one check result: the worst finding decides the state, the first line
 * summarises, the long output has one line per finding (id, severity, message, fix), perfdata `responders`
 * (active), `foreign_senders` (passive) and `findings`, and --json carries the findings as objects.
 */
import type {CheckResult, VerboseLine} from '../../core/result/check-result.js';
import type {PerfDatum} from '../../core/result/perfdata.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import type {ActiveOutcome} from './active.js';
import {findingJson, findingLine, findingsState, sortFindings, type Finding} from './finding.js';
import type {RoleDecision} from './local.js';
import type {AuditProtocol} from './observer.js';
import type {PassiveOutcome} from './passive.js';

export interface AuditReport {
  readonly vip: IpAddress;
  /** ARP for an IPv4 VIP, NDP for an IPv6 one. */
  readonly protocol: AuditProtocol;
  /** The capture interface (active/passive). */
  readonly interfaceName?: string;
  readonly active?: ActiveOutcome & {readonly intervalMs: number};
  readonly passive?: PassiveOutcome & {readonly listenMs: number; readonly foreignProbes: number};
  readonly local?: {readonly decision: RoleDecision; readonly findings: readonly Finding[]};
  /** The --rs addresses and the MACs seen using them (empty when it never answered). */
  readonly realServers: readonly {readonly ip: IpAddress; readonly macs: readonly MacAddress[]}[];
}

export function buildResult(report: AuditReport): CheckResult {
  const findings = sortFindings([...(report.active?.findings ?? []), ...(report.passive?.findings ?? []), ...(report.local?.findings ?? [])]);
  const state = findingsState(findings);
  const notes = report.realServers
    .filter((r) => r.macs.length === 0)
    .map((r) => `note: real server ${r.ip} did not answer ${report.protocol} probes; offenders using its MAC cannot be named`);
  return {
    check: 'ARP-AUDIT',
    state,
    summary: summary(report, findings),
    details: [...findings.map(findingLine), ...notes],
    perfdata: perfdata(report, findings),
    data: data(report, findings),
    verbose: verbose(report),
  };
}

function summary(report: AuditReport, findings: readonly Finding[]): string {
  if (findings.length > 0) {
    const ids = [...new Set(findings.map((f) => f.id))].join(' ');
    return `${report.vip}: ${findings.length} finding${findings.length === 1 ? '' : 's'} (${ids}): ${findings[0]!.message}`;
  }
  const parts: string[] = [];
  const {active, passive, local} = report;
  if (active) {
    const on = report.interfaceName ? ` on ${report.interfaceName}` : '';
    parts.push(
      active.responders.length === 0
        ? `no other host answered ${active.probes} probes${on}`
        : `${active.responders.map((r) => r.mac).join(', ')} answered ${active.probes} probes${on}`,
    );
  }
  if (passive) {
    const seconds = passive.listenMs / 1000;
    parts.push(
      passive.claims === 0
        ? `no ${report.protocol} from ${report.vip} in ${seconds} s`
        : `${passive.claims} ${report.protocol} packet(s) ${report.protocol === 'ARP' ? 'from' : 'for'} ${report.vip} in ${seconds} s (all from ${passive.senders.map((s) => s.mac).join(', ')})`,
    );
  }
  if (local) parts.push(`local ${local.decision.role === 'director' ? 'director' : 'real server'} settings correct`);
  return `${report.vip}: no ${report.protocol} faults (${parts.join(', ')})`;
}

function perfdata(report: AuditReport, findings: readonly Finding[]): PerfDatum[] {
  return [
    ...(report.active ? [{label: 'responders', value: report.active.responders.length, min: 0}] : []),
    ...(report.passive ? [{label: 'foreign_senders', value: report.passive.foreignSenders, min: 0}] : []),
    {label: 'findings', value: findings.length, min: 0},
  ];
}

function data(report: AuditReport, findings: readonly Finding[]): Record<string, unknown> {
  const {active, passive, local} = report;
  return {
    vip: report.vip.toString(),
    protocol: report.protocol,
    interface: report.interfaceName ?? null,
    modes: [...(active ? ['active'] : []), ...(passive ? ['passive'] : []), ...(local ? ['local'] : [])],
    findings: findings.map(findingJson),
    ...(active
      ? {
          active: {
            probes: active.probes,
            intervalMs: active.intervalMs,
            responders: active.responders.map((r) => ({...macJson(r), rounds: r.rounds, responses: r.responses})),
            firstForeign: active.firstForeign ? {ms: round(active.firstForeign.ms), round: active.firstForeign.round} : null,
          },
        }
      : {}),
    ...(passive
      ? {
          passive: {
            listenMs: passive.listenMs,
            claims: passive.claims,
            changes: passive.changes,
            foreignProbes: passive.foreignProbes,
            senders: passive.senders.map((x) => ({...macJson(x), counts: x.counts})),
          },
        }
      : {}),
    ...(local ? {local: {role: local.decision.role, reason: local.decision.reason}} : {}),
    realServers: report.realServers.map((r) => ({ip: r.ip.toString(), macs: r.macs.map(String)})),
  };
}

/** The fields responders and senders share. */
function macJson(x: {mac: MacAddress; realServer: IpAddress | undefined; firstMs: number; expected: boolean | undefined}) {
  return {mac: x.mac.toString(), realServer: x.realServer?.toString() ?? null, firstMs: round(x.firstMs), expected: x.expected ?? null};
}

function verbose(report: AuditReport): VerboseLine[] {
  const lines: VerboseLine[] = [];
  const {active, passive, local} = report;
  if (active) {
    const responders = active.responders.map((r) => `${r.mac} in probes ${r.rounds.join(',')} (first after ${round(r.firstMs)} ms)`);
    lines.push({level: 1, text: `active: ${active.probes} probes every ${active.intervalMs} ms; responders: ${responders.join('; ') || 'none'}`});
  }
  if (passive) {
    const senders = passive.senders.map((s) => `${s.mac} (${s.counts.request} requests, ${s.counts.reply} replies, ${s.counts.gratuitous} gratuitous)`);
    lines.push({level: 1, text: `passive: ${passive.claims} VIP claims in ${passive.listenMs} ms from ${senders.join('; ') || 'nobody'}`});
    const probeKind = report.protocol === 'ARP' ? 'RFC 5227' : 'duplicate address detection';
    if (passive.foreignProbes > 0) lines.push({level: 1, text: `passive: ${passive.foreignProbes} ${probeKind} probe(s) for the VIP from other hosts`});
  }
  if (local) lines.push({level: 1, text: `local: judged as ${local.decision.role} (${local.decision.reason})`});
  for (const r of report.realServers) lines.push({level: 2, text: `real server ${r.ip}: ${r.macs.join(', ') || 'no answer'}`});
  return lines;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
