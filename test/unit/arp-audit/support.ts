/**
 * Literal ARP frames and Linux-like ARP hosts on the in-memory wire, for the arp-audit tests. Addresses follow
 * the lab: director .2, real servers .11/.12, client (the auditing host) .50, VIP .100.
 */
import type {MemoryLink, MemoryWire} from '../../../src/core/link/memory-link.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import {ArpOperation, ArpPacket, buildArp, type ArpOperation as Op} from '../../../src/core/wire/arp.js';
import {EtherType, EthernetFrame, buildEthernet} from '../../../src/core/wire/ethernet.js';

export const mac = (text: string): MacAddress => MacAddress.parse(text)!;
export const ip = (text: string): IpAddress => IpAddress.parse(text)!;

export const VIP = ip('198.51.100.100');
export const DIRECTOR_IP = ip('198.51.100.2');
export const RS1 = ip('198.51.100.11');
export const RS2 = ip('198.51.100.12');
export const CLIENT_IP = ip('198.51.100.50');
export const DIRECTOR_MAC = mac('02:00:00:00:00:02');
export const BACKUP_MAC = mac('02:00:00:00:00:03');
export const RS1_MAC = mac('02:00:00:00:00:11');
export const RS2_MAC = mac('02:00:00:00:00:12');
export const AUDITOR_MAC = mac('02:00:00:00:00:50');
export const VMAC = mac('00:00:5e:00:01:33');

export interface ArpFrameSpec {
  op: Op;
  sha: MacAddress;
  spa: IpAddress;
  tha?: MacAddress;
  tpa: IpAddress;
  /** Default: sha. */
  ethSource?: MacAddress;
  /** Default: broadcast for requests, tha for replies. */
  ethDestination?: MacAddress;
}

export function arpFrame(spec: ArpFrameSpec): Buffer {
  const tha = spec.tha ?? MacAddress.ZERO;
  const arp = buildArp({operation: spec.op, senderMac: spec.sha, senderIp: spec.spa, targetMac: tha, targetIp: spec.tpa});
  const destination = spec.ethDestination ?? (spec.op === ArpOperation.Request ? MacAddress.BROADCAST : tha);
  return buildEthernet({destination, source: spec.ethSource ?? spec.sha, etherType: EtherType.ARP}, arp);
}

/** How Linux answers a request (a probe too): the addresses swapped, unicast to the asker. */
export function replyTo(request: ArpPacket, from: MacAddress): Buffer {
  return arpFrame({op: ArpOperation.Reply, sha: from, spa: request.targetIp, tha: request.senderMac, tpa: request.senderIp});
}

export function parseArp(frame: Buffer): {ethernet: EthernetFrame; arp: ArpPacket} | undefined {
  const ethernet = EthernetFrame.parse(frame);
  if (!ethernet.ok || ethernet.value.etherType !== EtherType.ARP) return undefined;
  const arp = ArpPacket.parse(ethernet.value.payload);
  return arp.ok ? {ethernet: ethernet.value, arp: arp.value} : undefined;
}

/**
 * A host whose kernel answers ARP requests (and RFC 5227 probes) for the addresses in `answers`: its RIP, plus
 * the VIP when it is a director or a real server with arp_ignore=0.
 */
export class ArpHost {
  readonly link: MemoryLink;
  requestsSeen = 0;

  constructor(
    wire: MemoryWire,
    readonly mac: MacAddress,
    readonly answers: IpAddress[],
  ) {
    this.link = wire.attach(`host-${mac}`, mac);
    this.link.onFrame((frame) => this.receive(frame));
  }

  private receive(frame: Buffer): void {
    const parsed = parseArp(frame);
    if (!parsed || parsed.arp.operation !== ArpOperation.Request) return;
    this.requestsSeen++;
    if (this.answers.some((a) => a.equals(parsed.arp.targetIp))) this.link.send(replyTo(parsed.arp, this.mac));
  }

  /** What a real server with arp_announce=0 sends when it answers a client from the VIP. */
  askFrom(senderIp: IpAddress, targetIp: IpAddress): void {
    this.link.send(arpFrame({op: ArpOperation.Request, sha: this.mac, spa: senderIp, tpa: targetIp}));
  }

  announce(address: IpAddress): void {
    this.link.send(arpFrame({op: ArpOperation.Request, sha: this.mac, spa: address, tpa: address}));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
