/**
 * Ethernet II frames (IEEE 802.3 with an EtherType), as a packet socket delivers them: destination MAC first, no preamble,
 * no FCS. One IEEE 802.1Q VLAN tag is understood and skipped, because a director's capture interface may be a
 * trunk; a second (QinQ) tag is not, and shows up as EtherType 0x8100 with the tag left in the payload.
 *
 * Values below 0x0600 in the type field are IEEE 802.3 lengths, not EtherTypes. They are passed through as
 * `etherType` unchanged: no frame vipcheck cares about uses them, and callers dispatch on known types anyway.
 */
import {zeroedBuffer} from './bytes.js';
import {MacAddress} from './address.js';
import {fail, ok, type Parsed} from './parsed.js';
import {truncated} from './text.js';

export const EtherType = {IPv4: 0x0800, ARP: 0x0806, IPv6: 0x86dd, VLAN: 0x8100} as const;

export interface EthernetRepr {
  destination: MacAddress;
  source: MacAddress;
  etherType: number;
  /** When set, the frame carries one 802.1Q tag with this VLAN id (priority 0). */
  vlanId?: number;
}

const VLAN_TAG_LENGTH = 4;

export class EthernetFrame {
  static readonly HEADER_LENGTH = 14;
  /** The shortest frame a sender puts on the wire (64 bytes minus the FCS); shorter frames are zero-padded. */
  static readonly MIN_LENGTH = 60;

  private constructor(
    /** The whole frame as given to `parse` (not copied). */
    readonly bytes: Buffer,
    /** 14, or 18 when an 802.1Q tag sits between the source MAC and the EtherType. */
    readonly headerLength: number,
  ) {}

  static parse(bytes: Buffer): Parsed<EthernetFrame> {
    const plain = EthernetFrame.HEADER_LENGTH;
    if (bytes.length < plain) return fail(truncated('Ethernet header', plain, bytes.length));
    if (bytes.readUInt16BE(12) !== EtherType.VLAN) return ok(new EthernetFrame(bytes, plain));
    const tagged = plain + VLAN_TAG_LENGTH;
    if (bytes.length < tagged) return fail(truncated('802.1Q-tagged Ethernet header', tagged, bytes.length));
    return ok(new EthernetFrame(bytes, tagged));
  }

  get destination(): MacAddress {
    return MacAddress.fromBytes(this.bytes, 0);
  }

  get source(): MacAddress {
    return MacAddress.fromBytes(this.bytes, 6);
  }

  /** The EtherType after the VLAN tag, if any. */
  get etherType(): number {
    return this.bytes.readUInt16BE(this.headerLength - 2);
  }

  /** The 12-bit VLAN id of the 802.1Q tag, or undefined for an untagged frame. */
  get vlanId(): number | undefined {
    if (this.headerLength === EthernetFrame.HEADER_LENGTH) return undefined;
    return this.bytes.readUInt16BE(14) & 0x0fff;
  }

  /** Everything after the header, including any padding a short frame carries: inner codecs trim by length. */
  get payload(): Buffer {
    return this.bytes.subarray(this.headerLength);
  }

  toRepr(): EthernetRepr {
    const repr: EthernetRepr = {destination: this.destination, source: this.source, etherType: this.etherType};
    const vlanId = this.vlanId;
    if (vlanId !== undefined) repr.vlanId = vlanId;
    return repr;
  }
}

/** Emits header + payload, zero-padded to the 60-byte minimum a NIC would otherwise pad to. */
export function buildEthernet(repr: EthernetRepr, payload: Uint8Array): Buffer {
  const headerLength = EthernetFrame.HEADER_LENGTH + (repr.vlanId === undefined ? 0 : VLAN_TAG_LENGTH);
  const frame = zeroedBuffer(Math.max(headerLength + payload.length, EthernetFrame.MIN_LENGTH));
  repr.destination.writeTo(frame, 0);
  repr.source.writeTo(frame, 6);
  if (repr.vlanId !== undefined) {
    frame.writeUInt16BE(EtherType.VLAN, 12);
    frame.writeUInt16BE(repr.vlanId & 0x0fff, 14);
  }
  frame.writeUInt16BE(repr.etherType, headerLength - 2);
  frame.set(payload, headerLength);
  return frame;
}
