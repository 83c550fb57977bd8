/**
 * Egress interface and source address towards a real server, from the kernel's main routing table
 * (/proc/net/route, /proc/net/ipv6_route). DR needs the real server on-link: a route through a gateway means
 * the frame would go to the router's MAC, not the real server's, which is not the path IPVS uses.
 *
 * Policy routing (ip rule) is not consulted; `--interface` and `--source` override the lookup.
 */
import {readFileSync} from 'node:fs';
import {EnvironmentError} from '../errors.js';
import {IpAddress} from '../wire/address.js';
import {HOST_SNAPSHOT_MS, interfaceAddresses, interfaceInfo, type InterfaceAddress} from './interfaces.js';

export interface RouteEntry {
  readonly interfaceName: string;
  readonly destination: IpAddress;
  readonly prefixLength: number;
  /** Undefined for on-link routes. */
  readonly gateway: IpAddress | undefined;
  readonly metric: number;
}

/** Parses /proc/net/route: hex fields in host (little-endian) byte order. */
export function parseIpv4RouteTable(text: string): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, gw, flags, , , metric, mask] = f as [string, string, string, string, string, string, string, string];
    const RTF_UP = 0x1;
    const RTF_GATEWAY = 0x2;
    const flagBits = Number.parseInt(flags, 16);
    if ((flagBits & RTF_UP) === 0) continue;
    const maskBytes = leHexToBytes(mask);
    routes.push({
      interfaceName: iface,
      destination: IpAddress.fromBytes(leHexToBytes(dest), 0, 4),
      prefixLength: countBits(maskBytes),
      gateway: flagBits & RTF_GATEWAY ? IpAddress.fromBytes(leHexToBytes(gw), 0, 4) : undefined,
      metric: Number.parseInt(metric, 10),
    });
  }
  return routes;
}

/** Parses /proc/net/ipv6_route: dest, dest prefix, src, src prefix, next hop, metric, refcnt, use, flags, iface. */
export function parseIpv6RouteTable(text: string): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, destLen, , , nextHop, metric, , , flags, iface] = f as string[] as [
      string, string, string, string, string, string, string, string, string, string,
    ];
    const RTF_UP = 0x1;
    const RTF_REJECT = 0x200;
    const flagBits = Number.parseInt(flags, 16);
    if ((flagBits & RTF_UP) === 0 || flagBits & RTF_REJECT || iface === 'lo') continue;
    const gateway = IpAddress.fromBytes(Buffer.from(nextHop, 'hex'), 0, 6);
    routes.push({
      interfaceName: iface,
      destination: IpAddress.fromBytes(Buffer.from(dest, 'hex'), 0, 6),
      prefixLength: Number.parseInt(destLen, 16),
      gateway: gateway.isUnspecified ? undefined : gateway,
      metric: Number.parseInt(metric, 16),
    });
  }
  return routes;
}

function leHexToBytes(hex: string): Buffer {
  return Buffer.from(hex.padStart(8, '0'), 'hex').reverse();
}

function countBits(bytes: Buffer): number {
  let n = 0;
  for (const b of bytes) for (let v = b; v; v >>= 1) n += v & 1;
  return n;
}

/** Longest prefix wins, then the lowest metric (what the kernel's main table does). */
export function bestRoute(routes: readonly RouteEntry[], target: IpAddress): RouteEntry | undefined {
  let best: RouteEntry | undefined;
  for (const r of routes) {
    if (!target.inPrefix(r.destination, r.prefixLength)) continue;
    if (!best || r.prefixLength > best.prefixLength || (r.prefixLength === best.prefixLength && r.metric < best.metric)) {
      best = r;
    }
  }
  return best;
}

const routeSnapshots = new Map<4 | 6, {readonly routes: readonly RouteEntry[]; readonly at: number}>();

/** The main table, read at most once per HOST_SNAPSHOT_MS, as the addresses are (interfaces.ts). */
export function readRoutes(family: 4 | 6): readonly RouteEntry[] {
  const now = performance.now();
  const cached = routeSnapshots.get(family);
  if (cached && now - cached.at <= HOST_SNAPSHOT_MS) return cached.routes;
  const path = family === 4 ? '/proc/net/route' : '/proc/net/ipv6_route';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new EnvironmentError(`cannot read the routing table ${path}`);
  }
  const routes = family === 4 ? parseIpv4RouteTable(text) : parseIpv6RouteTable(text);
  routeSnapshots.set(family, {routes, at: now});
  return routes;
}

/**
 * The address we send from: one on the egress interface whose prefix holds the target (the director's
 * RIP-side address), else the interface's first address of that family. Never a /32 or /128 host address
 * (that is where a VIP lives), never an IPv6 link-local one unless nothing else exists.
 */
export function chooseSourceAddress(addresses: readonly InterfaceAddress[], target: IpAddress): IpAddress | undefined {
  // Loops, not filter/find: the agent asks on every probe, and a director with hundreds of VIPs would copy its
  // whole address list each time (4 KB a probe, the largest allocation of the probe path, measured).
  const hostLength = target.family === 4 ? 32 : 128;
  let fallback: IpAddress | undefined;
  let linkLocalFallback: IpAddress | undefined;
  for (const a of addresses) {
    if (a.address.family !== target.family || a.prefixLength >= hostLength) continue;
    if (target.inPrefix(a.address, a.prefixLength)) return a.address;
    if (isLinkLocal(a.address)) linkLocalFallback ??= a.address;
    else fallback ??= a.address;
  }
  return fallback ?? linkLocalFallback;
}

function isLinkLocal(a: IpAddress): boolean {
  if (a.family !== 6) return false;
  const bytes = a.bytes;
  return bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80;
}

export interface EgressChoice {
  readonly interfaceName: string;
  readonly source: IpAddress;
}

/**
 * Resolves the interface and source address for frames to `target`, honouring explicit choices. Throws
 * EnvironmentError (UNKNOWN) when the target is not on-link, since DR requires L2 adjacency; with `routed`
 * a gateway is fine (tunnel mode reaches the real server through the kernel's routing).
 */
export function chooseEgress(target: IpAddress, explicitInterface?: string, explicitSource?: IpAddress, routed = false): EgressChoice {
  let interfaceName = explicitInterface;
  if (interfaceName) {
    interfaceInfo(interfaceName); // throws a clear EnvironmentError for a missing interface
  } else {
    const route = bestRoute(readRoutes(target.family), target);
    if (!route) throw new EnvironmentError(`no route to ${target} (give --interface)`);
    if (route.gateway && !routed) {
      throw new EnvironmentError(
        `${target} is not on-link (routed via ${route.gateway} on ${route.interfaceName}): ` +
          'LVS-DR needs the real server on the same L2 segment as the checking host',
      );
    }
    interfaceName = route.interfaceName;
  }
  const source = explicitSource ?? chooseSourceAddress(interfaceAddresses(interfaceName), target);
  if (!source) throw new EnvironmentError(`interface ${interfaceName} has no IPv${target.family} address (give --source)`);
  return {interfaceName, source};
}
