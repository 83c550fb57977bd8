/**
 * IPv4 packets (RFC 791).
 *
 * Length rules: the header length (IHL) must fit the buffer and the total length must cover the header and fit
 * the buffer. The total length, not the buffer length, bounds the payload, because frames shorter than 60 bytes
 * arrive zero-padded by the sender's NIC and that padding is not payload.
 *
 * A bad header checksum is a reject reason. Unlike the TCP checksum, the IPv4 header checksum is always computed
 * by the sending kernel in software (it is not left to offload, so captures show it right), and Linux's
 * ip_rcv drops a packet whose header checksum is wrong. A bad one therefore means corruption or a forged packet.
 */
import {zeroedBuffer} from './bytes.js';
import {IpAddress} from './address.js';
import {internetChecksum} from './checksum.js';
import type {IpPacketView} from './ip.js';
import {fail, ok, type Parsed} from './parsed.js';
import {hex, truncated} from './text.js';

export interface Ipv4Repr {
  source: IpAddress;
  destination: IpAddress;
  protocol: number;
  /** Default 64, Linux's default TTL. */
  ttl?: number;
  /** Default 0. Callers sending several packets should use a fresh value each, as Linux does. */
  identification?: number;
  /** Default true: Linux sets DF on TCP (path MTU discovery), and a check must not be fragmented. */
  dontFragment?: boolean;
  /** The whole former TOS byte: DSCP (6 bits) and ECN (2 bits). Default 0. */
  typeOfService?: number;
}

// Field offsets in the fixed 20-byte header.
const field = {
  versionIhl: 0,
  typeOfService: 1,
  totalLength: 2,
  identification: 4,
  flagsFragment: 6,
  ttl: 8,
  protocol: 9,
  checksum: 10,
  source: 12,
  destination: 16,
} as const;

const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;
const MAX_TOTAL_LENGTH = 0xffff;

export class Ipv4Packet implements IpPacketView {
  static readonly MIN_HEADER_LENGTH = 20;

  readonly family = 4 as const;

  private constructor(
    /** Header and payload, cut to the total length (padding excluded). Not copied. */
    readonly bytes: Buffer,
  ) {}

  static parse(bytes: Buffer): Parsed<Ipv4Packet> {
    const min = Ipv4Packet.MIN_HEADER_LENGTH;
    if (bytes.length < min) return fail(truncated('IPv4 header', min, bytes.length));
    const version = bytes[field.versionIhl]! >> 4;
    if (version !== 4) return fail(`IP version ${version} in an IPv4 packet`);
    const headerLength = (bytes[field.versionIhl]! & 0x0f) * 4;
    if (headerLength < min) return fail(`IPv4 header length ${headerLength} is below ${min}`);
    if (headerLength > bytes.length) return fail(truncated('IPv4 header with options', headerLength, bytes.length));
    const totalLength = effectiveTotalLength(bytes);
    if (totalLength < headerLength) {
      return fail(`IPv4 total length ${totalLength} is shorter than its ${headerLength}-byte header`);
    }
    if (totalLength > bytes.length) return fail(truncated('IPv4 packet', totalLength, bytes.length));
    if (internetChecksum(bytes.subarray(0, headerLength)) !== 0) {
      return fail(`bad IPv4 header checksum ${hex(bytes.readUInt16BE(field.checksum))}`);
    }
    return ok(new Ipv4Packet(bytes.subarray(0, totalLength)));
  }

  /** In bytes (IHL * 4), options included. */
  get headerLength(): number {
    return (this.bytes[field.versionIhl]! & 0x0f) * 4;
  }

  get typeOfService(): number {
    return this.bytes[field.typeOfService]!;
  }

  /** Header plus payload, in bytes. */
  get totalLength(): number {
    return this.bytes.length;
  }

  get identification(): number {
    return this.bytes.readUInt16BE(field.identification);
  }

  get dontFragment(): boolean {
    return (this.bytes.readUInt16BE(field.flagsFragment) & FLAG_DONT_FRAGMENT) !== 0;
  }

