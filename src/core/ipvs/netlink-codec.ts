/**
 * The generic-netlink family IPVS (linux/ip_vs.h, version 1): commands, service and destination attributes.
 * Ports are in network order, addresses are 16 bytes (IPv4 in the first 4), the family is an AF_* number.
 * Decoders are checked: a reply that lacks an attribute the kernel always sends, or has one of the wrong size,
 * is a one-line error naming it.
 */
import type {IpAddress, IpFamily} from '../wire/address.js';
import {IpAddress as Ip} from '../wire/address.js';
import {IpProtocol} from '../wire/ip.js';
import {fail, ok, type Parsed} from '../wire/parsed.js';
import {
  attribute,
  be16Attribute,
  nestedAttribute,
  u16Attribute,
  u32Attribute,
  u8Attribute,
  type AttributeSet,
} from '../netlink/message.js';
import type {IpvsDestination, IpvsDestinationFields, IpvsForwarding, IpvsProtocol, IpvsService, IpvsServiceKey, IpvsTunnelType} from './model.js';

export const IPVS_FAMILY_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IpvsCommand = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  GET_INFO: 15,
} as const;

export const IPVS_CMD_ATTR_SERVICE = 1;
export const IPVS_CMD_ATTR_DEST = 2;

const SVC = {AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, PE_NAME: 11} as const;
const DEST = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  ADDR_FAMILY: 11,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;

const AF_INET = 2;
const AF_INET6 = 10;
const ADDRESS_ATTRIBUTE_BYTES = 16;

/** SCTP is not one of core/wire's protocols (nothing here builds it). */
const PROTOCOL_NUMBERS: Readonly<Record<IpvsProtocol, number>> = {tcp: IpProtocol.TCP, udp: IpProtocol.UDP, sctp: 132};
const FORWARDING: readonly IpvsForwarding[] = ['nat', 'local', 'tun', 'dr', 'bypass'];
const TUNNEL_TYPES: readonly IpvsTunnelType[] = ['ipip', 'gue', 'gre'];
/** IP_VS_CONN_F_FWD_MASK */
const FORWARDING_MASK = 0x7;

const afOf = (family: IpFamily): number => (family === 4 ? AF_INET : AF_INET6);
const familyOf = (af: number | undefined): IpFamily | undefined => (af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined);

function addressAttribute(type: number, address: IpAddress): Buffer {
  const data = Buffer.alloc(ADDRESS_ATTRIBUTE_BYTES);
  address.writeTo(data, 0);
  return attribute(type, data);
}

function readAddress(attributes: AttributeSet, type: number, family: IpFamily): IpAddress | undefined {
  const data = attributes.raw(type);
  // The kernel sends all 16 bytes of its union nf_inet_addr; accept exactly the family's length too.
  if (data === undefined || (data.length !== ADDRESS_ATTRIBUTE_BYTES && data.length !== (family === 4 ? 4 : 16))) return undefined;
  return Ip.fromBytes(data, 0, family);
}

/** The nested SERVICE attribute naming a service, as GET_DEST, SET_DEST, NEW_DEST and DEL_DEST want it. */
export function serviceKeyAttribute(key: IpvsServiceKey): Buffer {
  if (key.kind === 'fwmark') {
    return nestedAttribute(IPVS_CMD_ATTR_SERVICE, [u16Attribute(SVC.AF, afOf(key.family)), u32Attribute(SVC.FWMARK, key.fwmark)]);
  }
  return nestedAttribute(IPVS_CMD_ATTR_SERVICE, [
    u16Attribute(SVC.AF, afOf(key.address.family)),
    u16Attribute(SVC.PROTOCOL, PROTOCOL_NUMBERS[key.protocol]),
    addressAttribute(SVC.ADDR, key.address),
    be16Attribute(SVC.PORT, key.port),
  ]);
}


/**
 * The nested DEST attribute of NEW_DEST and SET_DEST: every field the kernel's ip_vs_genl_parse_dest reads. It
 * zeroes the destination before it parses, so a field left out here would be reset (DR to NAT, GUE to IPIP).
 */
export function destinationAttribute(destination: IpvsDestinationFields): Buffer {
  return nestedAttribute(IPVS_CMD_ATTR_DEST, [
    addressAttribute(DEST.ADDR, destination.address),
    be16Attribute(DEST.PORT, destination.port),
    u32Attribute(DEST.FWD_METHOD, FORWARDING.indexOf(destination.forwarding)),
    u32Attribute(DEST.WEIGHT, destination.weight),
    u32Attribute(DEST.U_THRESH, destination.upperThreshold),
    u32Attribute(DEST.L_THRESH, destination.lowerThreshold),
    u16Attribute(DEST.ADDR_FAMILY, afOf(destination.address.family)),
    u8Attribute(DEST.TUN_TYPE, TUNNEL_TYPES.indexOf(destination.tunnelType)),
    be16Attribute(DEST.TUN_PORT, destination.tunnelPort),
    u16Attribute(DEST.TUN_FLAGS, destination.tunnelFlags),
  ]);
}

