/**
 * BPF filter text built only from validated values (IpAddress objects and integer ports), never from raw
 * user strings, so nothing a user types can change the meaning of the filter.
 */
import type {IpAddress} from '../wire/address.js';

export type BpfExpression = string & {readonly __bpf: unique symbol};

function expr(text: string): BpfExpression {
  return text as BpfExpression;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
  return port;
}

export function arpFrames(): BpfExpression {
  return expr('arp');
}

/** ARP packets whose sender or target protocol address is one of `addresses` (IPv4 only; all ARP when empty). */
export function arpInvolving(addresses: readonly IpAddress[]): BpfExpression {
  if (addresses.length === 0) return arpFrames();
  for (const a of addresses) if (a.family !== 4) throw new RangeError(`ARP carries IPv4 addresses only, got ${a}`);
  return expr(addresses.map((a) => `(arp host ${a.toString()})`).join(' or '));
}

/** TCP segments of one flow as seen from the local end: from remote ip:port to our port. */
export function tcpFromPeer(remote: IpAddress, remotePort: number, localPort: number): BpfExpression {
  const family = remote.family === 4 ? 'ip' : 'ip6';
  return expr(
    `(${family} and tcp and src host ${remote.toString()} and src port ${checkPort(remotePort)} and dst port ${checkPort(localPort)})`,
  );
}

/** ICMPv6 (for NDP), any. */
export function icmp6(): BpfExpression {
  return expr('(icmp6)');
}

export function anyOf(...parts: BpfExpression[]): BpfExpression {
  return expr(parts.map((p) => `(${p})`).join(' or '));
}

/**
 * NDP Neighbor Advertisements (ICMPv6 type 136), in both directions (the link drops those with our own Ethernet
 * source, i.e. our kernel's). `ip6[40]` is the first byte after the fixed IPv6
 * header: BPF offsets do not follow extension headers, so an advertisement behind one (hop-by-hop, destination
 * options) is not captured. Linux never sends NDP that way, and libpcap's `icmp6`, which also matches ICMPv6
 * behind a fragment header, then reads the fragment header at byte 40, so fragmented NDP (to be ignored anyway,
 * RFC 6980) is not captured either. Hop limit, checksum and target are checked by the resolver, not here, so
 * that a trace can report an advertisement that fails them.
 */
export function ndpAdvertisements(): BpfExpression {
  return expr('(icmp6 and ip6[40] == 136)');
}

/** The frames that answer a neighbour resolution for an address of `family`: ARP for 4, NDP advertisements for 6. */
export function neighborAnswers(family: IpAddress['family']): BpfExpression {
  return family === 4 ? arpFrames() : ndpAdvertisements();
}
