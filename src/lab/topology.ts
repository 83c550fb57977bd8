// What the lab looks like: one L2 segment (a Linux bridge in its own "switch" namespace) and six hosts.
// Pure data plus the `ip -batch` lines and sysctls that realise it; lab.ts runs them.
//
// Only documentation ranges are used: 198.51.100.0/24 (RFC 5737) and 2001:db8::/32 (RFC 3849).

export const HOST_NAMES = ['director', 'backup', 'good', 'novip', 'closed', 'client'] as const;
export type HostName = (typeof HOST_NAMES)[number];

export type HostRole = 'director' | 'backup' | 'realserver' | 'client';

export const SUBNET4 = '198.51.100.0/24';
export const SUBNET6 = '2001:db8:100::/64';
export const VIP4 = '198.51.100.100';
export const VIP6 = '2001:db8:100::100';
export const HTTP_PORT = 80;
/** Every host's interface onto the segment. */
export const IFACE = 'eth0';
/** The bridge in the switch namespace and its own (never used on the wire) MAC. */
export const BRIDGE = 'br0';
export const BRIDGE_MAC = '02:00:00:00:01:ff';

export interface HostPlan {
  readonly name: HostName;
  readonly role: HostRole;
  readonly ipv4: string;
  readonly ipv6: string;
  /** Locally administered, deterministic: the last octet is the host's IPv4 last octet written as hex digits. */
  readonly mac: string;
  /** Where the VIP is configured: eth0 on the active director, lo on a healthy real server, nowhere otherwise. */
  readonly vip: 'eth0' | 'lo' | null;
  /** Whether a web server listens on port 80 (all addresses, IPv4 and IPv6). */
  readonly http: boolean;
}

function plan(name: HostName, role: HostRole, octet: number, vip: HostPlan['vip'], http: boolean): HostPlan {
  const tag = String(octet).padStart(2, '0'); // .11 -> 02:00:00:00:00:11, easy to match by eye in captures
  return { name, role, ipv4: `198.51.100.${octet}`, ipv6: `2001:db8:100::${octet}`, mac: `02:00:00:00:00:${tag}`, vip, http };
}

export const HOSTS: Readonly<Record<HostName, HostPlan>> = {
  director: plan('director', 'director', 2, 'eth0', false),
  backup: plan('backup', 'backup', 3, null, false),
  good: plan('good', 'realserver', 11, 'lo', true),
  // The classic fault: the RIP answers (so a RIP:80 check is green) but VIP traffic is dropped.
  novip: plan('novip', 'realserver', 12, null, true),
  // VIP present, nothing listening: a VIP-path SYN gets RST.
  closed: plan('closed', 'realserver', 13, 'lo', false),
  client: plan('client', 'client', 50, null, false),
};

/** Name of the bridge port (in the switch namespace) that leads to a host; <= 15 chars (IFNAMSIZ). */
export function portName(host: HostName): string {
  return `p-${host}`;
}

/** Switch-side MAC of a host's veth; deterministic so that every MAC in a capture is recognisable. */
export function portMac(host: HostName): string {
  return HOSTS[host].mac.replace(/^02:00:00:00:00:/, '02:00:00:00:01:');
}

/** The EUI-64 link-local address the kernel derives from a MAC (addrgenmode eui64, the default). */
export function linkLocalFromMac(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  const eui = [(b[0] ?? 0) ^ 0x02, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]].map((x) => x ?? 0);
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push((((eui[i] ?? 0) << 8) | (eui[i + 1] ?? 0)).toString(16));
  // Compress leading zero groups the way `ip` prints them: fe80::ff:fe00:11.
  while (groups.length > 1 && groups[0] === '0') groups.shift();
  return `fe80::${groups.join(':')}`;
}

/**
 * IPv4 neighbour sysctls per role. They are written for both `all` and `eth0`:
 * - arp_ignore, arp_announce and rp_filter combine as max(all, eth0), arp_filter/proxy_arp/accept_local as OR,
 *   so the value that takes effect is only certain when both are pinned;
 * - a new network namespace inherits the IPv4 `all`/`default` values of the host's initial namespace
 *   (net.core.devconf_inherit_init_net=0), so a CI machine with, say, arp_ignore=1 globally would otherwise
 *   leak into the lab and turn the "ordinary" client into a DR-tuned host.
 * Note for fault injection: because of max(), lowering only eth0 (or only all) changes nothing; a test that
 * wants an RS that answers ARP for its VIP must lower both.
 */
