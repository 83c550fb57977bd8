/**
 * The encapsulations of IPVS's tunnel mode (Linux's ip_vs_xmit.c, ipvs_gue_encap and ipvs_gre_encap), as the
 * director puts them between the outer IP header (to the real server) and the unchanged client -> VIP packet:
 * - IPIP: nothing; the outer header's protocol says what follows (4 IPv4, 41 IPv6);
 * - GUE: a 4-byte GUE version 0 header (RFC draft-ietf-intarea-gue) in UDP to the real server's tun_port:
 *   byte 0 = version 0, C bit 0, hlen 0 (no options); byte 1 = proto_ctype 4 or 41; bytes 2-3 = flags 0;
 * - GRE: a 4-byte GRE header (RFC 2784/2890) with no checksum, key or sequence and protocol type 0x0800/0x86DD.
 * IPVS writes longer forms only with tun_flags (GUE remote checksum offload, GRE checksum); parse() accepts them
 * and skips what it does not use, build() emits the plain forms IPVS sends by default.
 */
import {zeroedBuffer} from './bytes.js';
import type {IpFamily} from './address.js';
import {EtherType} from './ethernet.js';
import {IpProtocol} from './ip.js';
import {fail, ok, type Parsed} from './parsed.js';
import {hex, truncated} from './text.js';
import {UdpDatagram} from './udp.js';

export type TunnelType = 'ipip' | 'gue' | 'gre';

/** The IP protocol number of an IPv4 or IPv6 packet carried directly in IP (IPIP) or named by GUE. */
export function innerIpProtocol(family: IpFamily): number {
  return family === 4 ? IpProtocol.IPIP : IpProtocol.IPv6;
}

/** The IP protocol of the outer packet (IPIP/GRE); GUE rides in UDP. */
export function outerIpProtocol(type: TunnelType, innerFamily: IpFamily): number {
  if (type === 'gre') return IpProtocol.GRE;
  if (type === 'gue') return IpProtocol.UDP;
  return innerIpProtocol(innerFamily);
}

export const GUE_HEADER_LENGTH = 4;
export const GRE_HEADER_LENGTH = 4;

/** Bytes between the outer IP header and the inner packet (the outer IP header itself not included). */
export function encapsulationLength(type: TunnelType): number {
  if (type === 'gue') return UdpDatagram.HEADER_LENGTH + GUE_HEADER_LENGTH;
  if (type === 'gre') return GRE_HEADER_LENGTH;
  return 0;
}

export interface GueHeader {
  readonly version: number;
  /** The C bit: a control message, which carries no inner packet. */
  readonly control: boolean;
  /** Length of the optional fields, in 32-bit words. */
  readonly headerWords: number;
  /** For a data message: the IP protocol of the inner packet (4, 41). */
  readonly protocol: number;
  readonly flags: number;
  /** What follows the header and its options: the inner packet. */
  readonly payload: Buffer;
}

/** A GUE header as IPVS sends it: version 0, data, no options, in front of `inner` (an IPv4 or IPv6 packet). */
export function buildGue(innerFamily: IpFamily, inner: Uint8Array): Buffer {
  const out = zeroedBuffer(GUE_HEADER_LENGTH + inner.length);
  out[1] = innerIpProtocol(innerFamily);
  out.set(inner, GUE_HEADER_LENGTH);
  return out;
}

/** A GUE header and what it carries (the UDP payload). Version 1 (direct IP, no header) is refused. */
export function parseGue(bytes: Buffer): Parsed<GueHeader> {
  if (bytes.length < GUE_HEADER_LENGTH) return fail(truncated('GUE header', GUE_HEADER_LENGTH, bytes.length));
  const first = bytes[0]!;
  const version = first >> 6;
  if (version !== 0) return fail(`GUE version ${version}: only version 0 has a header`);
  const headerWords = first & 0x1f;
  const length = GUE_HEADER_LENGTH + headerWords * 4;
  if (bytes.length < length) return fail(truncated('GUE header with options', length, bytes.length));
  return ok({
    version,
    control: (first & 0x20) !== 0,
    headerWords,
    protocol: bytes[1]!,
    flags: bytes.readUInt16BE(2),
    payload: bytes.subarray(length),
  });
}

export interface GreHeader {
  /** 0x0800 IPv4, 0x86DD IPv6 (an EtherType). */
  readonly protocolType: number;
  readonly checksumPresent: boolean;
  readonly key: number | undefined;
  readonly sequence: number | undefined;
  readonly payload: Buffer;
}

const GRE_CHECKSUM = 0x8000;
const GRE_KEY = 0x2000;
const GRE_SEQUENCE = 0x1000;
/** Routing present and strict source route (RFC 1701), recursion control and the reserved flags: not in RFC 2784. */
const GRE_OBSOLETE = 0x4000 | 0x0800 | 0x0700 | 0x00f8;

/** A GRE header as IPVS sends it by default (no checksum, key or sequence) in front of `inner`. */
export function buildGre(innerFamily: IpFamily, inner: Uint8Array): Buffer {
  const out = zeroedBuffer(GRE_HEADER_LENGTH + inner.length);
  out.writeUInt16BE(innerFamily === 4 ? EtherType.IPv4 : EtherType.IPv6, 2);
  out.set(inner, GRE_HEADER_LENGTH);
  return out;
}

/** A GRE header (version 0) and its payload; the optional checksum is read past, not verified. */
export function parseGre(bytes: Buffer): Parsed<GreHeader> {
  if (bytes.length < GRE_HEADER_LENGTH) return fail(truncated('GRE header', GRE_HEADER_LENGTH, bytes.length));
  const flags = bytes.readUInt16BE(0);
  const version = flags & 0x7;
  if (version !== 0) return fail(`GRE version ${version}: only version 0 carries IP`);
  if (flags & GRE_OBSOLETE) return fail(`GRE flags ${hex(flags)}: routing and reserved bits are not in RFC 2784`);
  let offset = GRE_HEADER_LENGTH;
  const checksumPresent = (flags & GRE_CHECKSUM) !== 0;
  if (checksumPresent) offset += 4; // checksum + reserved1
  const keyAt = flags & GRE_KEY ? offset : -1;
  if (keyAt >= 0) offset += 4;
  const sequenceAt = flags & GRE_SEQUENCE ? offset : -1;
  if (sequenceAt >= 0) offset += 4;
  if (bytes.length < offset) return fail(truncated('GRE header with its optional fields', offset, bytes.length));
  return ok({
    protocolType: bytes.readUInt16BE(2),
    checksumPresent,
    key: keyAt >= 0 ? bytes.readUInt32BE(keyAt) : undefined,
    sequence: sequenceAt >= 0 ? bytes.readUInt32BE(sequenceAt) : undefined,
    payload: bytes.subarray(offset),
  });
}

/**
 * What goes after the outer IP header for `type` (for GUE: the UDP payload; the UDP header is the socket's).
 * The inner packet is not copied for IPIP.
 */
export function encapsulate(type: TunnelType, innerFamily: IpFamily, inner: Buffer): Buffer {
  if (type === 'gue') return buildGue(innerFamily, inner);
  if (type === 'gre') return buildGre(innerFamily, inner);
  return inner;
}
