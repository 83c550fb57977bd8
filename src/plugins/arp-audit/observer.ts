/**
 * The sans-IO heart of the active and passive modes: captured frames and their time stamps go in, a record of
 * who said what about the VIP (and about the real servers' addresses) comes out. No timers, no sockets; the
 * capture driver (capture.ts) feeds it and the classifiers (active.ts, passive.ts) judge the record.
 *
 * Every ARP packet is sorted into one of:
 * - a response to one of our probes: a reply with sender IP = VIP and target IP 0.0.0.0 (RFC 826 answers a
 *   probe by swapping the addresses, so the target is the probe's 0.0.0.0), addressed to us or broadcast,
 *   while probes are out;
 * - a VIP claim: any other packet whose sender IP is the VIP (reply, request, gratuitous announcement). Each
 *   writes the sender MAC into the cache of every host that already knows the VIP;
 * - a sighting of a real server: any packet whose sender IP is a --rs address names that address's MAC;
 * - a probe for the VIP by someone else (RFC 5227 duplicate detection, or another audit), counted.
 * Malformed frames are counted and otherwise ignored: capture input is hostile.
 */
import type {Millis} from '../../core/time.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import {ArpOperation, ArpPacket} from '../../core/wire/arp.js';
import {EthernetFrame, EtherType} from '../../core/wire/ethernet.js';

export type ClaimKind = 'reply' | 'request' | 'gratuitous';

export interface ProbeResponse {
  readonly at: Millis;
  /** 1-based number of the probe most recently sent when the response arrived. */
  readonly round: number;
  readonly senderMac: MacAddress;
  readonly ethernetSource: MacAddress;
}

export interface VipClaim {
  readonly at: Millis;
  readonly kind: ClaimKind;
  readonly senderMac: MacAddress;
  readonly ethernetSource: MacAddress;
  /** For requests: whom the sender asked for (the client, the gateway...). */
  readonly targetIp: IpAddress;
}

export interface ObserverConfig {
  readonly vip: IpAddress;
  /** The MAC our probes carry; responses must be addressed to it (or broadcast). */
  readonly ownMac: MacAddress;
  /** Real server addresses (--rs) whose MACs name offenders. */
  readonly rips: readonly IpAddress[];
}

/** The protocol an audit speaks: ARP for an IPv4 VIP, Neighbor Discovery for an IPv6 one. */
export type AuditProtocol = 'ARP' | 'NDP';

/**
 * What the capture driver feeds and the classifiers judge, whichever protocol recorded it: the record and the
 * bookkeeping are shared here, each protocol's observer sorts its own frames into it (ArpObserver below,
 * NdpObserver in ndp-observer.ts).
 */
export abstract class NeighborObserver {
  abstract readonly protocol: AuditProtocol;
  readonly probeTimes: Millis[] = [];
  readonly responses: ProbeResponse[] = [];
  readonly claims: VipClaim[] = [];
  /** Duplicate-detection probes for the VIP sent by other hosts (RFC 5227 for ARP, DAD for NDP). */
  foreignProbes = 0;
  /** Their senders, in first-seen order. */
  readonly foreignProbeSenders: MacAddress[] = [];
  /** Frames a receiving host would not accept (malformed, or failing the protocol's checks). */
  malformed = 0;
  frames = 0;
  private readonly ripMacs = new Map<string, MacAddress[]>();

  constructor(readonly config: ObserverConfig) {}

  /** Sorts one captured frame into the record. Never throws: capture input is hostile. */
  abstract observe(frame: Buffer, at: Millis): void;

  /** Records that probe number probeTimes.length + 1 went out at `at`. */
  probeSent(at: Millis): void {
    this.probeTimes.push(at);
  }

  /** Declares a real server address's MAC known (seen on the wire, or local to this host). */
  knowRealServer(rip: IpAddress, mac: MacAddress): void {
    if (mac.isZero || mac.isMulticast) return;
    const known = this.ripMacs.get(rip.toString()) ?? [];
    if (!known.some((m) => m.equals(mac))) this.ripMacs.set(rip.toString(), [...known, mac]);
  }

  /** The real server (--rs address) owning `mac`, if one was seen using it. */
  realServerOf(mac: MacAddress): IpAddress | undefined {
    return this.config.rips.find((rip) => this.macsOf(rip).some((m) => m.equals(mac)));
  }

  macsOf(rip: IpAddress): readonly MacAddress[] {
    return this.ripMacs.get(rip.toString()) ?? [];
  }

  unresolvedRealServers(): IpAddress[] {
    return this.config.rips.filter((r) => this.macsOf(r).length === 0);
  }

  protected foreignProbeFrom(mac: MacAddress): void {
    this.foreignProbes++;
    if (!includesMac(this.foreignProbeSenders, mac)) this.foreignProbeSenders.push(mac);
  }

  /** 1-based number of the probe most recently sent at `at`. */
  protected roundAt(at: Millis): number {
    let round = 1;
    for (let i = 0; i < this.probeTimes.length; i++) if (this.probeTimes[i]! <= at) round = i + 1;
    return round;
  }
}

export class ArpObserver extends NeighborObserver {
  readonly protocol = 'ARP';

  observe(frame: Buffer, at: Millis): void {
    this.frames++;
    const ethernet = EthernetFrame.parse(frame);
    if (!ethernet.ok || ethernet.value.etherType !== EtherType.ARP) {
      this.malformed++;
      return;
    }
    const parsed = ArpPacket.parse(ethernet.value.payload);
    if (!parsed.ok) {
      this.malformed++;
      return;
    }
    const eth = ethernet.value;
    const arp = parsed.value;
    const {vip, ownMac} = this.config;
    const senderIp = arp.senderIp;
    const senderMac = arp.senderMac;
    if (this.config.rips.some((r) => r.equals(senderIp))) this.knowRealServer(senderIp, senderMac);
    if (arp.isProbe) {
      if (arp.targetIp.equals(vip) && !eth.source.equals(ownMac)) this.foreignProbeFrom(senderMac);
      return;
    }
    if (!senderIp.equals(vip)) return;
    const toUs = eth.destination.equals(ownMac) || eth.destination.isBroadcast || arp.targetMac.equals(ownMac);
    if (arp.operation === ArpOperation.Reply && arp.targetIp.isUnspecified && toUs && this.probeTimes.length > 0) {
      this.responses.push({at, round: this.roundAt(at), senderMac, ethernetSource: eth.source});
      return;
    }
    const kind: ClaimKind = arp.isGratuitous ? 'gratuitous' : arp.operation === ArpOperation.Reply ? 'reply' : 'request';
    this.claims.push({at, kind, senderMac, ethernetSource: eth.source, targetIp: arp.targetIp});
  }
}

/** Distinct MACs in first-seen order. */
export function distinctMacs(macs: Iterable<MacAddress>): MacAddress[] {
  const out: MacAddress[] = [];
  for (const mac of macs) if (!out.some((m) => m.equals(mac))) out.push(mac);
  return out;
}

export function includesMac(list: readonly MacAddress[], mac: MacAddress): boolean {
  return list.some((m) => m.equals(mac));
}
