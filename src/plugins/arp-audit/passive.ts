/**
 * Passive mode, pure part: judges the VIP claims an observer recorded during the listening window. For an IPv6
 * VIP the same judgement gives N3 for A4 (and for another host's duplicate address detection of the VIP); A5,
 * about arp_announce, has no NDP counterpart (Linux solicits from the VIP only when the VIP is on the sending
 * interface, which N3 reports).
 * A4: a MAC that is not expected sent ARP with the VIP as sender address (every host caching the VIP now sends
 * to it), A5: that MAC is a real server and the packets were requests (its arp_announce is below 2, seed 003's
 * "Problem 3"), A6: the MAC claiming the VIP changed back and forth, A7: Ethernet source differs from the ARP
 * sender MAC.
 */
import type {Millis} from '../../core/time.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import {
  describeMac,
  ethernetMismatches,
  expectedSenders,
  fixLocation,
  protocolWords,
  type Expectation,
  type RealServerOf,
} from './attribution.js';
import {finding, type Finding} from './finding.js';
import {distinctMacs, includesMac, type AuditProtocol, type ClaimKind, type NeighborObserver, type VipClaim} from './observer.js';

export interface SenderSummary {
  readonly mac: MacAddress;
  readonly realServer: IpAddress | undefined;
  readonly counts: Readonly<Record<ClaimKind, number>>;
  /** Milliseconds from the start of the capture to this MAC's first claim. */
  readonly firstMs: number;
  /** False when it is not an expected sender; undefined when nobody said which MAC is right. */
  readonly expected: boolean | undefined;
}

export interface PassiveOutcome {
  readonly findings: Finding[];
  readonly claims: number;
  readonly senders: SenderSummary[];
  readonly foreignSenders: number;
  /** How often the MAC claiming the VIP changed. */
  readonly changes: number;
}

export interface PassiveJudgement {
  readonly observer: NeighborObserver;
  readonly expectation: Expectation;
  /** When the capture started (the observer's clock). */
  readonly startedAt: Millis;
}

export function classifyPassive({observer, expectation, startedAt}: PassiveJudgement): PassiveOutcome {
  const {vip} = observer.config;
  const {protocol} = observer;
  const words = protocolWords(protocol, vip);
  const claims = observer.claims;
  const realServerOf: RealServerOf = (mac) => observer.realServerOf(mac);
  const expected = expectedSenders(expectation);
  const macs = distinctMacs(claims.map((c) => c.senderMac));
  // Without an expectation only real servers are certainly wrong, unless other MACs contradict each other.
  const unnamed = macs.filter((m) => realServerOf(m) === undefined);
  const conflict = expected === undefined && unnamed.length >= 2;
  const isForeign = (mac: MacAddress) =>
    expected !== undefined ? !includesMac(expected, mac) : realServerOf(mac) !== undefined || conflict;

  const senders = macs.map((mac): SenderSummary => {
    const mine = claims.filter((c) => c.senderMac.equals(mac));
    return {
      mac,
      realServer: realServerOf(mac),
      counts: {
        request: mine.filter((c) => c.kind === 'request').length,
        reply: mine.filter((c) => c.kind === 'reply').length,
        gratuitous: mine.filter((c) => c.kind === 'gratuitous').length,
      },
      firstMs: Math.max(0, mine[0]!.at - startedAt),
      expected: expected === undefined && realServerOf(mac) === undefined && !conflict ? undefined : !isForeign(mac),
    };
  });

  const findings: Finding[] = [];
  for (const s of senders.filter((x) => isForeign(x.mac))) {
    const mine = claims.filter((c) => c.senderMac.equals(s.mac));
    const why = conflict && !s.realServer ? ` (${unnamed.length} MACs claim ${vip}: give --expect-mac to say which is right)` : '';
    findings.push(
      finding(words.ids.claim, `${describeMac(s.mac, realServerOf)} sent ${mine.length} ${protocol} packet(s) ${protocol === 'ARP' ? 'with sender' : 'for'} ${vip}: ${describeKinds(mine, vip, protocol)}${why}`, {
        mac: s.mac,
        ip: s.realServer,
        fix: `${fixLocation(s.mac, realServerOf)}: ${causeFix(s.counts, vip, protocol)}`,
      }),
    );
    if (protocol === 'ARP' && s.realServer && s.counts.request > 0) {
      const example = mine.find((c) => c.kind === 'request')!;
      findings.push(
        finding(
          'A5',
          `real server ${s.realServer} (${s.mac}) sends ARP requests with ${vip} as sender address (${s.counts.request}, e.g. who-has ${example.targetIp} tell ${vip}): its arp_announce is below 2`,
          {mac: s.mac, ip: s.realServer, fix: `on ${s.realServer}: sysctl -w net.ipv4.conf.all.arp_announce=2`},
        ),
      );
    }
  }

  const runs = claimRuns(claims);
  if (runs.length >= 3) {
    findings.push(
      finding('A6', `the MAC claiming ${vip} changed ${runs.length - 1} times: ${runs.map((m) => describeMac(m, realServerOf)).join(' -> ')}`, {
        ip: vip,
        fix: `make exactly one host claim ${vip}: stop the foreign senders (see A4), or resolve the directors' VRRP split brain`,
      }),
    );
  }
  findings.push(...ethernetMismatches(claims, vip, realServerOf, words));
  // Duplicate address detection for the VIP by another host (N3): it is configuring the VIP on an NDP-capable
  // interface, and takes it over whenever the director does not defend it. (RFC 5227 probes for an IPv4 VIP
  // are only counted: the A catalogue has no finding for them.)
  if (protocol === 'NDP') {
    for (const mac of observer.foreignProbeSenders.filter((m) => expected === undefined || !includesMac(expected, m))) {
      findings.push(
        finding('N3', `${describeMac(mac, realServerOf)} ran duplicate address detection for ${vip}: it is configuring the VIP on an NDP-capable interface`, {
          mac,
          ip: realServerOf(mac),
          fix: `${fixLocation(mac, realServerOf)}: ${words.stopAnswering}`,
        }),
      );
    }
  }
  return {
    findings,
    claims: claims.length,
    senders,
    foreignSenders: senders.filter((s) => s.expected === false).length,
    changes: Math.max(0, runs.length - 1),
  };
}

