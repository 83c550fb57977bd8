/**
 * The IPVS table as vipcheck sees it, independent of how it was read: the kernel's generic-netlink family
 * `IPVS` (full detail, needs CAP_NET_ADMIN even to read) or `/proc/net/ip_vs` (read-only, no tunnel type or
 * thresholds). The agent's discovery and weight management and `ipvs-audit` all work on these types, so they
 * can be tested against a table built in memory.
 */
import {formatHostPort, type IpAddress, type IpFamily} from '../wire/address.js';

/** IP_VS_CONN_F_FWD_MASK values: 0 masq (NAT), 1 local, 2 tunnel, 3 droute (DR), 4 bypass. */
export type IpvsForwarding = 'nat' | 'local' | 'tun' | 'dr' | 'bypass';
/** IP_VS_CONN_F_TUNNEL_TYPE_*: 0 ipip, 1 gue, 2 gre. */
export type IpvsTunnelType = 'ipip' | 'gue' | 'gre';
export type IpvsProtocol = 'tcp' | 'udp' | 'sctp';

/** A virtual service is named by protocol + VIP + port, or by a firewall mark (with the family it applies to). */
export type IpvsServiceKey =
  | {readonly kind: 'address'; readonly protocol: IpvsProtocol; readonly address: IpAddress; readonly port: number}
  | {readonly kind: 'fwmark'; readonly family: IpFamily; readonly fwmark: number};

export interface IpvsService {
  readonly key: IpvsServiceKey;
  readonly scheduler: string;
  /** IP_VS_SVC_F_* bits; bit 0 is persistence. */
  readonly flags: number;
  /** Persistence timeout, seconds (0 when not persistent). */
  readonly timeout: number;
  /** Persistence engine name ("sip"), empty when none. */
  readonly persistenceEngine: string;
}

export interface IpvsDestination {
  readonly address: IpAddress;
  readonly port: number;
  readonly forwarding: IpvsForwarding;
  readonly weight: number;
  readonly upperThreshold: number;
  readonly lowerThreshold: number;
  /** Meaningful for forwarding 'tun' only; what the kernel stores otherwise is kept as read. */
  readonly tunnelType: IpvsTunnelType;
  readonly tunnelPort: number;
  readonly tunnelFlags: number;
  readonly activeConnections: number;
  readonly inactiveConnections: number;
  readonly persistentConnections: number;
}

export interface IpvsServiceEntry {
  readonly service: IpvsService;
  readonly destinations: readonly IpvsDestination[];
}

export interface IpvsTable {
  readonly services: readonly IpvsServiceEntry[];
  /** Where it was read from: the /proc fallback lacks tunnel types and thresholds (they read as ipip and 0). */
  readonly source: 'netlink' | 'proc';
}

/** The destination fields a write may change; everything else is read from the kernel and written back as it was. */
export interface IpvsDestinationChange {
  readonly weight?: number;
}

/**
 * Reads and writes the kernel's table. Every write is a read-modify-write of the whole destination
 * (IPVS_CMD_SET_DEST zeroes what it is not given), done by the implementation, never by callers.
 */
export interface IpvsControl {
  readonly canWrite: boolean;
  read(): Promise<IpvsTable>;
  /** Changes the named fields of one destination and returns it as the kernel now holds it. */
  updateDestination(service: IpvsServiceKey, destination: {address: IpAddress; port: number}, change: IpvsDestinationChange): Promise<IpvsDestination>;
  addDestination(service: IpvsServiceKey, destination: Omit<IpvsDestination, 'activeConnections' | 'inactiveConnections' | 'persistentConnections'>): Promise<void>;
  removeDestination(service: IpvsServiceKey, destination: {address: IpAddress; port: number}): Promise<void>;
  close(): void;
}

export type IpvsDestinationFields = Omit<IpvsDestination, 'activeConnections' | 'inactiveConnections' | 'persistentConnections'>;

/** A destination to add: DR, weight 1, no thresholds, unless `fields` says otherwise. */
export function newDestination(address: IpAddress, port: number, fields: Partial<IpvsDestinationFields> = {}): IpvsDestinationFields {
  return {address, port, forwarding: 'dr', weight: 1, upperThreshold: 0, lowerThreshold: 0, tunnelType: 'ipip', tunnelPort: 0, tunnelFlags: 0, ...fields};
}

export function sameServiceKey(a: IpvsServiceKey, b: IpvsServiceKey): boolean {
  if (a.kind === 'fwmark') return b.kind === 'fwmark' && a.fwmark === b.fwmark && a.family === b.family;
  return b.kind === 'address' && a.protocol === b.protocol && a.port === b.port && a.address.equals(b.address);
}

/** The form ipvsadm prints: `TCP 198.51.100.100:80`, `TCP [2001:db8::100]:80`, `FWM 7 (IPv4)`. */
export function describeServiceKey(key: IpvsServiceKey): string {
  if (key.kind === 'fwmark') return `FWM ${key.fwmark} (IPv${key.family})`;
  return `${key.protocol.toUpperCase()} ${formatHostPort(key.address, key.port)}`;
}
