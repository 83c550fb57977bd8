/**
 * ARP for IPv4 over Ethernet (RFC 826), the only kind that exists on an LVS segment. Anything else (another
 * hardware or protocol type, other address lengths, RARP/InARP operations) is rejected: arp-audit must not
 * mistake it for a claim about an address.
 *
 * Helpers name the RFC 5227 special cases an audit looks for: probes (sender IP 0.0.0.0, plant nothing in caches
 * yet are answered) and gratuitous packets (sender IP == target IP, announcing or defending an address).
 */
import {IpAddress, MacAddress} from './address.js';
import {EtherType} from './ethernet.js';
import {fail, ok, type Parsed} from './parsed.js';
import {hex, truncated} from './text.js';

export const ArpOperation = {Request: 1, Reply: 2} as const;
export type ArpOperation = (typeof ArpOperation)[keyof typeof ArpOperation];

export interface ArpRepr {
  operation: ArpOperation;
  senderMac: MacAddress;
  senderIp: IpAddress;
  targetMac: MacAddress;
  targetIp: IpAddress;
}

const HTYPE_ETHERNET = 1;

// Field offsets inside the 28-byte Ethernet/IPv4 ARP packet.
const field = {htype: 0, ptype: 2, hlen: 4, plen: 5, operation: 6, sha: 8, spa: 14, tha: 18, tpa: 24} as const;

export class ArpPacket {
  static readonly LENGTH = 28;

  private constructor(
    /** Exactly the 28 ARP bytes (any Ethernet padding after them is cut off). */
    readonly bytes: Buffer,
  ) {}

  static parse(bytes: Buffer): Parsed<ArpPacket> {
    if (bytes.length < ArpPacket.LENGTH) return fail(truncated('ARP packet', ArpPacket.LENGTH, bytes.length));
    const htype = bytes.readUInt16BE(field.htype);
    const ptype = bytes.readUInt16BE(field.ptype);
    if (htype !== HTYPE_ETHERNET || ptype !== EtherType.IPv4) {
      return fail(`ARP for hardware type ${htype} / protocol ${hex(ptype)}, not Ethernet/IPv4`);
    }
    const hlen = bytes[field.hlen]!;
    const plen = bytes[field.plen]!;
    if (hlen !== MacAddress.LENGTH || plen !== 4) return fail(`ARP address lengths ${hlen}/${plen}, not 6/4`);
    const operation = bytes.readUInt16BE(field.operation);
    if (operation !== ArpOperation.Request && operation !== ArpOperation.Reply) {
      return fail(`unsupported ARP operation ${operation}`);
    }
    return ok(new ArpPacket(bytes.subarray(0, ArpPacket.LENGTH)));
  }

  get operation(): ArpOperation {
    // parse admitted only Request and Reply.
    return this.bytes.readUInt16BE(field.operation) as ArpOperation;
  }

  get senderMac(): MacAddress {
    return MacAddress.fromBytes(this.bytes, field.sha);
  }

  get senderIp(): IpAddress {
    return IpAddress.fromBytes(this.bytes, field.spa, 4);
  }

  /** Zero in requests by convention (RFC 5227 requires it for probes); Linux fills it on unicast re-probes. */
  get targetMac(): MacAddress {
    return MacAddress.fromBytes(this.bytes, field.tha);
  }

  get targetIp(): IpAddress {
    return IpAddress.fromBytes(this.bytes, field.tpa, 4);
  }

  /** RFC 5227 probe: a request from sender IP 0.0.0.0, asking whether anyone holds `targetIp`. */
  get isProbe(): boolean {
    return this.operation === ArpOperation.Request && this.senderIp.isUnspecified;
  }

  /**
   * Gratuitous ARP / RFC 5227 announcement: sender IP equals target IP (request or reply). It updates every
   * cache that already holds the address, which is why a real server must never send one for the VIP.
   */
  get isGratuitous(): boolean {
    return !this.senderIp.isUnspecified && this.senderIp.equals(this.targetIp);
  }

  toRepr(): ArpRepr {
    return {
      operation: this.operation,
      senderMac: this.senderMac,
      senderIp: this.senderIp,
      targetMac: this.targetMac,
      targetIp: this.targetIp,
    };
  }
}

/** Emits the 28-byte ARP packet (the Ethernet layer pads the frame). Both IPs must be IPv4: throws otherwise. */
export function buildArp(repr: ArpRepr): Buffer {
  if (repr.senderIp.family !== 4 || repr.targetIp.family !== 4) {
    throw new TypeError(`ARP carries IPv4 addresses only, got ${repr.senderIp} / ${repr.targetIp}`);
  }
  const bytes = Buffer.alloc(ArpPacket.LENGTH);
  bytes.writeUInt16BE(HTYPE_ETHERNET, field.htype);
  bytes.writeUInt16BE(EtherType.IPv4, field.ptype);
  bytes[field.hlen] = MacAddress.LENGTH;
  bytes[field.plen] = 4;
  bytes.writeUInt16BE(repr.operation, field.operation);
  repr.senderMac.writeTo(bytes, field.sha);
  repr.senderIp.writeTo(bytes, field.spa);
  repr.targetMac.writeTo(bytes, field.tha);
  repr.targetIp.writeTo(bytes, field.tpa);
  return bytes;
}
