/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443) Destination Unreachable, read for the datagram they quote: the start of
 * the packet that could not be delivered (its IP header and at least the first 8 bytes after it, which hold a
 * UDP or TCP header's ports). That quote is how a "port unreachable" is matched to the flow that caused it.
 *
 * The quote is usually truncated, so it is read field by field rather than with Ipv4Packet/Ipv6Packet.parse,
 * whose length checks it would fail. An IPv6 quote whose next header is an extension header is not followed
 * (Linux sends UDP without one). The ICMP checksum is the link's frame-integrity gate's business.
 */
import {IpAddress, type IpFamily} from './address.js';
import {IpProtocol, type IpPacketView} from './ip.js';
import {Ipv6Packet} from './ipv6.js';
import {fail, ok, type Parsed} from './parsed.js';
import {truncated} from './text.js';

/** ICMPv4 type 3 codes (RFC 792, RFC 1122). */
export const Icmpv4UnreachableCode = {Network: 0, Host: 1, Protocol: 2, Port: 3, FragmentationNeeded: 4, AdministrativelyProhibited: 13} as const;
/** ICMPv6 type 1 codes (RFC 4443 section 3.1). */
export const Icmpv6UnreachableCode = {NoRoute: 0, AdministrativelyProhibited: 1, BeyondScope: 2, Address: 3, Port: 4, Policy: 5, RejectRoute: 6} as const;

/** The ICMP types of "destination unreachable" (RFC 792, RFC 4443); the link layer's filters use them too. */
export const ICMPV4_DESTINATION_UNREACHABLE = 3;
export const ICMPV6_DESTINATION_UNREACHABLE = 1;
const ICMP_HEADER = 8;

/** What the quoted packet says about itself: the flow it belonged to. */
export interface QuotedPacket {
  readonly source: IpAddress;
  readonly destination: IpAddress;
  readonly protocol: number;
  readonly sourcePort: number;
  readonly destinationPort: number;
}

export interface DestinationUnreachable {
  readonly family: IpFamily;
  /** Who sent the error: the server itself for a closed port, a router for the others. */
  readonly reporter: IpAddress;
  readonly code: number;
  /** The port was unreachable: the host is there and nothing listens (UDP's "connection refused"). */
  readonly portUnreachable: boolean;
  readonly quoted: QuotedPacket;
}

/**
 * The Destination Unreachable in `ip` (an ICMP or ICMPv6 packet), or a failure for any other message or a quote
 * too short to name ports.
 */
export function parseDestinationUnreachable(ip: IpPacketView): Parsed<DestinationUnreachable> {
  const bytes = ip.payload;
  if (bytes.length < ICMP_HEADER) return fail(truncated('ICMP header', ICMP_HEADER, bytes.length));
  const [type, code] = [bytes[0]!, bytes[1]!];
  const quote = bytes.subarray(ICMP_HEADER);
  if (ip.family === 4) {
    if (ip.protocol !== IpProtocol.ICMP || type !== ICMPV4_DESTINATION_UNREACHABLE) return fail(`not an ICMP destination unreachable (type ${type})`);
    const quoted = quotedIpv4(quote);
    if (!quoted.ok) return quoted;
    return ok({family: 4, reporter: ip.source, code, portUnreachable: code === Icmpv4UnreachableCode.Port, quoted: quoted.value});
  }
  if (ip.protocol !== IpProtocol.ICMPv6 || type !== ICMPV6_DESTINATION_UNREACHABLE) return fail(`not an ICMPv6 destination unreachable (type ${type})`);
  const quoted = quotedIpv6(quote);
  if (!quoted.ok) return quoted;
  return ok({family: 6, reporter: ip.source, code, portUnreachable: code === Icmpv6UnreachableCode.Port, quoted: quoted.value});
}

function quotedIpv4(quote: Buffer): Parsed<QuotedPacket> {
  if (quote.length < 20) return fail(truncated('quoted IPv4 header', 20, quote.length));
  if (quote[0]! >> 4 !== 4) return fail(`quoted packet is IPv${quote[0]! >> 4}, not IPv4`);
  const headerLength = (quote[0]! & 0x0f) * 4;
  if (headerLength < 20) return fail(`quoted IPv4 header length ${headerLength} is below 20`);
  if (quote.length < headerLength + 4) return fail(truncated('quoted IPv4 packet with ports', headerLength + 4, quote.length));
  if ((quote.readUInt16BE(6) & 0x1fff) !== 0) return fail('quoted IPv4 packet is a non-first fragment (no ports)');
  return ok(quotedFlow(quote, 4, {addresses: 12, protocol: 9, ports: headerLength}));
}

function quotedIpv6(quote: Buffer): Parsed<QuotedPacket> {
  if (quote.length < Ipv6Packet.HEADER_LENGTH + 4) return fail(truncated('quoted IPv6 packet with ports', Ipv6Packet.HEADER_LENGTH + 4, quote.length));
  if (quote[0]! >> 4 !== 6) return fail(`quoted packet is IPv${quote[0]! >> 4}, not IPv6`);
  return ok(quotedFlow(quote, 6, {addresses: 8, protocol: 6, ports: Ipv6Packet.HEADER_LENGTH}));
}

/** The flow named by a quote whose length was checked: both addresses from `at.addresses` on, then the ports. */
function quotedFlow(quote: Buffer, family: IpFamily, at: {addresses: number; protocol: number; ports: number}): QuotedPacket {
  const length = family === 4 ? 4 : 16;
  return {
    source: IpAddress.fromBytes(quote, at.addresses, family),
    destination: IpAddress.fromBytes(quote, at.addresses + length, family),
    protocol: quote[at.protocol]!,
    sourcePort: quote.readUInt16BE(at.ports),
    destinationPort: quote.readUInt16BE(at.ports + 2),
  };
}
