/**
 * Gathers the facts local mode judges: every interface in /sys/class/net (link type and flags through the core
 * interfaceInfo), its addresses from os.networkInterfaces() with alias labels such as `lo:0` folded into their
 * device, and the ARP sysctls from a /proc tree (a parameter, so tests point it at a fake tree).
 *
 * os.networkInterfaces() lists only interfaces that are up and running; an address on a down interface is not
 * local to the kernel either, so the VIP there counts as missing.
 */
import {execFileSync} from 'node:child_process';
import {readdirSync, readFileSync} from 'node:fs';
import {hostAddresses, interfaceAddresses, interfaceInfo, type InterfaceAddress} from '../../core/neighbor/interfaces.js';
import {EnvironmentError} from '../../core/errors.js';
import {IpAddress} from '../../core/wire/address.js';
import type {GuePorts, Ipv6AddressState, LocalFacts, LocalInterface} from './local.js';
import {readConf} from './sysctl.js';

/**
 * ARPHRD_TUNNEL (ipip, tunl0), ARPHRD_TUNNEL6 (ip6tnl), ARPHRD_IPGRE and ARPHRD_IP6GRE from linux/if_arp.h:
 * where IPVS-TUN traffic is decapsulated.
 */
const TUNNEL_TYPES = new Set([768, 769, 778, 823]);

export interface LocalFactsSources {
  readonly procRoot?: string;
  /** Interface names; default: the entries of /sys/class/net. */
  readonly interfaceNames?: () => string[];
  /** GUE receive ports; when given, `fouPorts` is filled (readFouPorts reads `ip fou show`). */
  readonly fouPorts?: () => GuePorts;
}

export function gatherLocalFacts(sources: LocalFactsSources = {}): LocalFacts {
  const procRoot = sources.procRoot ?? '/proc';
  const names = (sources.interfaceNames ?? listSysInterfaces)();
  const aliases = aliasAddresses();
  const interfaces: LocalInterface[] = [];
  for (const name of names) {
    let info;
    try {
      info = interfaceInfo(name);
    } catch {
      continue; // vanished since the listing, or a name we refuse to put into a path
    }
    interfaces.push({
      name,
      mac: info.mac,
      up: info.up,
      ethernet: info.ethernet,
      arp: info.arp,
      tunnel: TUNNEL_TYPES.has(Number.parseInt(readSysType(name), 10)),
      addresses: [...info.addresses, ...(aliases.get(name) ?? [])],
      conf: readConf(procRoot, name),
    });
  }
  const all = readConf(procRoot, 'all');
  if (Object.keys(all).length === 0) {
    throw new EnvironmentError(`cannot read ${procRoot}/sys/net/ipv4/conf/all (is /proc mounted?)`);
  }
  const fouPorts = sources.fouPorts?.();
  return {interfaces, all, ipv6Unusable: readIpv6Unusable(procRoot), ...(fouPorts ? {fouPorts} : {})};
}

// IFA_F_* from <linux/if_addr.h>, the flags column of /proc/net/if_inet6.
const IFA_F_DADFAILED = 0x08;
const IFA_F_TENTATIVE = 0x40;

/**
 * Tentative and DAD-failed IPv6 addresses from /proc/net/if_inet6 (one line per address: 32 hex digits,
 * ifindex, prefix length, scope, flags, device). No file (IPv6 disabled): none.
 */
export function readIpv6Unusable(procRoot: string): Ipv6AddressState[] {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/net/if_inet6`, 'utf8');
  } catch {
    return [];
  }
  const states: Ipv6AddressState[] = [];
  for (const line of text.split('\n')) {
    const [hex, , , , flagsHex, interfaceName] = line.trim().split(/\s+/);
    if (!hex || !/^[0-9a-f]{32}$/i.test(hex) || !flagsHex || !interfaceName) continue;
    const flags = Number.parseInt(flagsHex, 16);
    const state = flags & IFA_F_DADFAILED ? 'dadfailed' : flags & IFA_F_TENTATIVE ? 'tentative' : undefined;
    if (!state) continue;
    const address = IpAddress.parse(hex.match(/.{4}/g)!.join(':'));
    if (address) states.push({interfaceName, address, state});
  }
  return states;
}

/**
 * The GUE lines of `ip fou show` (`port 6080 gue`, with `-6` on an IPv6 receiver: iproute2 lists both families
 * whatever -4/-6 says), by family.
 */
export function parseFouShow(text: string): GuePorts {
  const ports: {4: number[]; 6: number[]} = {4: [], 6: []};
  for (const m of text.matchAll(/^port (\d+) gue\b(.*)$/gm)) ports[/(^|\s)-6(\s|$)/.test(m[2]!) ? 6 : 4].push(Number(m[1]));
  return ports;
}

/** GUE receive ports per outer family; none where iproute2 or the fou module is missing. */
export function readFouPorts(): GuePorts {
  try {
    return parseFouShow(execFileSync('ip', ['fou', 'show'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000}));
  } catch {
    return {4: [], 6: []}; // no fou module loaded ("Generic Netlink family fou not found") or no ip: no receiver
  }
}

function listSysInterfaces(): string[] {
  try {
    return readdirSync('/sys/class/net');
  } catch {
    throw new EnvironmentError('cannot list /sys/class/net');
  }
}

function readSysType(name: string): string {
  try {
    return readFileSync(`/sys/class/net/${name}/type`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Addresses carrying an alias label (`lo:0`, `eth0:vip`), which os.networkInterfaces() lists under the label. */
function aliasAddresses(): Map<string, InterfaceAddress[]> {
  const byDevice = new Map<string, InterfaceAddress[]>();
  for (const label of Object.keys(hostAddresses()).filter((l) => l.includes(':'))) {
    const device = label.split(':')[0]!;
    byDevice.set(device, [...(byDevice.get(device) ?? []), ...interfaceAddresses(label)]);
  }
  return byDevice;
}
