/**
 * The family-generic face of IPv4 and IPv6: what the rest of vipcheck needs from an IP packet, whatever its
 * family. Ipv4Packet and Ipv6Packet both implement IpPacketView, so a caller that needs family-specific fields
 * can narrow with `instanceof`.
 */
import type {IpAddress, IpFamily} from './address.js';
import {EtherType} from './ethernet.js';
import {buildIpv4, Ipv4Packet} from './ipv4.js';
import {buildIpv6, Ipv6Packet} from './ipv6.js';
import {fail, type Parsed} from './parsed.js';
import {hex} from './text.js';

export const IpProtocol = {ICMP: 1, IPIP: 4, TCP: 6, UDP: 17, IPv6: 41, GRE: 47, ICMPv6: 58} as const;

export interface IpPacketView {
  readonly family: IpFamily;
  readonly source: IpAddress;
  readonly destination: IpAddress;
  /** The upper-layer protocol (for IPv6, after the extension headers). */
  readonly protocol: number;
  /** Hop limit, or TTL for IPv4. */
  readonly hopLimit: number;
  /** Upper-layer bytes, bounded by the IP length fields (Ethernet padding excluded). */
  readonly payload: Buffer;
  /** True for a fragment: the payload is then only part of an upper-layer packet. */
  readonly isFragment: boolean;
}

/** Parses the payload of an Ethernet frame of type IPv4 or IPv6. */
export function parseIpPacket(etherType: number, bytes: Buffer): Parsed<IpPacketView> {
  switch (etherType) {
    case EtherType.IPv4:
      return Ipv4Packet.parse(bytes);
    case EtherType.IPv6:
      return Ipv6Packet.parse(bytes);
    default:
      return fail(`EtherType ${hex(etherType)} is not IP`);
  }
}

export interface IpRepr {
  family: IpFamily;
  source: IpAddress;
  destination: IpAddress;
  protocol: number;
  /** TTL for IPv4. Default 64. */
  hopLimit?: number;
  /** IPv4 only. Default 0. */
  identification?: number;
  /** IPv4 only. Default true. */
  dontFragment?: boolean;
  /** IPv6 only. Default 0. */
  flowLabel?: number;
}

/** The EtherType that carries packets of `family`. */
export function ipEtherType(family: IpFamily): number {
  return family === 4 ? EtherType.IPv4 : EtherType.IPv6;
}

/** Emits an IPv4 or IPv6 packet; addresses of another family than `repr.family` are a programming error (throws). */
export function buildIpPacket(repr: IpRepr, payload: Uint8Array): Buffer {
  if (repr.source.family !== repr.family || repr.destination.family !== repr.family) {
    throw new TypeError(`IPv${repr.family} packet with addresses ${repr.source} > ${repr.destination}`);
  }
  const {source, destination, protocol, hopLimit} = repr;
  if (repr.family === 4) {
    const {identification, dontFragment} = repr;
    return buildIpv4({source, destination, protocol, ttl: hopLimit, identification, dontFragment}, payload);
  }
  return buildIpv6({source, destination, nextHeader: protocol, hopLimit, flowLabel: repr.flowLabel}, payload);
}