const ARP_SYSCTLS: Readonly<Record<HostRole, Readonly<Record<string, number>>>> = {
  // Directors answer ARP only for addresses on the receiving interface (the VIP is on eth0, so it is
  // answered), never advertise a foreign source, and keep accept_local=0 so that the real server's SYN-ACK
  // from the (locally configured) VIP is dropped as a martian rather than answered with RST (the RST trap).
  director: { arp_ignore: 1, arp_announce: 2, arp_filter: 0, proxy_arp: 0, accept_local: 0, rp_filter: 2 },
  backup: { arp_ignore: 1, arp_announce: 2, arp_filter: 0, proxy_arp: 0, accept_local: 0, rp_filter: 2 },
  // The LVS-DR real-server recipe: never answer ARP for the VIP on lo (arp_ignore=1), never use the VIP
  // as the sender address of our own ARP requests (arp_announce=2).
  realserver: { arp_ignore: 1, arp_announce: 2, arp_filter: 0, proxy_arp: 0, accept_local: 0, rp_filter: 0 },
  // An ordinary host with kernel defaults.
  client: { arp_ignore: 0, arp_announce: 0, arp_filter: 0, proxy_arp: 0, accept_local: 0, rp_filter: 0 },
};

/** `key=value` arguments for `sysctl -w`, applied before any address is added or eth0 comes up. */
export function hostSysctls(host: HostPlan, ipv6: boolean): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(ARP_SYSCTLS[host.role])) {
    for (const dev of ['all', IFACE]) out.push(`net.ipv4.conf.${dev}.${key}=${value}`);
  }
  if (!ipv6) {
    for (const dev of ['all', 'default']) out.push(`net.ipv6.conf.${dev}.disable_ipv6=1`);
    return out;
  }
  // No router solicitations or SLAAC: nothing on the segment but what the lab and the tests send.
  out.push(`net.ipv6.conf.${IFACE}.accept_ra=0`, `net.ipv6.conf.${IFACE}.autoconf=0`);
  // No duplicate address detection on eth0, so the link-local address is usable at once instead of after
  // 1-2 s of DAD (random delay up to 1 s + one 1 s probe). Tests of DAD behaviour re-enable accept_dad
  // before adding their address. The global addresses are added with `nodad` as well, which is what a
  // keepalived director does for its VIP.
  out.push(`net.ipv6.conf.${IFACE}.accept_dad=0`);
  return out;
}

/** Sysctls of the switch namespace: it is a pure L2 device and must not add IPv6 chatter (MLD, RS) of its own. */
export const SWITCH_SYSCTLS = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];

/** `ip -n <switch> -batch` lines: the bridge, and one veth per host with its eth0 end moved into the host namespace. */
export function switchBatch(hostNs: Readonly<Record<HostName, string>>): string[] {
  // mcast_snooping 0: without a querier a snooping bridge may still stop flooding a group once it has seen
  // a report, and hand-built NDP (solicited-node multicast) must reach every port, as on a dumb switch.
  // stp_state 0: ports forward at once, no 15 s listening/learning delay.
  const lines = [`link add ${BRIDGE} address ${BRIDGE_MAC} type bridge stp_state 0 mcast_snooping 0`];
  for (const name of HOST_NAMES) {
    lines.push(
      `link add ${portName(name)} address ${portMac(name)} type veth peer name ${IFACE} address ${HOSTS[name].mac} netns ${hostNs[name]}`,
      `link set ${portName(name)} master ${BRIDGE} up`,
    );
  }
  lines.push(`link set ${BRIDGE} up`);
  return lines;
}

/** `ip -n <host> -batch` lines: addresses (and the VIP where this host has it), then links up. */
export function hostBatch(host: HostPlan, ipv6: boolean): string[] {
  const lines = ['link set lo up', `address add ${host.ipv4}/24 dev ${IFACE}`];
  if (ipv6) lines.push(`address add ${host.ipv6}/64 dev ${IFACE} nodad`);
  if (host.vip === 'lo') {
    lines.push(`address add ${VIP4}/32 dev lo`);
    if (ipv6) lines.push(`address add ${VIP6}/128 dev lo`); // no DAD on lo, nodad would be redundant
  } else if (host.vip === 'eth0') {
    lines.push(`address add ${VIP4}/32 dev ${IFACE}`);
    // preferred_lft 0 (deprecated): otherwise Linux picks the VIP as the source address for everything the
    // director sends on the segment. Source selection caps "longest matching prefix" at each candidate's own
    // prefix length, so the /128 VIP beats the /64 address (e.g. 119 vs 64 bits against ::11), and a
    // real server holding the VIP on lo then answers "itself": even a kernel connect() to RIP:80 times out.
    // Marking secondary IPv6 addresses deprecated is the usual remedy (keepalived issue #1483).
    if (ipv6) lines.push(`address add ${VIP6}/128 dev ${IFACE} nodad preferred_lft 0`);
  }
  // eth0 comes up last: nothing is sent or answered before the ARP sysctls and addresses are in place.
  lines.push(`link set ${IFACE} up`);
  return lines;
}