  get moreFragments(): boolean {
    return (this.bytes.readUInt16BE(field.flagsFragment) & FLAG_MORE_FRAGMENTS) !== 0;
  }

  /** Offset of this fragment's data in the original payload, in bytes (the field counts 8-byte units). */
  get fragmentOffset(): number {
    return (this.bytes.readUInt16BE(field.flagsFragment) & FRAGMENT_OFFSET_MASK) * 8;
  }

  /** True for any piece of a fragmented packet; its payload is then not a whole upper-layer packet. */
  get isFragment(): boolean {
    return this.moreFragments || this.fragmentOffset !== 0;
  }

  get ttl(): number {
    return this.bytes[field.ttl]!;
  }

  /** The TTL, under the family-generic name. */
  get hopLimit(): number {
    return this.ttl;
  }

  get protocol(): number {
    return this.bytes[field.protocol]!;
  }

  /** The stored header checksum; parse has already verified it. */
  get headerChecksum(): number {
    return this.bytes.readUInt16BE(field.checksum);
  }

  get source(): IpAddress {
    return IpAddress.fromBytes(this.bytes, field.source, 4);
  }

  get destination(): IpAddress {
    return IpAddress.fromBytes(this.bytes, field.destination, 4);
  }

  /** Raw option bytes between the fixed header and the payload (usually empty). */
  get options(): Buffer {
    return this.bytes.subarray(Ipv4Packet.MIN_HEADER_LENGTH, this.headerLength);
  }

  get payload(): Buffer {
    return this.bytes.subarray(this.headerLength);
  }

  /** The fields buildIpv4 emits; options and fragmentation are not represented. */
  toRepr(): Ipv4Repr {
    return {
      source: this.source,
      destination: this.destination,
      protocol: this.protocol,
      ttl: this.ttl,
      identification: this.identification,
      dontFragment: this.dontFragment,
      typeOfService: this.typeOfService,
    };
  }
}

/**
 * The total length to trust. A GSO "BIG TCP" packet above 64 KiB, as captured on the sending host, carries
 * total length 0 (it cannot fit 16 bits); like tcpdump, take the buffer length then. A short real packet never
 * has total length 0, so this cannot widen a padded frame.
 */
function effectiveTotalLength(bytes: Buffer): number {
  const stored = bytes.readUInt16BE(field.totalLength);
  return stored === 0 && bytes.length > MAX_TOTAL_LENGTH ? bytes.length : stored;
}

/** Emits a 20-byte header (no options) with its checksum, followed by `payload`. */
export function buildIpv4(repr: Ipv4Repr, payload: Uint8Array): Buffer {
  if (repr.source.family !== 4 || repr.destination.family !== 4) {
    throw new TypeError(`IPv4 packet with non-IPv4 address: ${repr.source} > ${repr.destination}`);
  }
  const headerLength = Ipv4Packet.MIN_HEADER_LENGTH;
  const totalLength = headerLength + payload.length;
  if (totalLength > MAX_TOTAL_LENGTH) throw new RangeError(`IPv4 packet of ${totalLength} bytes exceeds 65535`);
  const packet = zeroedBuffer(totalLength);
  packet[field.versionIhl] = 0x40 | (headerLength / 4);
  packet[field.typeOfService] = repr.typeOfService ?? 0;
  packet.writeUInt16BE(totalLength, field.totalLength);
  packet.writeUInt16BE(repr.identification ?? 0, field.identification);
  packet.writeUInt16BE((repr.dontFragment ?? true) ? FLAG_DONT_FRAGMENT : 0, field.flagsFragment);
  packet[field.ttl] = repr.ttl ?? 64;
  packet[field.protocol] = repr.protocol;
  repr.source.writeTo(packet, field.source);
  repr.destination.writeTo(packet, field.destination);
  packet.writeUInt16BE(internetChecksum(packet.subarray(0, headerLength)), field.checksum);
  packet.set(payload, headerLength);
  return packet;
}
