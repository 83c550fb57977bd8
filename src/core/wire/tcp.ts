/**
 * TCP segments (RFC 9293) and their options: MSS (RFC 9293), window scale and timestamps (RFC 7323),
 * SACK-permitted and SACK blocks (RFC 2018).
 *
 * parse rejects a malformed option list (a length below 2, an option running past the header, a known option
 * with the wrong length) rather than guessing: the engine must never act on half-read options. Unknown options
 * are kept raw. The checksum is *not* checked by parse: with checksum offload (veth, most NICs) a capture shows
 * wrong checksums on perfectly good segments, so rejecting them would drop everything. `checksumValid` reports it.
 */
import {zeroedBuffer} from './bytes.js';
import type {IpAddress} from './address.js';
import {onesComplementSum, pseudoHeaderSum, transportChecksum, verifyTransportChecksum} from './checksum.js';
import {IpProtocol} from './ip.js';
import {fail, ok, type Parsed} from './parsed.js';
import {truncated} from './text.js';

export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export interface TcpOptions {
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  /** Left and right edges (right exclusive) of each SACK block. */
  sackBlocks?: Array<[number, number]>;
  timestamp?: {value: number; echo: number};
  /** Options of any other kind, with their data (kind and length bytes excluded), in wire order. */
  unknown?: Array<{kind: number; data: Buffer}>;
}

export interface TcpRepr {
  sourcePort: number;
  destinationPort: number;
  sequenceNumber: number;
  acknowledgmentNumber: number;
  /** Bitwise OR of TcpFlags. */
  flags: number;
  window: number;
  /** Default 0. */
  urgentPointer?: number;
  options?: TcpOptions;
}

// Field offsets in the fixed 20-byte header.
const field = {
  sourcePort: 0,
  destinationPort: 2,
  sequenceNumber: 4,
  acknowledgmentNumber: 8,
  dataOffset: 12,
  flags: 13,
  window: 14,
  checksum: 16,
  urgentPointer: 18,
} as const;

const OptionKind = {End: 0, Nop: 1, Mss: 2, WindowScale: 3, SackPermitted: 4, Sack: 5, Timestamp: 8} as const;

/** Data offset is 4 bits of 32-bit words: at most 60 header bytes, so at most 40 option bytes. */
const MAX_OPTIONS_LENGTH = 40;

/** One option as it appeared on the wire: a one-field TcpOptions, or a no-op / end-of-list marker. */
type OptionEntry = TcpOptions | 'nop' | 'eol';

/** tcpdump's letters, in tcpdump's order. */
const FLAG_LETTERS: ReadonlyArray<[number, string]> = [
  [TcpFlags.FIN, 'F'],
  [TcpFlags.SYN, 'S'],
  [TcpFlags.RST, 'R'],
  [TcpFlags.PSH, 'P'],
  [TcpFlags.ACK, '.'],
  [TcpFlags.URG, 'U'],
  [TcpFlags.ECE, 'E'],
  [TcpFlags.CWR, 'W'],
];

export class TcpSegment {
  static readonly MIN_HEADER_LENGTH = 20;

  private constructor(
    /** Header and payload: the whole IP payload given to parse. Not copied. */
    readonly bytes: Buffer,
    /** The options, decoded once by parse. */
    readonly options: TcpOptions,
    private readonly optionEntries: readonly OptionEntry[],
  ) {}

  /** `bytes` is the IP payload, already bounded by the IP length fields. */
  static parse(bytes: Buffer): Parsed<TcpSegment> {
    const min = TcpSegment.MIN_HEADER_LENGTH;
    if (bytes.length < min) return fail(truncated('TCP header', min, bytes.length));
    const headerLength = (bytes[field.dataOffset]! >> 4) * 4;
    if (headerLength < min) return fail(`TCP data offset ${headerLength / 4} is below 5`);
    if (headerLength > bytes.length) return fail(truncated('TCP header with options', headerLength, bytes.length));
    const entries = parseOptionList(bytes.subarray(min, headerLength));
    if (!entries.ok) return entries;
    return ok(new TcpSegment(bytes, mergeOptions(entries.value), entries.value));
  }

  get sourcePort(): number {
    return this.bytes.readUInt16BE(field.sourcePort);
  }

  get destinationPort(): number {
    return this.bytes.readUInt16BE(field.destinationPort);
  }

  get sequenceNumber(): number {
    return this.bytes.readUInt32BE(field.sequenceNumber);
  }

  /** Meaningful only when the ACK flag is set. */
  get acknowledgmentNumber(): number {
    return this.bytes.readUInt32BE(field.acknowledgmentNumber);
  }

  /** In bytes, options included. */
  get headerLength(): number {
    return (this.bytes[field.dataOffset]! >> 4) * 4;
  }

