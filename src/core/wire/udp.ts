/**
 * UDP datagrams (RFC 768) over IPv4 and IPv6.
 *
 * parse checks the 8-byte header and the length field (at least 8, never past the bytes given: the IP payload,
 * already bounded by the IP length fields); bytes past the UDP length are not the datagram's and are left out
 * of `payload`. Like TCP, the checksum is not checked by parse (`checksumValid` does, and the link's
 * frame-integrity gate does before any user sees a frame).
 *
 * The zero-checksum rule: a checksum that computes to 0 is sent as 0xffff, because 0 on the wire means "no
 * checksum" (RFC 768). That is allowed over IPv4 only: over IPv6 the checksum is mandatory (RFC 8200 section
 * 8.1), so a received IPv6 datagram with 0 is invalid.
 */
import {zeroedBuffer} from './bytes.js';
import type {IpAddress} from './address.js';
import {transportChecksum, verifyTransportChecksum} from './checksum.js';
import {IpProtocol} from './ip.js';
import {fail, ok, type Parsed} from './parsed.js';
import {truncated} from './text.js';

export interface UdpRepr {
  sourcePort: number;
  destinationPort: number;
}

const field = {sourcePort: 0, destinationPort: 2, length: 4, checksum: 6} as const;

export class UdpDatagram {
  static readonly HEADER_LENGTH = 8;

  private constructor(
    /** The datagram's own bytes (header and payload, `length` long). Not copied. */
    readonly bytes: Buffer,
  ) {}

  static parse(bytes: Buffer): Parsed<UdpDatagram> {
    const min = UdpDatagram.HEADER_LENGTH;
    if (bytes.length < min) return fail(truncated('UDP header', min, bytes.length));
    const length = bytes.readUInt16BE(field.length);
    if (length < min) return fail(`UDP length ${length} is below the header's 8 bytes`);
    if (length > bytes.length) return fail(truncated('UDP datagram', length, bytes.length));
    return ok(new UdpDatagram(bytes.subarray(0, length)));
  }

  get sourcePort(): number {
    return this.bytes.readUInt16BE(field.sourcePort);
  }

  get destinationPort(): number {
    return this.bytes.readUInt16BE(field.destinationPort);
  }

  get length(): number {
    return this.bytes.length;
  }

  get checksum(): number {
    return this.bytes.readUInt16BE(field.checksum);
  }

  get payload(): Buffer {
    return this.bytes.subarray(UdpDatagram.HEADER_LENGTH);
  }

  /** Right for these addresses; 0 ("none") is right over IPv4 and wrong over IPv6. */
  checksumValid(source: IpAddress, destination: IpAddress): boolean {
    if (this.checksum === 0) return source.family === 4;
    return verifyTransportChecksum(source, destination, IpProtocol.UDP, this.bytes);
  }
}

/** Emits a UDP datagram with its checksum (never 0: a computed 0 is sent as 0xffff). */
export function buildUdp(repr: UdpRepr, payload: Uint8Array, source: IpAddress, destination: IpAddress): Buffer {
  const length = UdpDatagram.HEADER_LENGTH + payload.length;
  if (length > 0xffff) throw new RangeError(`UDP payload of ${payload.length} bytes does not fit in a datagram`);
  const datagram = zeroedBuffer(length);
  datagram.writeUInt16BE(repr.sourcePort, field.sourcePort);
  datagram.writeUInt16BE(repr.destinationPort, field.destinationPort);
  datagram.writeUInt16BE(length, field.length);
  datagram.set(payload, UdpDatagram.HEADER_LENGTH);
  const checksum = transportChecksum(source, destination, IpProtocol.UDP, datagram);
  datagram.writeUInt16BE(checksum === 0 ? 0xffff : checksum, field.checksum);
  return datagram;
}
