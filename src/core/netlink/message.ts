/**
 * Netlink messages (RFC 3549, linux/netlink.h) and generic netlink (linux/genetlink.h): headers, attributes with
 * nesting, error replies. Pure codecs in host byte order (netlink is native-endian; every Linux vipcheck runs on
 * is little-endian, so this codec reads and writes little-endian). Parsing is checked: bad bytes give
 * `{ok: false, error}`, never a throw, and an AttributeSet obtained from a checked parse reads in bounds only.
 */
import {getSystemErrorMap} from 'node:util';
import {fail, ok, type Parsed} from '../wire/parsed.js';

export const NLMSG_HEADER_BYTES = 16;
export const GENL_HEADER_BYTES = 4;
const ATTRIBUTE_HEADER_BYTES = 4;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
/** NLM_F_ROOT | NLM_F_MATCH: every entry, in as many replies as it takes, ended by NLMSG_DONE. */
export const NLM_F_DUMP = 0x300;
/** In an error reply: the kernel appended TLVs (extended ack) after the echoed request. */
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

/** NETLINK_GENERIC's fixed family: the controller, which names the dynamic ids of the others. */
export const GENL_ID_CTRL = 0x10;

export interface NetlinkHeader {
  readonly type: number;
  readonly flags: number;
  readonly sequence: number;
  /** The sender's port id; 0 from the kernel. */
  readonly portId: number;
}

export interface NetlinkMessage extends NetlinkHeader {
  readonly payload: Buffer;
}

const align = (length: number): number => (length + 3) & ~3;

export function encodeMessage(header: NetlinkHeader, payload: Buffer): Buffer {
  const message = Buffer.alloc(NLMSG_HEADER_BYTES + payload.length);
  message.writeUInt32LE(message.length, 0);
  message.writeUInt16LE(header.type, 4);
  message.writeUInt16LE(header.flags, 6);
  message.writeUInt32LE(header.sequence >>> 0, 8);
  message.writeUInt32LE(header.portId >>> 0, 12);
  payload.copy(message, NLMSG_HEADER_BYTES);
  return message;
}

/** Every message of one datagram (the kernel packs several dump entries into one). */
export function parseMessages(datagram: Buffer): Parsed<NetlinkMessage[]> {
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    if (datagram.length - offset < NLMSG_HEADER_BYTES) return fail(`netlink: ${datagram.length - offset} trailing bytes are no message header`);
    const length = datagram.readUInt32LE(offset);
    if (length < NLMSG_HEADER_BYTES || length > datagram.length - offset) {
      return fail(`netlink: message length ${length} at offset ${offset} does not fit the ${datagram.length}-byte reply`);
    }
    messages.push({
      type: datagram.readUInt16LE(offset + 4),
      flags: datagram.readUInt16LE(offset + 6),
      sequence: datagram.readUInt32LE(offset + 8),
      portId: datagram.readUInt32LE(offset + 12),
      payload: datagram.subarray(offset + NLMSG_HEADER_BYTES, offset + length),
    });
    offset += Math.min(align(length), datagram.length - offset);
  }
  return ok(messages);
}

export interface NetlinkErrorReply {
  /** 0 is an acknowledgement; otherwise the positive errno. */
  readonly errno: number;
  /** The kernel's own reason (extended ack), when it gave one. */
  readonly kernelMessage: string | undefined;
}

/** The payload of NLMSG_ERROR: a negative errno, the request's header (and maybe more), then extended-ack TLVs. */
export function parseErrorReply(message: NetlinkMessage): Parsed<NetlinkErrorReply> {
  const payload = message.payload;
  if (payload.length < 4 + NLMSG_HEADER_BYTES) return fail(`netlink: an error reply of ${payload.length} bytes is too short`);
  const errno = -payload.readInt32LE(0);
  if (errno < 0) return fail(`netlink: an error reply with positive error ${-errno}`);
  let kernelMessage: string | undefined;
  if (message.flags & NLM_F_ACK_TLVS) {
    // NLM_F_CAPPED is not set by vipcheck's socket, so the whole request is echoed: skip it to reach the TLVs.
    const echoedLength = payload.readUInt32LE(4);
    const capped = (message.flags & 0x100) !== 0;
    const tlvStart = 4 + (capped ? NLMSG_HEADER_BYTES : align(Math.max(echoedLength, NLMSG_HEADER_BYTES)));
    const tlvs = tlvStart <= payload.length ? AttributeSet.parse(payload.subarray(tlvStart)) : undefined;
    if (tlvs?.ok) kernelMessage = tlvs.value.string(NLMSGERR_ATTR_MSG);
  }
  return ok({errno, kernelMessage});
}

/** `EPERM (operation not permitted)`: the errno's name and the system's text for it. */
export function describeErrno(errno: number): string {
  const known = getSystemErrorMap().get(-errno);
  return known ? `${known[0]} (${known[1]})` : `error ${errno}`;
}

