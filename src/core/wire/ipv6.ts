/**
 * IPv6 packets (RFC 8200) and a bounded walk over their extension headers.
 *
 * The payload length, not the buffer length, bounds the payload (Ethernet padding again). The walk follows
 * hop-by-hop, routing, fragment and destination-options headers to the upper layer, at most
 * MAX_EXTENSION_HEADERS of them: a chain of tiny headers is a classic way to hide a packet from filters or to
 * burn a parser's time, and no legitimate packet needs more than a handful. Anything else (ESP, AH, no next
 * header, an unknown number) ends the walk and is reported as the upper-layer protocol.
 */
import {zeroedBuffer} from './bytes.js';
import {IpAddress} from './address.js';
import type {IpPacketView} from './ip.js';
import {fail, ok, type Parsed} from './parsed.js';
import {truncated} from './text.js';

export const Ipv6ExtensionHeader = {HopByHop: 0, Routing: 43, Fragment: 44, DestinationOptions: 60} as const;

export interface Ipv6Repr {
  source: IpAddress;
  destination: IpAddress;
  /** The upper-layer protocol; buildIpv6 emits no extension headers. */
  nextHeader: number;
  /** Default 64, Linux's default. */
  hopLimit?: number;
  /** Default 0. */
  trafficClass?: number;
  /** Default 0. Linux hashes the flow into a label; a check may leave it 0. */
  flowLabel?: number;
}

// Field offsets in the fixed 40-byte header.
const field = {versionClassFlow: 0, payloadLength: 4, nextHeader: 6, hopLimit: 7, source: 8, destination: 24} as const;

const FRAGMENT_HEADER_LENGTH = 8;
const MAX_PAYLOAD_LENGTH = 0xffff;

/** Where the upper layer starts, found once by parse so that accessors cannot fail. */
interface UpperLayer {
  protocol: number;
  offset: number;
  isFragment: boolean;
  extensionHeaders: readonly number[];
}

export class Ipv6Packet implements IpPacketView {
  static readonly HEADER_LENGTH = 40;
  static readonly MAX_EXTENSION_HEADERS = 8;

  readonly family = 6 as const;

  private constructor(
    /** Fixed header, extension headers and payload, cut to the payload length. Not copied. */
    readonly bytes: Buffer,
    private readonly upper: UpperLayer,
  ) {}

  static parse(bytes: Buffer): Parsed<Ipv6Packet> {
    const fixed = Ipv6Packet.HEADER_LENGTH;
    if (bytes.length < fixed) return fail(truncated('IPv6 header', fixed, bytes.length));
    const version = bytes[field.versionClassFlow]! >> 4;
    if (version !== 6) return fail(`IP version ${version} in an IPv6 packet`);
    const totalLength = fixed + effectivePayloadLength(bytes);
    if (totalLength > bytes.length) return fail(truncated('IPv6 packet', totalLength, bytes.length));
    const packet = bytes.subarray(0, totalLength);
    const upper = findUpperLayer(packet);
    return upper.ok ? ok(new Ipv6Packet(packet, upper.value)) : upper;
  }

  get trafficClass(): number {
    return (this.bytes.readUInt32BE(field.versionClassFlow) >>> 20) & 0xff;
  }

  get flowLabel(): number {
    return this.bytes.readUInt32BE(field.versionClassFlow) & 0xfffff;
  }

  /** Bytes after the fixed header: extension headers plus upper-layer data. */
  get payloadLength(): number {
    return this.bytes.length - Ipv6Packet.HEADER_LENGTH;
  }

  /** The Next Header field of the fixed header (the first extension header, if any). */
  get nextHeader(): number {
    return this.bytes[field.nextHeader]!;
  }

  get hopLimit(): number {
    return this.bytes[field.hopLimit]!;
  }

  get source(): IpAddress {
    return IpAddress.fromBytes(this.bytes, field.source, 6);
  }

  get destination(): IpAddress {
    return IpAddress.fromBytes(this.bytes, field.destination, 6);
  }

  /** Extension header types walked through, in order (empty for a plain packet). */
  get extensionHeaders(): readonly number[] {
    return this.upper.extensionHeaders;
  }

  /** The upper-layer protocol after all extension headers. */
  get protocol(): number {
    return this.upper.protocol;
  }

  /** True when a fragment header says this is a piece (offset > 0 or more to come), not a whole packet. */
  get isFragment(): boolean {
    return this.upper.isFragment;
  }

