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

interface AddressSnapshot {
  readonly addresses: NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** The same, parsed: per interface, and every local address's text, for the lookups a probe makes. */
  readonly parsed: ReadonlyMap<string, readonly InterfaceAddress[]>;
  readonly holders: ReadonlyMap<string, readonly string[]>;
  readonly at: number;
}

let addressSnapshot: AddressSnapshot | undefined;

/**
 * How long a snapshot of the addresses (and of the routes, route.ts) serves. A one-shot check (seconds) judges
 * the addresses it started with; the agent, which lives for months, sees a VIP that comes or goes within this long.
 */
export const HOST_SNAPSHOT_MS = 1000;

/**
 * This host's addresses, from a snapshot at most HOST_SNAPSHOT_MS old: each os.networkInterfaces() call is a
 * netlink dump, and one check asks several times (egress, source, "is the VIP local?"). The snapshot is parsed
 * once: with 250 VIPs on a director, parsing every address for each of 2,000 probes a second was a tenth of the
 * agent's CPU (measured).
 */
function snapshot(): AddressSnapshot {
  const now = performance.now();
  if (addressSnapshot && now - addressSnapshot.at <= HOST_SNAPSHOT_MS) return addressSnapshot;
  const addresses = networkInterfaces();
  const parsed = new Map<string, InterfaceAddress[]>();
  const holders = new Map<string, string[]>();
  for (const [name, entries] of Object.entries(addresses)) {
    const list: InterfaceAddress[] = [];
    for (const entry of entries ?? []) {
      const address = IpAddress.parse(entry.address.replace(/%.*$/, ''));
      if (!address) continue;
      const text = address.toString();
      const names = holders.get(text);
      if (!names) holders.set(text, [name]);
      else if (!names.includes(name)) names.push(name);
      const prefix = entry.cidr ? Number.parseInt(entry.cidr.split('/')[1] ?? '', 10) : Number.NaN;
      if (Number.isInteger(prefix)) list.push({address, prefixLength: prefix});
    }
    parsed.set(name, list);
  }
  addressSnapshot = {addresses, parsed, holders, at: now};
  return addressSnapshot;
}

export function hostAddresses(): NodeJS.Dict<NetworkInterfaceInfo[]> {
  return snapshot().addresses;
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

export function interfaceAddresses(name: string): readonly InterfaceAddress[] {
  return snapshot().parsed.get(name) ?? [];
}

/** Names of interfaces holding `address` (the kernel treats any such address as local). */
export function interfacesHolding(address: IpAddress): string[] {
  return [...(snapshot().holders.get(address.toString()) ?? [])];
}

export function isLocalAddress(address: IpAddress): boolean {
  return snapshot().holders.has(address.toString());
}
