/**
 * The Internet checksum (RFC 1071) and the transport-layer pseudo-header sums of IPv4 (RFC 793) and IPv6
 * (RFC 8200 section 8.1).
 *
 * Chunks are summed as if they were one concatenated buffer, so a pseudo-header, a header and a payload can be
 * checksummed where they lie, without copying them together, and an odd-length chunk does not shift the byte
 * pairing of the next one.
 */
import type {IpAddress} from './address.js';

/** One's-complement sum of 16-bit big-endian words, folded to 16 bits but not complemented. */
export function onesComplementSum(chunks: readonly Uint8Array[], initial = 0): number {
  let sum = initial;
  // True when the previous chunk ended in the high byte of a word whose low byte starts the next chunk.
  let odd = false;
  for (const chunk of chunks) {
    let i = 0;
    if (odd && chunk.length > 0) {
      sum += chunk[0]!;
      i = 1;
      odd = false;
    }
    for (; i + 1 < chunk.length; i += 2) sum += (chunk[i]! << 8) | chunk[i + 1]!;
    if (i < chunk.length) {
      sum += chunk[i]! << 8;
      odd = true;
    }
    // Fold once per chunk: a chunk adds at most 0xffff per word, far below 2^53 for any real buffer.
    sum = fold(sum);
  }
  return sum;
}

/** The value to store in a checksum field: one's complement of the one's-complement sum of all chunks. */
export function internetChecksum(...chunks: Uint8Array[]): number {
  return ~onesComplementSum(chunks) & 0xffff;
}

/**
 * Folded (not complemented) sum of the pseudo-header for an upper-layer packet of `length` bytes.
 * IPv4: source, destination, zero, protocol, 16-bit length. IPv6: source, destination, 32-bit length, three zero
 * bytes, next header. Both addresses must be of the same family: mixing them is a programming error and throws.
 */
export function pseudoHeaderSum(source: IpAddress, destination: IpAddress, protocol: number, length: number): number {
  if (source.family !== destination.family) {
    throw new TypeError(`pseudo-header with mixed families: ${source} and ${destination}`);
  }
  // The tail's 16-bit words summed directly (no buffer for it): IPv4 [0, protocol] [length]; IPv6 the 32-bit
  // length as two words, then [0, 0] [0, next header].
  const tail = source.family === 4 ? (protocol & 0xff) + (length & 0xffff) : (length >>> 16) + (length & 0xffff) + (protocol & 0xff);
  return fold(source.wordSum + destination.wordSum + tail);
}

/**
 * Checksum for a TCP/UDP/ICMPv6 `segment` (header and payload). The segment's own checksum field must be zero
 * (builders write zero, compute, then store the result); it is summed like every other byte.
 */
export function transportChecksum(
  source: IpAddress,
  destination: IpAddress,
  protocol: number,
  segment: Uint8Array,
): number {
  const pseudo = pseudoHeaderSum(source, destination, protocol, segment.length);
  return ~onesComplementSum([segment], pseudo) & 0xffff;
}

/**
 * True when the checksum stored in `segment` is right: summing everything, the stored field included, gives
 * 0xffff. UDP's "no checksum" value 0 is not special-cased here: its callers (UdpDatagram, the frame-integrity
 * gate) decide it by family first, since it means "none" over IPv4 and is invalid over IPv6.
 */
export function verifyTransportChecksum(
  source: IpAddress,
  destination: IpAddress,
  protocol: number,
  segment: Uint8Array,
): boolean {
  return transportChecksum(source, destination, protocol, segment) === 0;
}

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}