  /** Upper-layer bytes after the extension headers. */
  get payload(): Buffer {
    return this.bytes.subarray(this.upper.offset);
  }

  /** The fields buildIpv6 emits: the upper layer directly after the fixed header. */
  toRepr(): Ipv6Repr {
    return {
      source: this.source,
      destination: this.destination,
      nextHeader: this.protocol,
      hopLimit: this.hopLimit,
      trafficClass: this.trafficClass,
      flowLabel: this.flowLabel,
    };
  }
}

/**
 * The payload length to trust. As for IPv4 (see ipv4.ts), a GSO packet above 64 KiB captured on the sending host
 * has payload length 0 (RFC 2675 jumbogram style, without the hop-by-hop option); take the buffer then.
 */
function effectivePayloadLength(bytes: Buffer): number {
  const stored = bytes.readUInt16BE(field.payloadLength);
  const available = bytes.length - Ipv6Packet.HEADER_LENGTH;
  return stored === 0 && available > MAX_PAYLOAD_LENGTH ? available : stored;
}

const walkable = new Set<number>(Object.values(Ipv6ExtensionHeader));

function findUpperLayer(packet: Buffer): Parsed<UpperLayer> {
  const extensionHeaders: number[] = [];
  let protocol = packet[field.nextHeader]!;
  let offset = Ipv6Packet.HEADER_LENGTH;
  let isFragment = false;
  while (walkable.has(protocol)) {
    if (extensionHeaders.length === Ipv6Packet.MAX_EXTENSION_HEADERS) {
      return fail(`more than ${Ipv6Packet.MAX_EXTENSION_HEADERS} IPv6 extension headers`);
    }
    // RFC 8200 4.1: hop-by-hop options may only come first; Linux drops the packet otherwise.
    if (protocol === Ipv6ExtensionHeader.HopByHop && extensionHeaders.length > 0) {
      return fail('IPv6 hop-by-hop header not directly after the fixed header');
    }
    // Every extension header is at least 8 bytes and starts with Next Header and (except fragment) its length.
    if (packet.length - offset < 8) return fail(`IPv6 extension header ${protocol} runs past the payload`);
    const length = protocol === Ipv6ExtensionHeader.Fragment ? FRAGMENT_HEADER_LENGTH : (packet[offset + 1]! + 1) * 8;
    if (packet.length - offset < length) return fail(`IPv6 extension header ${protocol} runs past the payload`);
    extensionHeaders.push(protocol);
    const next = packet[offset]!;
    if (protocol === Ipv6ExtensionHeader.Fragment) {
      const offsetAndFlags = packet.readUInt16BE(offset + 2);
      const fragmentOffset = offsetAndFlags >> 3;
      isFragment = fragmentOffset !== 0 || (offsetAndFlags & 1) === 1;
      // A later fragment carries data, not headers: the next-header value names the protocol, nothing to walk.
      if (fragmentOffset !== 0) return ok({protocol: next, offset: offset + length, isFragment, extensionHeaders});
    }
    protocol = next;
    offset += length;
  }
  return ok({protocol, offset, isFragment, extensionHeaders});
}

/** Emits the 40-byte fixed header followed by `payload` (no extension headers). */
export function buildIpv6(repr: Ipv6Repr, payload: Uint8Array): Buffer {
  if (repr.source.family !== 6 || repr.destination.family !== 6) {
    throw new TypeError(`IPv6 packet with non-IPv6 address: ${repr.source} > ${repr.destination}`);
  }
  if (payload.length > MAX_PAYLOAD_LENGTH) {
    throw new RangeError(`IPv6 payload of ${payload.length} bytes exceeds 65535`);
  }
  const packet = zeroedBuffer(Ipv6Packet.HEADER_LENGTH + payload.length);
  const versionClassFlow = (6 << 28) | (((repr.trafficClass ?? 0) & 0xff) << 20) | ((repr.flowLabel ?? 0) & 0xfffff);
  packet.writeUInt32BE(versionClassFlow >>> 0, field.versionClassFlow);
  packet.writeUInt16BE(payload.length, field.payloadLength);
  packet[field.nextHeader] = repr.nextHeader;
  packet[field.hopLimit] = repr.hopLimit ?? 64;
  repr.source.writeTo(packet, field.source);
  repr.destination.writeTo(packet, field.destination);
  packet.set(payload, Ipv6Packet.HEADER_LENGTH);
  return packet;
}