  /** The eight flag bits (the obsolete ECN-nonce bit is ignored). */
  get flags(): number {
    return this.bytes[field.flags]!;
  }

  /** True when every bit of `flag` (one TcpFlags value, or several OR-ed) is set. */
  has(flag: number): boolean {
    return (this.flags & flag) === flag;
  }

  /** The raw window field, before any window scaling. */
  get window(): number {
    return this.bytes.readUInt16BE(field.window);
  }

  get checksum(): number {
    return this.bytes.readUInt16BE(field.checksum);
  }

  get urgentPointer(): number {
    return this.bytes.readUInt16BE(field.urgentPointer);
  }

  get payload(): Buffer {
    return this.bytes.subarray(this.headerLength);
  }

  /** Sequence space the segment occupies: payload bytes, plus one each for SYN and FIN. */
  get sequenceLength(): number {
    return this.payload.length + (this.has(TcpFlags.SYN) ? 1 : 0) + (this.has(TcpFlags.FIN) ? 1 : 0);
  }

  /**
   * Whether the stored checksum is right for this segment between `source` and `destination` (the IP header's
   * addresses; both of one family, else it throws). False is normal for offloaded segments seen on the sender.
   */
  checksumValid(source: IpAddress, destination: IpAddress): boolean {
    return verifyTransportChecksum(source, destination, IpProtocol.TCP, this.bytes);
  }

  /** The checksum this segment should carry between `source` and `destination`. */
  expectedChecksum(source: IpAddress, destination: IpAddress): number {
    // Sum around the stored field instead of copying the segment to zero it.
    const pseudo = pseudoHeaderSum(source, destination, IpProtocol.TCP, this.bytes.length);
    const around = [this.bytes.subarray(0, field.checksum), this.bytes.subarray(field.checksum + 2)];
    return ~onesComplementSum(around, pseudo) & 0xffff;
  }

  /** tcpdump's flag letters, e.g. `S`, `S.`, `P.`, `F.`, `R`; `none` when no flag is set. */
  flagsText(): string {
    const letters = FLAG_LETTERS.filter(([flag]) => this.has(flag)).map(([, letter]) => letter);
    return letters.length > 0 ? letters.join('') : 'none';
  }

  /** The options in wire order, tcpdump style, e.g. `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`. */
  optionsText(): string {
    return this.optionEntries.map((entry) => (typeof entry === 'string' ? entry : formatOptions(entry))).join(',');
  }

  toRepr(): TcpRepr {
    return {
      sourcePort: this.sourcePort,
      destinationPort: this.destinationPort,
      sequenceNumber: this.sequenceNumber,
      acknowledgmentNumber: this.acknowledgmentNumber,
      flags: this.flags,
      window: this.window,
      urgentPointer: this.urgentPointer,
      options: this.options,
    };
  }
}

/** Walks the kind/length list. Nothing after an end-of-list option is read (it is padding). */
function parseOptionList(bytes: Buffer): Parsed<OptionEntry[]> {
  const entries: OptionEntry[] = [];
  let i = 0;
  while (i < bytes.length) {
    const kind = bytes[i]!;
    if (kind === OptionKind.End) {
      entries.push('eol');
      break;
    }
    if (kind === OptionKind.Nop) {
      entries.push('nop');
      i += 1;
      continue;
    }
    if (i + 1 >= bytes.length) return fail(`TCP option ${kind} has no length byte`);
    const length = bytes[i + 1]!;
    if (length < 2) return fail(`TCP option ${kind} has length ${length}`);
    if (i + length > bytes.length) return fail(`TCP option ${kind} of ${length} bytes runs past the header`);
    const option = readOption(kind, bytes.subarray(i + 2, i + length));
    if (!option.ok) return option;
    entries.push(option.value);
    i += length;
  }
  return ok(entries);
}

/** Decodes one option's data (after kind and length) into a one-field TcpOptions. */
function readOption(kind: number, data: Buffer): Parsed<TcpOptions> {
  const wrongLength = (name: string) => fail<TcpOptions>(`TCP ${name} option has length ${data.length + 2}`);
  switch (kind) {
    case OptionKind.Mss:
      return data.length === 2 ? ok({mss: data.readUInt16BE(0)}) : wrongLength('MSS');
    case OptionKind.WindowScale:
      return data.length === 1 ? ok({windowScale: data[0]!}) : wrongLength('window scale');
    case OptionKind.SackPermitted:
      return data.length === 0 ? ok({sackPermitted: true}) : wrongLength('SACK-permitted');
    case OptionKind.Sack: {
      if (data.length === 0 || data.length % 8 !== 0) return wrongLength('SACK');
      const sackBlocks: Array<[number, number]> = [];
      for (let i = 0; i < data.length; i += 8) sackBlocks.push([data.readUInt32BE(i), data.readUInt32BE(i + 4)]);
      return ok({sackBlocks});
    }
    case OptionKind.Timestamp:
      return data.length === 8
        ? ok({timestamp: {value: data.readUInt32BE(0), echo: data.readUInt32BE(4)}})
        : wrongLength('timestamp');
    default:
      return ok({unknown: [{kind, data}]});
  }
}

