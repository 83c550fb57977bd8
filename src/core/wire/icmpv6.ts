/**
 * ICMPv6 (RFC 4443) messages, and the two Neighbor Discovery (RFC 4861) messages that resolve an IPv6 address
 * to a MAC: Neighbor Solicitation (135) and Neighbor Advertisement (136).
 *
 * `Icmpv6Message.parse` checks only the 4-byte header every ICMPv6 message has. `parseNeighborMessage` (or
 * `NeighborSolicitation.parse` / `NeighborAdvertisement.parse`) also checks the NDP body and the option list:
 * the 24 fixed bytes, and options that are at least 8 bytes, never of length 0 (RFC 4861 section 4.6: such
 * a message MUST be discarded, it would make the walk loop forever) and never running past the message.
 * Unknown options are skipped but kept in `options`. A link-layer address option (type 1 or 2) must be 8 bytes:
 * this codec speaks NDP over Ethernet only, as arp.ts speaks ARP over Ethernet only, and Linux drops an
 * advertisement whose link-layer address has the wrong length for the device.
 *
 * Like TCP, parse does not check the checksum (`checksumValid` does), nor the rules of RFC 4861 sections
 * 7.1.1/7.1.2 that involve the IP header (hop limit 255, code 0, ...): `ndpValidationError` applies those, so
 * an audit can still see and report a message a kernel would discard.
 */
import {IpAddress, MacAddress} from './address.js';
import {onesComplementSum, pseudoHeaderSum, transportChecksum, verifyTransportChecksum} from './checksum.js';
import {IpProtocol, type IpPacketView} from './ip.js';
import {Ipv6ExtensionHeader, Ipv6Packet} from './ipv6.js';
import {fail, ok, type Parsed} from './parsed.js';
import {truncated} from './text.js';

export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  Redirect: 137,
} as const;

/** NDP option types (RFC 4861 section 4.6) this codec interprets. */
export const NdpOptionType = {SourceLinkLayerAddress: 1, TargetLinkLayerAddress: 2} as const;

/** Flag bits in the first byte after the checksum of a Neighbor Advertisement. */
export const NeighborAdvertisementFlags = {Router: 0x80, Solicited: 0x40, Override: 0x20} as const;

/** The hop limit every NDP message is sent with and must arrive with (proof it was not routed). */
export const NDP_HOP_LIMIT = 255;

/** One NDP option as it appeared on the wire. */
export interface NdpOption {
  readonly type: number;
  /** The option's data, after the type and length bytes (6 bytes of MAC for a link-layer address on Ethernet). */
  readonly data: Buffer;
}

export interface NeighborSolicitationRepr {
  target: IpAddress;
  /** Our MAC, for the responder's neighbour cache. Must be absent in a DAD probe (source `::`). */
  sourceLinkLayerAddress?: MacAddress;
}

export interface NeighborAdvertisementRepr {
  target: IpAddress;
  router?: boolean;
  solicited?: boolean;
  override?: boolean;
  /** Required in an answer to a multicast solicitation (RFC 4861 section 7.2.4). */
  targetLinkLayerAddress?: MacAddress;
}

const field = {type: 0, code: 1, checksum: 2, flags: 4, target: 8} as const;
const NDP_OPTIONS_OFFSET = 24;
const OPTION_UNIT = 8;
const ETHERNET_LLA_OPTION_LENGTH = 8;

export class Icmpv6Message {
  static readonly HEADER_LENGTH = 4;

  protected constructor(
    /** The whole message: the IPv6 payload given to parse (already bounded by the payload length). Not copied. */
    readonly bytes: Buffer,
  ) {}

  static parse(bytes: Buffer): Parsed<Icmpv6Message> {
    const header = Icmpv6Message.HEADER_LENGTH;
    if (bytes.length < header) return fail(truncated('ICMPv6 header', header, bytes.length));
    return ok(new Icmpv6Message(bytes));
  }

  get type(): number {
    return this.bytes[field.type]!;
  }

  get code(): number {
    return this.bytes[field.code]!;
  }

  get checksum(): number {
    return this.bytes.readUInt16BE(field.checksum);
  }

