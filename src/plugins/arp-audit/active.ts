/**
 * Active mode, pure part: the RFC 5227 probe we broadcast, and the judgement of the responses an observer
 * collected. A1: more than one MAC answers (this host counts as one when it holds the VIP), A2: a responder that
 * is not expected, A3: nobody answers although someone should, A7: a response whose Ethernet source is not its
 * ARP sender. For an IPv6 VIP (NdpObserver) the same judgement gives N1 for A1 and A2, N2 for A3.
 */
import type {Millis} from '../../core/time.js';
import {buildArpRequest} from '../../core/neighbor/arp-resolver.js';
import {IpAddress, type MacAddress} from '../../core/wire/address.js';
import {
  describeMac,
  ethernetMismatches,
  expectedResponders,
  fixLocation,
  holdsVip,
  protocolWords,
  type Expectation,
  type ProtocolWords,
  type RealServerOf,
} from './attribution.js';
import {finding, type Finding} from './finding.js';
import {distinctMacs, includesMac, type NeighborObserver} from './observer.js';

/**
 * An RFC 5227 probe: broadcast who-has `target` from sender IP 0.0.0.0. Every holder of `target` answers it
 * (subject to its arp_ignore), and since the sender IP is unspecified no host adds or updates a cache entry.
 */
export function buildProbe(ownMac: MacAddress, target: IpAddress): Buffer {
  return buildArpRequest(ownMac, IpAddress.V4_ANY, target);
}

export interface ResponderSummary {
  readonly mac: MacAddress;
  readonly realServer: IpAddress | undefined;
  /** Probe numbers (1-based) this MAC answered. */
  readonly rounds: readonly number[];
  readonly responses: number;
  /** Milliseconds from the first probe to this MAC's first response. */
  readonly firstMs: number;
  /** False when it is not an expected responder; undefined when nothing is expected (no --expect-mac). */
  readonly expected: boolean | undefined;
}

export interface ActiveOutcome {
  readonly findings: Finding[];
  readonly probes: number;
  readonly responders: ResponderSummary[];
  /** Time and probe number of the first response from an unexpected MAC, if any. */
  readonly firstForeign: {readonly ms: number; readonly round: number} | undefined;
}

export interface ActiveJudgement {
  readonly observer: NeighborObserver;
  readonly expectation: Expectation;
  readonly interfaceName: string;
  /** Length of the probing window, for the A3 message. */
  readonly windowMs: Millis;
}

export function classifyActive({observer, expectation, interfaceName, windowMs}: ActiveJudgement): ActiveOutcome {
  const {vip, ownMac} = observer.config;
  const words = protocolWords(observer.protocol, vip);
  const realServerOf: RealServerOf = (mac) => observer.realServerOf(mac);
  const probes = observer.probeTimes.length;
  const start = observer.probeTimes[0] ?? 0;
  const expected = expectedResponders(expectation);
  const isForeign = (mac: MacAddress) =>
    expected !== undefined ? !includesMac(expected, mac) : realServerOf(mac) !== undefined;

  const responders = distinctMacs(observer.responses.map((r) => r.senderMac)).map((mac): ResponderSummary => {
    const mine = observer.responses.filter((r) => r.senderMac.equals(mac));
    return {
      mac,
      realServer: realServerOf(mac),
      rounds: [...new Set(mine.map((r) => r.round))].sort((a, b) => a - b),
      responses: mine.length,
      firstMs: Math.max(0, mine[0]!.at - start),
      expected: expected === undefined && realServerOf(mac) === undefined ? undefined : !isForeign(mac),
    };
  });

  const findings: Finding[] = [];
  const self = holdsVip(expectation);
  const answering = responders.length + (self ? 1 : 0);
  const list = responders.map((r) => describeMac(r.mac, realServerOf, `${r.rounds.length}/${probes} probes`)).join(', ');
  const expectedAnswered = expected !== undefined && responders.some((r) => includesMac(expected, r.mac));
  const unexpected = responders.filter((x) => isForeign(x.mac)).map((r) => {
    const why = self
      ? 'although this host holds the VIP'
      : expected !== undefined
        ? `not an expected MAC (${expected.join(', ')}${expectedAnswered ? '' : ', which did not answer'})`
        : 'and real servers must never answer for the VIP';
    return finding(words.ids.unexpected, `${describeMac(r.mac, realServerOf, `${r.rounds.length}/${probes} probes`)} ${words.answer(false)}, ${why}`, {
      mac: r.mac,
      ip: r.realServer,
      fix: foreignResponderFix(r.mac, r.realServer, vip, realServerOf, words),
    });
  });
  // NDP has one id (N1) for both facts: the responders are then reported once, by name when they can be.
  const sameId = words.ids.multiple === words.ids.unexpected;
  if (answering > 1 && !(sameId && unexpected.length > 0)) {
    findings.push(
      finding(
        words.ids.multiple,
        self
          ? `${responders.length === 1 ? 'another MAC' : `${responders.length} other MACs`} ${words.answer(responders.length > 1)} although this host (${ownMac}) holds it: ${list}`
          : `${responders.length} MACs ${words.answer(true)}: ${list}`,
        {ip: vip, fix: `on every responder that is not the director: ${words.stopAnswering}`},
      ),
    );
  }
  findings.push(...unexpected);
  if (!self && responders.length === 0 && probes > 0) {
    findings.push(
      finding(words.ids.silent, `nobody answered ${probes} probe(s) for ${vip} on ${interfaceName} within ${(windowMs / 1000).toFixed(1)} s: no host holds the VIP on this segment`, {
        ip: vip,
        fix: `on the active director: ${words.holdVip} (or find why keepalived holds no VRRP MASTER)`,
      }),
    );
  }
  findings.push(...ethernetMismatches(observer.responses, vip, realServerOf, words));

  const firstForeignResponse = observer.responses.find((r) => isForeign(r.senderMac));
  return {
    findings,
    probes,
    responders,
    firstForeign: firstForeignResponse
      ? {ms: Math.max(0, firstForeignResponse.at - start), round: firstForeignResponse.round}
      : undefined,
  };
}

function foreignResponderFix(mac: MacAddress, rip: IpAddress | undefined, vip: IpAddress, realServerOf: RealServerOf, words: ProtocolWords): string {
  const command = words.stopAnswering;
  if (rip) return `${fixLocation(mac, realServerOf)}: ${command}`;
  return `${fixLocation(mac, realServerOf)}: ${command} if it is a real server; if it is another director, remove ${vip} from it (split brain)`;
}