/** Folds the wire entries into one TcpOptions; a repeated option keeps its last value, unknown ones accumulate. */
function mergeOptions(entries: readonly OptionEntry[]): TcpOptions {
  const merged: TcpOptions = {};
  for (const entry of entries) {
    if (typeof entry === 'string') continue;
    if (entry.unknown) merged.unknown = [...(merged.unknown ?? []), ...entry.unknown];
    else Object.assign(merged, entry);
  }
  return merged;
}

function formatOptions(options: TcpOptions): string {
  const parts: string[] = [];
  if (options.mss !== undefined) parts.push(`mss ${options.mss}`);
  if (options.sackPermitted) parts.push('sackOK');
  if (options.timestamp) parts.push(`TS val ${options.timestamp.value} ecr ${options.timestamp.echo}`);
  if (options.windowScale !== undefined) parts.push(`wscale ${options.windowScale}`);
  if (options.sackBlocks) {
    const blocks = options.sackBlocks.map(([left, right]) => `{${left}:${right}}`).join('');
    parts.push(`sack ${options.sackBlocks.length} ${blocks}`);
  }
  for (const {kind, data} of options.unknown ?? []) parts.push(`unknown-${kind} 0x${data.toString('hex')}`);
  return parts.join(',');
}

/**
 * Emits the options in the order Linux's tcp_options_write uses (MSS; SACK-permitted folded into the
 * timestamp's padding; NOP + window scale; NOP NOP + SACK blocks), then unknown options, zero-padded (end of list)
 * to a 4-byte boundary. More than 40 bytes cannot be expressed: that is a bug in the caller, so it throws.
 */
function emitOptions(options: TcpOptions = {}): Buffer {
  const out: number[] = [];
  const u16 = (n: number) => out.push((n >>> 8) & 0xff, n & 0xff);
  const u32 = (n: number) => out.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  if (options.mss !== undefined) {
    out.push(OptionKind.Mss, 4);
    u16(options.mss);
  }
  if (options.timestamp) {
    if (options.sackPermitted) out.push(OptionKind.SackPermitted, 2);
    else out.push(OptionKind.Nop, OptionKind.Nop);
    out.push(OptionKind.Timestamp, 10);
    u32(options.timestamp.value);
    u32(options.timestamp.echo);
  } else if (options.sackPermitted) {
    out.push(OptionKind.Nop, OptionKind.Nop, OptionKind.SackPermitted, 2);
  }
  if (options.windowScale !== undefined) out.push(OptionKind.Nop, OptionKind.WindowScale, 3, options.windowScale);
  if (options.sackBlocks && options.sackBlocks.length > 0) {
    out.push(OptionKind.Nop, OptionKind.Nop, OptionKind.Sack, 2 + 8 * options.sackBlocks.length);
    for (const [left, right] of options.sackBlocks) {
      u32(left);
      u32(right);
    }
  }
  for (const {kind, data} of options.unknown ?? []) out.push(kind, 2 + data.length, ...data);
  while (out.length % 4 !== 0) out.push(OptionKind.End);
  if (out.length > MAX_OPTIONS_LENGTH) {
    throw new RangeError(`TCP options need ${out.length} bytes, at most ${MAX_OPTIONS_LENGTH} fit`);
  }
  return Buffer.from(out);
}

/** Emits header, options and payload with the checksum for `source` > `destination` filled in. */
export function buildTcp(repr: TcpRepr, payload: Uint8Array, source: IpAddress, destination: IpAddress): Buffer {
  const options = emitOptions(repr.options);
  const headerLength = TcpSegment.MIN_HEADER_LENGTH + options.length;
  const segment = zeroedBuffer(headerLength + payload.length);
  segment.writeUInt16BE(repr.sourcePort, field.sourcePort);
  segment.writeUInt16BE(repr.destinationPort, field.destinationPort);
  segment.writeUInt32BE(repr.sequenceNumber >>> 0, field.sequenceNumber);
  segment.writeUInt32BE(repr.acknowledgmentNumber >>> 0, field.acknowledgmentNumber);
  segment[field.dataOffset] = (headerLength / 4) << 4;
  segment[field.flags] = repr.flags & 0xff;
  segment.writeUInt16BE(repr.window, field.window);
  segment.writeUInt16BE(repr.urgentPointer ?? 0, field.urgentPointer);
  options.copy(segment, TcpSegment.MIN_HEADER_LENGTH);
  segment.set(payload, headerLength);
  segment.writeUInt16BE(transportChecksum(source, destination, IpProtocol.TCP, segment), field.checksum);
  return segment;
}