  /** Everything after type, code and checksum. */
  get body(): Buffer {
    return this.bytes.subarray(Icmpv6Message.HEADER_LENGTH);
  }

  /** Whether the checksum over the IPv6 pseudo-header and the message is right. */
  checksumValid(source: IpAddress, destination: IpAddress): boolean {
    return source.family === 6 && destination.family === 6
      ? verifyTransportChecksum(source, destination, IpProtocol.ICMPv6, this.bytes)
      : false;
  }

  /** The checksum this message should carry between `source` and `destination` (IPv6 addresses). */
  expectedChecksum(source: IpAddress, destination: IpAddress): number {
    const pseudo = pseudoHeaderSum(source, destination, IpProtocol.ICMPv6, this.bytes.length);
    const around = [this.bytes.subarray(0, field.checksum), this.bytes.subarray(field.checksum + 2)];
    return ~onesComplementSum(around, pseudo) & 0xffff;
  }
}

/** What NS and NA share: the target address after 4 bytes of reserved field or flags, then options. */
export abstract class NeighborMessage extends Icmpv6Message {
  static readonly MIN_LENGTH = NDP_OPTIONS_OFFSET;

  protected constructor(
    bytes: Buffer,
    /** All options in wire order, unknown ones included. */
    readonly options: readonly NdpOption[],
  ) {
    super(bytes);
  }

  /** The address being resolved (NS) or advertised (NA). */
  get target(): IpAddress {
    return IpAddress.fromBytes(this.bytes, field.target, 6);
  }

  /** The MAC of the first option of `type`; Linux likewise uses the first and ignores duplicates. */
  protected linkLayerAddress(type: number): MacAddress | undefined {
    const option = this.options.find((o) => o.type === type);
    return option ? MacAddress.fromBytes(option.data, 0) : undefined;
  }
}

export class NeighborSolicitation extends NeighborMessage {
  static override parse(bytes: Buffer): Parsed<NeighborSolicitation> {
    const options = parseNeighborBody(bytes, Icmpv6Type.NeighborSolicitation);
    return options.ok ? ok(new NeighborSolicitation(bytes, options.value)) : options;
  }

  /** The sender's MAC; absent in DAD probes. */
  get sourceLinkLayerAddress(): MacAddress | undefined {
    return this.linkLayerAddress(NdpOptionType.SourceLinkLayerAddress);
  }

  toRepr(): NeighborSolicitationRepr {
    const repr: NeighborSolicitationRepr = {target: this.target};
    const mac = this.sourceLinkLayerAddress;
    if (mac) repr.sourceLinkLayerAddress = mac;
    return repr;
  }
}

export class NeighborAdvertisement extends NeighborMessage {
  static override parse(bytes: Buffer): Parsed<NeighborAdvertisement> {
    const options = parseNeighborBody(bytes, Icmpv6Type.NeighborAdvertisement);
    return options.ok ? ok(new NeighborAdvertisement(bytes, options.value)) : options;
  }

  /** The flag byte (R, S, O and five reserved bits). */
  get flags(): number {
    return this.bytes[field.flags]!;
  }

  /** R: the sender is a router. */
  get router(): boolean {
    return (this.flags & NeighborAdvertisementFlags.Router) !== 0;
  }

  /** S: an answer to a solicitation (never set when sent to a multicast address). */
  get solicited(): boolean {
    return (this.flags & NeighborAdvertisementFlags.Solicited) !== 0;
  }

  /** O: the receiver should replace a link-layer address it already has. */
  get override(): boolean {
    return (this.flags & NeighborAdvertisementFlags.Override) !== 0;
  }

  get targetLinkLayerAddress(): MacAddress | undefined {
    return this.linkLayerAddress(NdpOptionType.TargetLinkLayerAddress);
  }

  /** tcpdump's words for the set flags, e.g. `solicited, override`; `none` when no flag is set. */
  flagsText(): string {
    const names = [this.router && 'router', this.solicited && 'solicited', this.override && 'override'];
    const set = names.filter((n): n is string => n !== false);
    return set.length > 0 ? set.join(', ') : 'none';
  }