/** The nested DEST attribute of DEL_DEST: address and port identify it. */
export function destinationKeyAttribute(destination: {address: IpAddress; port: number}): Buffer {
  return nestedAttribute(IPVS_CMD_ATTR_DEST, [
    addressAttribute(DEST.ADDR, destination.address),
    be16Attribute(DEST.PORT, destination.port),
    u16Attribute(DEST.ADDR_FAMILY, afOf(destination.address.family)),
  ]);
}

function protocolName(number: number | undefined): IpvsProtocol | undefined {
  return (Object.keys(PROTOCOL_NUMBERS) as IpvsProtocol[]).find((name) => PROTOCOL_NUMBERS[name] === number);
}

/** One service of a GET_SERVICE reply (the attributes inside IPVS_CMD_ATTR_SERVICE). */
export function decodeService(attributes: AttributeSet): Parsed<IpvsService> {
  const family = familyOf(attributes.u16(SVC.AF));
  if (family === undefined) return fail(`IPVS service: address family ${attributes.u16(SVC.AF) ?? 'missing'} is neither AF_INET nor AF_INET6`);
  const fwmark = attributes.u32(SVC.FWMARK);
  let key: IpvsServiceKey;
  if (fwmark !== undefined && fwmark !== 0) {
    key = {kind: 'fwmark', family, fwmark};
  } else {
    const protocol = protocolName(attributes.u16(SVC.PROTOCOL));
    const address = readAddress(attributes, SVC.ADDR, family);
    const port = attributes.be16(SVC.PORT);
    if (protocol === undefined) return fail(`IPVS service: protocol ${attributes.u16(SVC.PROTOCOL) ?? 'missing'} is not TCP, UDP or SCTP`);
    if (address === undefined || port === undefined) return fail('IPVS service: the address or port attribute is missing or malformed');
    key = {kind: 'address', protocol, address, port};
  }
  const flags = attributes.raw(SVC.FLAGS);
  const scheduler = attributes.string(SVC.SCHED_NAME);
  const timeout = attributes.u32(SVC.TIMEOUT);
  if (flags === undefined || flags.length !== 8) return fail('IPVS service: the flags attribute is missing or malformed');
  if (scheduler === undefined || timeout === undefined) return fail('IPVS service: the scheduler or timeout attribute is missing');
  return ok({key, scheduler, flags: flags.readUInt32LE(0), timeout, persistenceEngine: attributes.string(SVC.PE_NAME) ?? ''});
}

/** One destination of a GET_DEST reply (inside IPVS_CMD_ATTR_DEST); its family defaults to the service's. */
export function decodeDestination(attributes: AttributeSet, serviceFamily: IpFamily): Parsed<IpvsDestination> {
  const familyAttribute = attributes.u16(DEST.ADDR_FAMILY);
  const family = familyAttribute === undefined ? serviceFamily : familyOf(familyAttribute);
  if (family === undefined) return fail(`IPVS destination: address family ${familyAttribute} is neither AF_INET nor AF_INET6`);
  const address = readAddress(attributes, DEST.ADDR, family);
  const port = attributes.be16(DEST.PORT);
  const method = attributes.u32(DEST.FWD_METHOD);
  const weight = attributes.u32(DEST.WEIGHT);
  const upperThreshold = attributes.u32(DEST.U_THRESH);
  const lowerThreshold = attributes.u32(DEST.L_THRESH);
  if (address === undefined || port === undefined) return fail('IPVS destination: the address or port attribute is missing or malformed');
  const forwarding = method === undefined ? undefined : FORWARDING[method & FORWARDING_MASK];
  if (forwarding === undefined) return fail(`IPVS destination ${address}: forwarding method ${method ?? 'missing'} is unknown`);
  if (weight === undefined || upperThreshold === undefined || lowerThreshold === undefined) {
    return fail(`IPVS destination ${address}: the weight or threshold attributes are missing`);
  }
  // Kernels before 5.2 send no tunnel attributes: they can only do IPIP.
  const tunnelTypeNumber = attributes.u8(DEST.TUN_TYPE) ?? 0;
  const tunnelType = TUNNEL_TYPES[tunnelTypeNumber];
  if (tunnelType === undefined) return fail(`IPVS destination ${address}: tunnel type ${tunnelTypeNumber} is unknown`);
  return ok({
    address,
    port,
    forwarding,
    weight,
    upperThreshold,
    lowerThreshold,
    tunnelType,
    tunnelPort: attributes.be16(DEST.TUN_PORT) ?? 0,
    tunnelFlags: attributes.u16(DEST.TUN_FLAGS) ?? 0,
    activeConnections: attributes.u32(DEST.ACTIVE_CONNS) ?? 0,
    inactiveConnections: attributes.u32(DEST.INACT_CONNS) ?? 0,
    persistentConnections: attributes.u32(DEST.PERSIST_CONNS) ?? 0,
  });
}

export function serviceFamily(key: IpvsServiceKey): IpFamily {
  return key.kind === 'fwmark' ? key.family : key.address.family;
}
