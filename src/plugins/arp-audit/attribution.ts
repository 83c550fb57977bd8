/**
 * Who may speak for the VIP, and how offenders are named. Shared by the active and passive classifiers.
 *
 * - This host holds the VIP on an ARP-capable interface ("director vantage"): it answers for the VIP itself but
 *   never sees its own answer, so every responder to our probes is foreign, and zero responders is right.
 * - Otherwise the expected responders are the --expect-mac values. Without them nothing can be called
 *   unexpected except a MAC that belongs to a real server (--rs): a real server never legitimately answers for
 *   the VIP.
 * - Expected senders of VIP ARP seen passively: --expect-mac plus this host's own VIP interfaces.
 */
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import {finding, type Finding, type FindingId} from './finding.js';
import {distinctMacs, type AuditProtocol} from './observer.js';

/**
 * What differs between auditing ARP (IPv4 VIP) and Neighbor Discovery (IPv6 VIP) in the findings: their ids
 * (the A and N catalogues of lvs-dr.md), the words for what a host does, and the commands that fix it. On
 * Linux a real server answers NDP only for addresses on the receiving interface (no arp_ignore equivalent), so
 * every NDP fix moves the VIP to lo.
 */
export interface ProtocolWords {
  readonly protocol: AuditProtocol;
  /** More than one responder; a responder that is not expected; nobody answers; a foreign claim seen passively. */
  readonly ids: {readonly multiple: FindingId; readonly unexpected: FindingId; readonly silent: FindingId; readonly claim: FindingId};
  /** `answers who-has VIP` / `advertises VIP`, for one host or several. */
  answer(plural: boolean): string;
  /** The command a host that must stop answering for the VIP runs. */
  readonly stopAnswering: string;
  /** What the director runs when nobody holds the VIP. */
  readonly holdVip: string;
  /** The address a real server's packets carry that names the VIP's MAC. */
  readonly senderField: string;
}

export function protocolWords(protocol: AuditProtocol, vip: IpAddress): ProtocolWords {
  if (protocol === 'ARP') {
    return {
      protocol,
      ids: {multiple: 'A1', unexpected: 'A2', silent: 'A3', claim: 'A4'},
      answer: (plural) => `${plural ? 'answer' : 'answers'} who-has ${vip}`,
      stopAnswering: 'sysctl -w net.ipv4.conf.all.arp_ignore=1',
      holdVip: `ip addr add ${vip}/32 dev <its interface on this segment>`,
      senderField: 'sender MAC',
    };
  }
  return {
    protocol,
    ids: {multiple: 'N1', unexpected: 'N1', silent: 'N2', claim: 'N3'},
    answer: (plural) => `${plural ? 'advertise' : 'advertises'} ${vip}`,
    stopAnswering: `move ${vip} from its Ethernet interface to lo (ip -6 addr del ${vip}/<prefix> dev <interface>; ip -6 addr add ${vip}/128 dev lo)`,
    holdVip: `ip -6 addr add ${vip}/128 dev <its interface on this segment>`,
    senderField: 'link-layer address',
  };
}

export interface Expectation {
  /** MACs of this host's ARP-capable interfaces that hold the VIP. */
  readonly ownVipMacs: readonly MacAddress[];
  /** --expect-mac. */
  readonly expectMacs: readonly MacAddress[];
}

export function holdsVip(expectation: Expectation): boolean {
  return expectation.ownVipMacs.length > 0;
}

/** MACs allowed to answer our probes; undefined when nobody said (no --expect-mac, VIP not held here). */
export function expectedResponders(expectation: Expectation): readonly MacAddress[] | undefined {
  if (holdsVip(expectation)) return [];
  return expectation.expectMacs.length > 0 ? expectation.expectMacs : undefined;
}

/** MACs allowed to send ARP with the VIP as sender address; undefined when nobody said. */
export function expectedSenders(expectation: Expectation): readonly MacAddress[] | undefined {
  const macs = distinctMacs([...expectation.ownVipMacs, ...expectation.expectMacs]);
  return macs.length > 0 ? macs : undefined;
}

/** Finds the real server (--rs) that uses a MAC. */
export type RealServerOf = (mac: MacAddress) => IpAddress | undefined;

/** `02:00:00:00:00:11 (real server 198.51.100.11, <extra>)`, `02:00:00:00:00:02 (<extra>)` or the bare MAC. */
export function describeMac(mac: MacAddress, realServerOf: RealServerOf, extra?: string): string {
  const rip = realServerOf(mac);
  const notes = [...(rip ? [`real server ${rip}`] : []), ...(extra ? [extra] : [])];
  return notes.length > 0 ? `${mac} (${notes.join(', ')})` : mac.toString();
}

/** Where a fix must be run: `on 198.51.100.11`, or `on the host owning 02:...` when it is not named. */
export function fixLocation(mac: MacAddress, realServerOf: RealServerOf): string {
  const rip = realServerOf(mac);
  return rip ? `on ${rip}` : `on the host owning ${mac}`;
}

export interface FramedSender {
  readonly senderMac: MacAddress;
  readonly ethernetSource: MacAddress;
}

/**
 * A7: frames about the VIP whose Ethernet source differs from the ARP sender MAC. Caches learn the ARP sender,
 * switches the Ethernet source, so something between (a proxy, a bridge rewriting frames, a spoofer) speaks for
 * the host it names. One finding per distinct pair.
 */
export function ethernetMismatches(
  records: readonly FramedSender[],
  vip: IpAddress,
  realServerOf: RealServerOf,
  words: ProtocolWords = protocolWords('ARP', vip),
): Finding[] {
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const r of records) {
    if (r.ethernetSource.equals(r.senderMac)) continue;
    const key = `${r.ethernetSource}>${r.senderMac}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const count = records.filter((o) => o.ethernetSource.equals(r.ethernetSource) && o.senderMac.equals(r.senderMac)).length;
    findings.push(
      finding(
        'A7',
        `${count} ${words.protocol} packet(s) for ${vip} from Ethernet source ${describeMac(r.ethernetSource, realServerOf)} name ${describeMac(r.senderMac, realServerOf)} as ${words.senderField}`,
        {
          mac: r.ethernetSource,
          ip: realServerOf(r.ethernetSource),
          fix: `find what sends as ${r.ethernetSource} (a proxy-${words.protocol} host, a bridge rewriting frames, or a spoofer) and stop it answering for ${vip}`,
        },
      ),
    );
  }
  return findings;
}