  toRepr(): NeighborAdvertisementRepr {
    const repr: NeighborAdvertisementRepr = {
      target: this.target,
      router: this.router,
      solicited: this.solicited,
      override: this.override,
    };
    const mac = this.targetLinkLayerAddress;
    if (mac) repr.targetLinkLayerAddress = mac;
    return repr;
  }
}

/** Parses an NS or an NA (by the type byte); any other ICMPv6 type fails. */
export function parseNeighborMessage(bytes: Buffer): Parsed<NeighborSolicitation | NeighborAdvertisement> {
  const type = bytes[field.type];
  if (type === Icmpv6Type.NeighborSolicitation) return NeighborSolicitation.parse(bytes);
  if (type === Icmpv6Type.NeighborAdvertisement) return NeighborAdvertisement.parse(bytes);
  if (type === undefined) return fail(truncated('ICMPv6 header', Icmpv6Message.HEADER_LENGTH, 0));
  return fail(`ICMPv6 type ${type} is not a neighbor solicitation or advertisement`);
}

/** Checks length, type and option list; returns the options. */
function parseNeighborBody(bytes: Buffer, type: number): Parsed<NdpOption[]> {
  const name = type === Icmpv6Type.NeighborSolicitation ? 'neighbor solicitation' : 'neighbor advertisement';
  if (bytes.length < Icmpv6Message.HEADER_LENGTH) {
    return fail(truncated('ICMPv6 header', Icmpv6Message.HEADER_LENGTH, bytes.length));
  }
  if (bytes[field.type] !== type) return fail(`ICMPv6 type ${bytes[field.type]} is not a ${name}`);
  if (bytes.length < NDP_OPTIONS_OFFSET) return fail(truncated(name, NDP_OPTIONS_OFFSET, bytes.length));
  const options: NdpOption[] = [];
  for (let i = NDP_OPTIONS_OFFSET; i < bytes.length; ) {
    if (bytes.length - i < 2) return fail(`NDP option at byte ${i} has no length byte`);
    const optionType = bytes[i]!;
    const length = bytes[i + 1]! * OPTION_UNIT;
    if (length === 0) return fail(`NDP option ${optionType} has length 0`);
    if (i + length > bytes.length) return fail(`NDP option ${optionType} of ${length} bytes runs past the message`);
    const isLinkLayer =
      optionType === NdpOptionType.SourceLinkLayerAddress || optionType === NdpOptionType.TargetLinkLayerAddress;
    if (isLinkLayer && length !== ETHERNET_LLA_OPTION_LENGTH) {
      return fail(`NDP link-layer address option of ${length} bytes is not an Ethernet address`);
    }
    options.push({type: optionType, data: bytes.subarray(i + 2, i + length)});
    i += length;
  }
  return ok(options);
}

/**
 * Why a receiver must discard this NS or NA (RFC 4861 sections 7.1.1 and 7.1.2, as Linux's ndisc_rcv and
 * ndisc_recv_ns/na apply them), or undefined when it is acceptable. `ip` is the packet that carried `message`.
 */
export function ndpValidationError(ip: IpPacketView, message: NeighborSolicitation | NeighborAdvertisement): string | undefined {
  if (ip.family !== 6) return 'NDP in an IPv4 packet';
  if (ip.hopLimit !== NDP_HOP_LIMIT) return `hop limit ${ip.hopLimit}, not ${NDP_HOP_LIMIT}`;
  // RFC 6980: NDP in a packet with a fragment header, even an atomic fragment, is ignored.
  if (ip.isFragment || (ip instanceof Ipv6Packet && ip.extensionHeaders.includes(Ipv6ExtensionHeader.Fragment))) {
    return 'NDP in a fragment (RFC 6980)';
  }
  if (message.code !== 0) return `ICMPv6 code ${message.code}, not 0`;
  if (!message.checksumValid(ip.source, ip.destination)) {
    return `bad ICMPv6 checksum 0x${message.checksum.toString(16).padStart(4, '0')}`;
  }
  if (message.target.isMulticast) return `multicast target ${message.target}`;
  if (message instanceof NeighborAdvertisement) {
    if (message.solicited && ip.destination.isMulticast) return 'solicited flag in an advertisement to a multicast address';
    return undefined;
  }
  if (ip.source.isUnspecified) {
    if (!ip.destination.equals(solicitedNodeMulticast(message.target))) {
      return 'DAD probe not sent to the solicited-node address';
    }
    if (message.sourceLinkLayerAddress) return 'DAD probe with a source link-layer address option';
  }
  return undefined;
}

