/**
 * The arp-audit fault catalogue (lvs-dr.md, "Fault catalogue for arp-audit", and its IPv6 faults N1-N5) as data:
 * every finding has an id A1-A14, N1-N5 or T1-T2 (tunnel mode), a fixed severity, a one-line message, the offending MAC/address when
 * there is one, and the exact command that fixes it. Severities follow issue 4: A1-A4, A6 and A10 are CRITICAL,
 * the rest WARNING.
 */
import {State, stateName, worst} from '../../core/result/state.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';

export const FINDING_IDS = ['A1', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7', 'A8', 'A9', 'A10', 'A11', 'A12', 'A13', 'A14', 'N1', 'N2', 'N3', 'N4', 'N5', 'T1', 'T2'] as const;
export type FindingId = (typeof FINDING_IDS)[number];

// N1-N3 and N5 are the IPv6 counterparts of CRITICAL ARP faults (another host speaks for the VIP, nobody does,
// the director's VIP is unusable); N4 (VIP not /128 or on an Ethernet interface of a real server) matches A11.
// T1/T2 (a TUN real server that cannot decapsulate) lose every tunnelled packet, like A10.
const CRITICAL: ReadonlySet<FindingId> = new Set<FindingId>(['A1', 'A2', 'A3', 'A4', 'A6', 'A10', 'N1', 'N2', 'N3', 'N5', 'T1', 'T2']);

export function severityOf(id: FindingId): State.Critical | State.Warning {
  return CRITICAL.has(id) ? State.Critical : State.Warning;
}

export interface Finding {
  readonly id: FindingId;
  readonly severity: State.Critical | State.Warning;
  readonly message: string;
  /** The offending MAC (a foreign responder or sender, the interface a local finding is about). */
  readonly mac?: MacAddress;
  /** The offending host's own address when it is known (a named real server), or the VIP for A10/A11. */
  readonly ip?: IpAddress;
  /** The local interface a local finding is about. */
  readonly interfaceName?: string;
  /** The command that fixes it, run where the message says. */
  readonly fix?: string;
}

export interface FindingDetails {
  readonly mac?: MacAddress | undefined;
  readonly ip?: IpAddress | undefined;
  readonly interfaceName?: string | undefined;
  readonly fix?: string | undefined;
}

export function finding(id: FindingId, message: string, details: FindingDetails = {}): Finding {
  return {
    id,
    severity: severityOf(id),
    message,
    ...(details.mac ? {mac: details.mac} : {}),
    ...(details.ip ? {ip: details.ip} : {}),
    ...(details.interfaceName ? {interfaceName: details.interfaceName} : {}),
    ...(details.fix ? {fix: details.fix} : {}),
  };
}

/** The state a set of findings gives the check: the worst severity, OK when there are none. */
export function findingsState(findings: readonly Finding[]): State {
  return worst(...findings.map((f) => f.severity));
}

/** Most severe first, then in catalogue order; stable for findings of the same id. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const rank = (f: Finding) => (f.severity === State.Critical ? 0 : 1) * 100 + FINDING_IDS.indexOf(f.id);
  return [...findings].sort((a, b) => rank(a) - rank(b));
}

/** The long-output line of a finding: `A2 CRITICAL: <message>; fix: <command>`. */
export function findingLine(f: Finding): string {
  return `${f.id} ${stateName(f.severity)}: ${f.message}${f.fix ? `; fix: ${f.fix}` : ''}`;
}

export interface FindingJson {
  id: FindingId;
  severity: string;
  message: string;
  mac: string | null;
  ip: string | null;
  interface: string | null;
  fix: string | null;
}

export function findingJson(f: Finding): FindingJson {
  return {
    id: f.id,
    severity: stateName(f.severity),
    message: f.message,
    mac: f.mac?.toString() ?? null,
    ip: f.ip?.toString() ?? null,
    interface: f.interfaceName ?? null,
    fix: f.fix ?? null,
  };
}
