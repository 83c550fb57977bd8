/**
 * The IPv4 per-interface sysctls that decide ARP behaviour, read from a /proc tree (injectable so tests use a
 * fake one), and the kernel's rule for combining `conf/all` with `conf/<iface>` (lvs-dr.md, "ARP sysctls";
 * include/linux/inetdevice.h): arp_ignore, arp_announce and rp_filter take the maximum of the two, arp_filter,
 * proxy_arp and accept_local are on when either is.
 */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';

export const CONF_KEYS = ['arp_ignore', 'arp_announce', 'arp_filter', 'rp_filter', 'proxy_arp', 'accept_local'] as const;
export type ConfKey = (typeof CONF_KEYS)[number];

export const COMBINE: Readonly<Record<ConfKey, 'max' | 'or'>> = {
  arp_ignore: 'max',
  arp_announce: 'max',
  rp_filter: 'max',
  arp_filter: 'or',
  proxy_arp: 'or',
  accept_local: 'or',
};

/** Values of one `conf/<device>` directory; a key is absent when its file could not be read. */
export type ConfValues = Partial<Record<ConfKey, number>>;

/**
 * The value the kernel acts on for `device`. When only one of the two could be read it decides alone;
 * undefined when neither could.
 */
export function effectiveConf(key: ConfKey, all: ConfValues, device: ConfValues): number | undefined {
  const a = all[key];
  const d = device[key];
  if (a === undefined || d === undefined) return a ?? d;
  return COMBINE[key] === 'max' ? Math.max(a, d) : a !== 0 || d !== 0 ? 1 : 0;
}

/** Reads every CONF_KEYS file of `<procRoot>/sys/net/ipv4/conf/<device>/`; unreadable or non-numeric ones are left out. */
export function readConf(procRoot: string, device: string): ConfValues {
  const values: ConfValues = {};
  if (device.includes('/') || device === '..' || device === '.') return values;
  for (const key of CONF_KEYS) {
    let text: string;
    try {
      text = readFileSync(join(procRoot, 'sys/net/ipv4/conf', device, key), 'utf8').trim();
    } catch {
      continue;
    }
    if (/^-?\d{1,10}$/.test(text)) values[key] = Number.parseInt(text, 10);
  }
  return values;
}

/** The sysctl(8) name: dots separate levels, so a dot inside an interface name (VLAN eth0.100) becomes `/`. */
export function sysctlName(device: string, key: ConfKey): string {
  return `net.ipv4.conf.${device.replace(/\./g, '/')}.${key}`;
}

/**
 * The command that makes the effective value of a max-combined key at least `minimum`: raising `all` is
 * enough (and covers interfaces added later), which is the LVS real-server recipe.
 */
export function raiseCommand(key: ConfKey, minimum: number, device = 'all'): string {
  return `sysctl -w ${sysctlName(device, key)}=${minimum}`;
}

/**
 * The command that turns an OR-combined key off for `device`: every one of `all` and the device that is
 * on must be set to 0 (setting one alone changes nothing).
 */
export function clearCommand(key: ConfKey, device: string, all: ConfValues, values: ConfValues): string {
  const names = [
    ...(all[key] !== 0 ? [sysctlName('all', key)] : []),
    ...(values[key] !== 0 ? [sysctlName(device, key)] : []),
  ];
  return `sysctl -w ${names.map((n) => `${n}=0`).join(' ')}`;
}