/** Emits a Neighbor Solicitation with the checksum for `source` > `destination`. */
export function buildNeighborSolicitation(repr: NeighborSolicitationRepr, source: IpAddress, destination: IpAddress): Buffer {
  const lla = repr.sourceLinkLayerAddress;
  const options = lla ? [linkLayerOption(NdpOptionType.SourceLinkLayerAddress, lla)] : [];
  return buildNeighborMessage(Icmpv6Type.NeighborSolicitation, 0, repr.target, options, source, destination);
}

/** Emits a Neighbor Advertisement with the checksum for `source` > `destination`. */
export function buildNeighborAdvertisement(
  repr: NeighborAdvertisementRepr,
  source: IpAddress,
  destination: IpAddress,
): Buffer {
  const F = NeighborAdvertisementFlags;
  const flags = (repr.router ? F.Router : 0) | (repr.solicited ? F.Solicited : 0) | (repr.override ? F.Override : 0);
  const lla = repr.targetLinkLayerAddress;
  const options = lla ? [linkLayerOption(NdpOptionType.TargetLinkLayerAddress, lla)] : [];
  return buildNeighborMessage(Icmpv6Type.NeighborAdvertisement, flags, repr.target, options, source, destination);
}

function linkLayerOption(type: number, mac: MacAddress): Buffer {
  const option = Buffer.alloc(ETHERNET_LLA_OPTION_LENGTH);
  option[0] = type;
  option[1] = ETHERNET_LLA_OPTION_LENGTH / OPTION_UNIT;
  mac.writeTo(option, 2);
  return option;
}

function buildNeighborMessage(
  type: number,
  flags: number,
  target: IpAddress,
  options: readonly Buffer[],
  source: IpAddress,
  destination: IpAddress,
): Buffer {
  if (target.family !== 6) throw new TypeError(`NDP target ${target} is not an IPv6 address`);
  const message = Buffer.alloc(NDP_OPTIONS_OFFSET + options.reduce((n, o) => n + o.length, 0));
  message[field.type] = type;
  message[field.flags] = flags;
  target.writeTo(message, field.target);
  let offset = NDP_OPTIONS_OFFSET;
  for (const option of options) {
    message.set(option, offset);
    offset += option.length;
  }
  message.writeUInt16BE(transportChecksum(source, destination, IpProtocol.ICMPv6, message), field.checksum);
  return message;
}

/** The solicited-node multicast group of an IPv6 address (RFC 4291 section 2.7.1): ff02::1:ff + its low 24 bits. */
export function solicitedNodeMulticast(target: IpAddress): IpAddress {
  if (target.family !== 6) throw new TypeError(`solicited-node address of non-IPv6 address ${target}`);
  const group = Buffer.from('ff02 0000 0000 0000 0000 0001 ff00 0000'.replace(/ /g, ''), 'hex');
  group.set(target.bytes.subarray(13), 13);
  return IpAddress.fromBytes(group, 0, 6);
}

/**
 * The Ethernet address a multicast group is sent to: 33:33 + the low 32 bits for IPv6 (RFC 2464 section 7),
 * 01:00:5e + the low 23 bits for IPv4 (RFC 1112 section 6.4). A unicast address is a programming error (throws).
 */
export function multicastMac(group: IpAddress): MacAddress {
  if (!group.isMulticast) throw new TypeError(`${group} is not a multicast address`);
  const bytes = group.bytes;
  if (group.family === 6) return MacAddress.fromBytes(Buffer.concat([Buffer.from([0x33, 0x33]), bytes.subarray(12)]));
  return MacAddress.fromBytes(Buffer.from([0x01, 0x00, 0x5e, bytes[1]! & 0x7f, bytes[2]!, bytes[3]!]));
}