export interface GenericMessage {
  readonly command: number;
  readonly version: number;
  readonly attributes: AttributeSet;
}

export function encodeGeneric(command: number, version: number, attributes: readonly Buffer[]): Buffer {
  const header = Buffer.alloc(GENL_HEADER_BYTES);
  header.writeUInt8(command, 0);
  header.writeUInt8(version, 1);
  return Buffer.concat([header, ...attributes]);
}

export function parseGeneric(payload: Buffer): Parsed<GenericMessage> {
  if (payload.length < GENL_HEADER_BYTES) return fail(`generic netlink: a ${payload.length}-byte payload has no header`);
  const attributes = AttributeSet.parse(payload.subarray(GENL_HEADER_BYTES));
  if (!attributes.ok) return attributes;
  return ok({command: payload.readUInt8(0), version: payload.readUInt8(1), attributes: attributes.value});
}

// Attribute builders: type-length-value, each padded to 4 bytes.

export function attribute(type: number, data: Buffer): Buffer {
  const out = Buffer.alloc(align(ATTRIBUTE_HEADER_BYTES + data.length));
  out.writeUInt16LE(ATTRIBUTE_HEADER_BYTES + data.length, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, ATTRIBUTE_HEADER_BYTES);
  return out;
}

function integerAttribute(type: number, bytes: number, write: (b: Buffer) => void): Buffer {
  const data = Buffer.alloc(bytes);
  write(data);
  return attribute(type, data);
}

export const u8Attribute = (type: number, value: number): Buffer => integerAttribute(type, 1, (b) => b.writeUInt8(value));
export const u16Attribute = (type: number, value: number): Buffer => integerAttribute(type, 2, (b) => b.writeUInt16LE(value));
export const u32Attribute = (type: number, value: number): Buffer => integerAttribute(type, 4, (b) => b.writeUInt32LE(value >>> 0));
/** Network byte order (ports). */
export const be16Attribute = (type: number, value: number): Buffer => integerAttribute(type, 2, (b) => b.writeUInt16BE(value));
/** NUL-terminated, as NLA_NUL_STRING and NLA_STRING policies both accept. */
export const stringAttribute = (type: number, value: string): Buffer => attribute(type, Buffer.from(`${value}\0`, 'utf8'));

/**
 * A nest, without NLA_F_NESTED: the ipvsadm 1.31 traffic captured in test/fixtures/ipvs carries none, the IPVS
 * family's policy accepts both, and our SET_DEST is tested byte for byte against ipvsadm's. Replies may carry the
 * flag; reading masks it off (NLA_TYPE_MASK).
 */
export function nestedAttribute(type: number, children: readonly Buffer[]): Buffer {
  return attribute(type, Buffer.concat(children));
}

/** The attributes of one level, by type (the last of a repeated type wins, as the kernel's nla_parse does). */
export class AttributeSet {
  private constructor(private readonly byType: ReadonlyMap<number, Buffer>) {}

  static parse(data: Buffer): Parsed<AttributeSet> {
    const byType = new Map<number, Buffer>();
    let offset = 0;
    while (data.length - offset >= ATTRIBUTE_HEADER_BYTES) {
      const length = data.readUInt16LE(offset);
      if (length < ATTRIBUTE_HEADER_BYTES || length > data.length - offset) {
        return fail(`netlink: attribute length ${length} at offset ${offset} does not fit its ${data.length}-byte container`);
      }
      byType.set(data.readUInt16LE(offset + 2) & NLA_TYPE_MASK, data.subarray(offset + ATTRIBUTE_HEADER_BYTES, offset + length));
      offset += align(length);
    }
    return ok(new AttributeSet(byType));
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  raw(type: number): Buffer | undefined {
    return this.byType.get(type);
  }

  /** The integer readers give undefined for an absent attribute or one of the wrong size. */
  u8(type: number): number | undefined {
    return this.integer(type, 1, (data) => data.readUInt8(0));
  }

  u16(type: number): number | undefined {
    return this.integer(type, 2, (data) => data.readUInt16LE(0));
  }

  u32(type: number): number | undefined {
    return this.integer(type, 4, (data) => data.readUInt32LE(0));
  }

  be16(type: number): number | undefined {
    return this.integer(type, 2, (data) => data.readUInt16BE(0));
  }

  /** Up to the first NUL. */
  string(type: number): string | undefined {
    const data = this.byType.get(type);
    if (data === undefined) return undefined;
    const end = data.indexOf(0);
    return data.subarray(0, end < 0 ? data.length : end).toString('utf8');
  }

  private integer(type: number, size: number, read: (data: Buffer) => number): number | undefined {
    const data = this.byType.get(type);
    return data?.length === size ? read(data) : undefined;
  }

  nested(type: number): Parsed<AttributeSet> | undefined {
    const data = this.byType.get(type);
    return data === undefined ? undefined : AttributeSet.parse(data);
  }
}