/** The sequence of claiming MACs with consecutive repeats collapsed: [X, Y, X] is a flip-flop. */
export function claimRuns(claims: readonly VipClaim[]): MacAddress[] {
  const runs: MacAddress[] = [];
  for (const c of claims) if (!runs[runs.length - 1]?.equals(c.senderMac)) runs.push(c.senderMac);
  return runs;
}

function describeKinds(claims: readonly VipClaim[], vip: IpAddress, protocol: AuditProtocol): string {
  const parts: string[] = [];
  const requests = claims.filter((c) => c.kind === 'request');
  const replies = claims.filter((c) => c.kind === 'reply').length;
  const gratuitous = claims.filter((c) => c.kind === 'gratuitous').length;
  if (protocol === 'ARP') {
    if (requests.length > 0) parts.push(`${requests.length} request(s) (e.g. who-has ${requests[0]!.targetIp} tell ${vip})`);
    if (replies > 0) parts.push(`${replies} reply(ies)`);
    if (gratuitous > 0) parts.push(`${gratuitous} gratuitous`);
  } else {
    if (requests.length > 0) parts.push(`${requests.length} solicitation(s) from ${vip} (e.g. for ${requests[0]!.targetIp})`);
    if (replies > 0) parts.push(`${replies} solicited advertisement(s)`);
    if (gratuitous > 0) parts.push(`${gratuitous} unsolicited advertisement(s)`);
  }
  return parts.join(', ');
}

/** The setting behind the packets it sent: requests = arp_announce, replies = arp_ignore, announcements = the VIP on an ARP interface. */
function causeFix(counts: Readonly<Record<ClaimKind, number>>, vip: IpAddress, protocol: AuditProtocol): string {
  if (protocol === 'NDP') return protocolWords(protocol, vip).stopAnswering;
  const commands: string[] = [];
  if (counts.request > 0) commands.push('sysctl -w net.ipv4.conf.all.arp_announce=2');
  if (counts.reply > 0) commands.push('sysctl -w net.ipv4.conf.all.arp_ignore=1');
  if (counts.gratuitous > 0) commands.push(`move ${vip} off its ARP-capable interface (ip addr add ${vip}/32 dev lo) or stop what announces it`);
  return commands.join('; ');
}
