/**
 * Facts about this host's interfaces, read from /sys and os.networkInterfaces() (no process spawned: every check
 * is a new process, and start-up is the product's main cost).
 */
import {readFileSync} from 'node:fs';
import {networkInterfaces, type NetworkInterfaceInfo} from 'node:os';
import {EnvironmentError} from '../errors.js';
import {IpAddress, MacAddress} from '../wire/address.js';

/** ARPHRD_ETHER from linux/if_arp.h: the only link type we build frames for. */
const ARPHRD_ETHER = 1;
const IFF_UP = 0x1;
const IFF_NOARP = 0x80;

export interface InterfaceAddress {
  readonly address: IpAddress;
  readonly prefixLength: number;
}

export interface InterfaceInfo {
  readonly name: string;
  readonly mac: MacAddress;
  readonly up: boolean;
  readonly arp: boolean;
  readonly ethernet: boolean;
  /** Link MTU; 1500 when unreadable. Sets the MSS we advertise. */
  readonly mtu: number;
  readonly addresses: readonly InterfaceAddress[];
}

const VALID_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

let addressSnapshot: {readonly addresses: NodeJS.Dict<NetworkInterfaceInfo[]>; readonly at: number} | undefined;

/**
 * How long a snapshot of the addresses serves. A one-shot check (seconds) judges the addresses it started with;
 * the agent, which lives for months, sees a VIP that comes or goes within this long.
 */
const ADDRESS_SNAPSHOT_MS = 1000;

/**
 * This host's addresses, from a snapshot at most ADDRESS_SNAPSHOT_MS old: each os.networkInterfaces() call is a
 * netlink dump, and one check asks several times (egress, source, "is the VIP local?").
 */
export function hostAddresses(): NodeJS.Dict<NetworkInterfaceInfo[]> {
  const now = performance.now();
  if (!addressSnapshot || now - addressSnapshot.at > ADDRESS_SNAPSHOT_MS) addressSnapshot = {addresses: networkInterfaces(), at: now};
  return addressSnapshot.addresses;
}

function readSys(name: string, file: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function interfaceInfo(name: string): InterfaceInfo {
  if (!VALID_NAME.test(name) || name.includes('..')) throw new EnvironmentError(`invalid interface name '${name}'`);
  const flagsText = readSys(name, 'flags');
  if (flagsText === undefined) throw new EnvironmentError(`interface ${name} does not exist`);
  const flags = Number.parseInt(flagsText, 16);
  const type = Number.parseInt(readSys(name, 'type') ?? '0', 10);
  const mac = MacAddress.parse(readSys(name, 'address') ?? '') ?? MacAddress.ZERO;
  return {
    name,
    mac,
    up: (flags & IFF_UP) !== 0,
    arp: (flags & IFF_NOARP) === 0,
    ethernet: type === ARPHRD_ETHER,
    mtu: Number.parseInt(readSys(name, 'mtu') ?? '', 10) || 1500,
    addresses: interfaceAddresses(name),
  };
}

export function interfaceAddresses(name: string): InterfaceAddress[] {
  const entries = hostAddresses()[name] ?? [];
  const result: InterfaceAddress[] = [];
  for (const entry of entries) {
    const address = IpAddress.parse(entry.address.replace(/%.*$/, ''));
    const prefix = entry.cidr ? Number.parseInt(entry.cidr.split('/')[1] ?? '', 10) : Number.NaN;
    if (address && Number.isInteger(prefix)) result.push({address, prefixLength: prefix});
  }
  return result;
}

/** Names of interfaces holding `address` (the kernel treats any such address as local). */
export function interfacesHolding(address: IpAddress): string[] {
  const names: string[] = [];
  for (const [name, entries] of Object.entries(hostAddresses())) {
    for (const entry of entries ?? []) {
      if (address.equals(IpAddress.parse(entry.address.replace(/%.*$/, '')))) names.push(name);
    }
  }
  return names;
}

export function isLocalAddress(address: IpAddress): boolean {
  return interfacesHolding(address).length > 0;
}
