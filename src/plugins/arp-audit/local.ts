/**
 * Local mode: judges this host's own configuration (interfaces, where the VIP lives, ARP sysctls) from facts
 * gathered elsewhere (local-facts.ts), so the rules are tested with literal facts.
 *
 * Role: a host that holds the VIP on an ARP-capable interface answers ARP for it, which only a director may
 * do, so `auto` calls it a director; any other host (VIP on lo/dummy/tunl0, or no VIP at all) is judged as a
 * real server. A backup director without the VIP therefore needs `--local-role director`.
 *
 * Real server: A8 effective arp_ignore < 1 and A9 arp_announce < 2 on every ARP-capable interface, A13
 * proxy_arp on one, A10 the VIP missing, A11 the VIP with a prefix shorter than /32 (the whole prefix becomes
 * local) or on an ARP-capable interface, A12 strict rp_filter on an IP tunnel (TUN ingress; IPv4 VIPs only, since
 * rp_filter is IPv4's).
 * Director: A14 accept_local on the egress interface (the kernel would answer the real server's SYN-ACK to a raw
 * check with RST).
 * An IPv6 VIP: A10 and N4 on a real server, N5 (VIP tentative or failed DAD) on a director.
 * A TUN real server (--forwarding tun): T1 and T2 on its decapsulation device (local-tun.ts), and A8/A9/A13
 * only on interfaces of the VIP's own segment.
 */
import type {InterfaceAddress} from '../../core/neighbor/interfaces.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import {finding, type Finding} from './finding.js';
import {auditTunnelDecapsulation, type LocalTunnel} from './local-tun.js';
import {clearCommand, effectiveConf, raiseCommand, type ConfValues} from './sysctl.js';

export type LocalRole = 'director' | 'realserver';
export type LocalRoleChoice = LocalRole | 'auto';

export interface LocalInterface {
  readonly name: string;
  readonly mac: MacAddress;
  readonly up: boolean;
  /** Ethernet-like link type (ARPHRD_ETHER): physical NICs, bonds, bridges, VLANs, veth, macvlan, dummy. */
  readonly ethernet: boolean;
  /** IFF_NOARP is clear. */
  readonly arp: boolean;
  /** An IP-in-IP or GRE device: where IPVS TUN traffic is decapsulated. */
  readonly tunnel: boolean;
  /** Addresses of this device, aliases (`lo:0`) included. */
  readonly addresses: readonly InterfaceAddress[];
  readonly conf: ConfValues;
}

export interface LocalFacts {
  readonly interfaces: readonly LocalInterface[];
  /** `conf/all`. */
  readonly all: ConfValues;
  /** IPv6 addresses whose duplicate address detection has not succeeded (/proc/net/if_inet6). */
  readonly ipv6Unusable?: readonly Ipv6AddressState[];
  /** UDP ports with a GUE receiver, per outer family (`ip fou show`); needed only for --tun-type gue. */
  readonly fouPorts?: GuePorts;
}

export interface GuePorts {
  readonly 4: readonly number[];
  readonly 6: readonly number[];
}

/** An IPv6 address the kernel does not use yet (tentative: DAD running) or at all (DAD found a duplicate). */
export interface Ipv6AddressState {
  readonly interfaceName: string;
  readonly address: IpAddress;
  readonly state: 'tentative' | 'dadfailed';
}

/** Answers ARP on the wire: Ethernet-like and without NOARP (so not lo, dummy or tunl0). */
export function arpCapable(i: LocalInterface): boolean {
  return i.ethernet && i.arp;
}

export interface VipHolding {
  readonly interfaceName: string;
  readonly prefixLength: number;
  readonly arpCapable: boolean;
}

export function vipHoldings(facts: LocalFacts, vip: IpAddress): VipHolding[] {
  return facts.interfaces.flatMap((i) =>
    i.addresses
      .filter((a) => a.address.equals(vip))
      .map((a) => ({interfaceName: i.name, prefixLength: a.prefixLength, arpCapable: arpCapable(i)})),
  );
}

export interface RoleDecision {
  readonly role: LocalRole;
  readonly reason: string;
}

export function decideLocalRole(facts: LocalFacts, vip: IpAddress, choice: LocalRoleChoice): RoleDecision {
  if (choice !== 'auto') return {role: choice, reason: `--local-role ${choice}`};
  const onArp = vipHoldings(facts, vip).find((h) => h.arpCapable);
  const capable = vip.family === 4 ? 'ARP-capable' : 'NDP-capable';
  return onArp
    ? {role: 'director', reason: `auto: ${vip} is on ${capable} ${onArp.interfaceName}`}
    : {role: 'realserver', reason: `auto: ${vip} is not on an ${capable} interface`};
}

export interface LocalAuditInput {
  readonly facts: LocalFacts;
  readonly vip: IpAddress;
  readonly role: LocalRole;
  /** The director's egress interface (--interface); default: the ARP-capable interfaces holding the VIP, else all. */
  readonly egressInterface?: string;
  /** The real server is an IPVS TUN destination with this encapsulation. */
  readonly tunnel?: LocalTunnel;
}

export function auditLocal(input: LocalAuditInput): Finding[] {
  if (input.role === 'director') return input.vip.family === 6 ? auditDirector6(input) : auditDirector(input);
  const tunnel = input.tunnel ? auditTunnelDecapsulation(input.facts, input.vip.family, input.tunnel) : [];
  return [...tunnel, ...(input.vip.family === 6 ? vipPlacement6(input.facts, input.vip) : auditRealServer(input))];
}

/**
 * A real server with an IPv6 VIP: the IPv4 ARP settings do not matter to it, and Linux answers NDP only for
 * addresses on the receiving interface, so all that counts is where the VIP is: A10 missing, N4 on an
 * NDP-capable (Ethernet, not NOARP) interface or with a prefix shorter than /128.
 */
function vipPlacement6(facts: LocalFacts, vip: IpAddress): Finding[] {
  const holdings = vipHoldings(facts, vip);
  if (holdings.length === 0) return [vipMissing(vip)];
  return holdings.flatMap((h) => {
    const configured = `${vip}/${h.prefixLength} dev ${h.interfaceName}`;
    if (h.arpCapable) {
      return [
        finding('N4', `${vip} is on NDP-capable ${h.interfaceName}: this real server answers neighbor solicitations for the VIP`, {
          ip: vip,
          interfaceName: h.interfaceName,
          fix: `ip -6 addr del ${configured} && ip -6 addr add ${vip}/128 dev lo`,
        }),
      ];
    }
    if (h.prefixLength < 128) {
      return [
        finding('N4', `${vip} is configured as /${h.prefixLength} on ${h.interfaceName}: the whole prefix becomes local to this host`, {
          ip: vip,
          interfaceName: h.interfaceName,
          fix: `ip -6 addr del ${configured} && ip -6 addr add ${vip}/128 dev ${h.interfaceName}`,
        }),
      ];
    }
    return [];
  });
}

/** N5: the director's IPv6 VIP is tentative (not usable until DAD ends) or failed DAD (never used: a duplicate). */
function auditDirector6({facts, vip}: LocalAuditInput): Finding[] {
  return (facts.ipv6Unusable ?? [])
    .filter((a) => a.address.equals(vip))
    .map((a) =>
      finding(
        'N5',
        a.state === 'dadfailed'
          ? `${vip} on ${a.interfaceName} failed duplicate address detection: another host on the segment holds it, and this director does not use it`
          : `${vip} on ${a.interfaceName} is tentative: duplicate address detection is still running, the director does not answer for it yet`,
        {
          ip: vip,
          interfaceName: a.interfaceName,
          fix:
            a.state === 'dadfailed'
              ? `find the other host holding ${vip} (vipcheck arp-audit --vip ${vip} --listen 10), then: ip -6 addr del ${vip}/128 dev ${a.interfaceName} && ip -6 addr add ${vip}/128 dev ${a.interfaceName} nodad`
              : `wait for DAD to end, or add the VIP with nodad as keepalived does: ip -6 addr add ${vip}/128 dev ${a.interfaceName} nodad`,
        },
      ),
    );
}

function auditRealServer({facts, vip, tunnel}: LocalAuditInput): Finding[] {
  const findings: Finding[] = [...vipPlacement(facts, vip)];
  // A TUN real server need not share the VIP's segment; where it does not, nobody asks it for the VIP by ARP.
  const onVipSegment = (i: LocalInterface) => i.addresses.some((a) => a.address.family === vip.family && vip.inPrefix(a.address, a.prefixLength) && a.prefixLength < 32);
  for (const i of facts.interfaces.filter((i) => arpCapable(i) && (!tunnel || onVipSegment(i)))) {
    const where = `${i.name}${i.up ? '' : ' (down)'}`;
    const details = {mac: i.mac, interfaceName: i.name};
    const ignore = effectiveConf('arp_ignore', facts.all, i.conf);
    if (ignore !== undefined && ignore < 1) {
      findings.push(
        finding('A8', `effective arp_ignore is ${ignore} on ${where} (all=${show(facts.all.arp_ignore)}, ${i.name}=${show(i.conf.arp_ignore)}): this real server answers ARP for ${vip}`, {
          ...details,
          fix: raiseCommand('arp_ignore', 1),
        }),
      );
    }
    const announce = effectiveConf('arp_announce', facts.all, i.conf);
    if (announce !== undefined && announce < 2) {
      findings.push(
        finding('A9', `effective arp_announce is ${announce} on ${where} (all=${show(facts.all.arp_announce)}, ${i.name}=${show(i.conf.arp_announce)}): ARP requests may carry ${vip} as sender and poison the router's cache`, {
          ...details,
          fix: raiseCommand('arp_announce', 2),
        }),
      );
    }
    if (effectiveConf('proxy_arp', facts.all, i.conf) === 1) {
      findings.push(
        finding('A13', `proxy_arp is on for ${where} (all=${show(facts.all.proxy_arp)}, ${i.name}=${show(i.conf.proxy_arp)}): this real server answers ARP for other hosts' addresses`, {
          ...details,
          fix: clearCommand('proxy_arp', i.name, facts.all, i.conf),
        }),
      );
    }
  }
  // A12: the decapsulated packet's source is the client, which the reverse path through the tunnel does not reach.
  for (const t of facts.interfaces.filter((i) => i.tunnel && i.up)) {
    if (effectiveConf('rp_filter', facts.all, t.conf) === 1) {
      findings.push(
        finding('A12', `strict rp_filter on tunnel ${t.name} (all=${show(facts.all.rp_filter)}, ${t.name}=${show(t.conf.rp_filter)}): IPVS-TUN packets decapsulated there are dropped`, {
          interfaceName: t.name,
          fix: raiseCommand('rp_filter', 2, t.name),
        }),
      );
    }
  }
  return findings;
}

function vipPlacement(facts: LocalFacts, vip: IpAddress): Finding[] {
  const holdings = vipHoldings(facts, vip);
  if (holdings.length === 0) return [vipMissing(vip)];
  const findings: Finding[] = [];
  for (const h of holdings) {
    const configured = `${vip}/${h.prefixLength} dev ${h.interfaceName}`;
    if (h.arpCapable) {
      findings.push(
        finding('A11', `${vip} is on ARP-capable ${h.interfaceName}: this real server answers and announces ARP for the VIP`, {
          ip: vip,
          interfaceName: h.interfaceName,
          fix: `ip addr del ${configured} && ip addr add ${vip}/32 dev lo`,
        }),
      );
    } else if (h.prefixLength < 32) {
      findings.push(
        finding('A11', `${vip} is configured as /${h.prefixLength} on ${h.interfaceName}: the whole prefix becomes local to this host`, {
          ip: vip,
          interfaceName: h.interfaceName,
          fix: `ip addr del ${configured} && ip addr add ${vip}/32 dev ${h.interfaceName}`,
        }),
      );
    }
  }
  return findings;
}

/** A10: the real server does not hold the VIP; the fix adds it to lo as a host address of its family. */
function vipMissing(vip: IpAddress): Finding {
  return finding('A10', `${vip} is not configured on any interface that is up: the kernel drops every packet the director forwards here for the VIP`, {
    ip: vip,
    fix: vip.family === 4 ? `ip addr add ${vip}/32 dev lo` : `ip -6 addr add ${vip}/128 dev lo`,
  });
}

function auditDirector({facts, vip, egressInterface}: LocalAuditInput): Finding[] {
  const holding = new Set(vipHoldings(facts, vip).filter((h) => h.arpCapable).map((h) => h.interfaceName));
  const candidates = facts.interfaces.filter((i) =>
    egressInterface !== undefined ? i.name === egressInterface : holding.size > 0 ? holding.has(i.name) : arpCapable(i),
  );
  return candidates
    .filter((i) => effectiveConf('accept_local', facts.all, i.conf) === 1)
    .map((i) =>
      finding('A14', `accept_local is on for ${i.name} (all=${show(facts.all.accept_local)}, ${i.name}=${show(i.conf.accept_local)}): the kernel answers real servers' replies to raw VIP-path checks with RST`, {
        mac: i.mac,
        interfaceName: i.name,
        fix: clearCommand('accept_local', i.name, facts.all, i.conf),
      }),
    );
}

function show(value: number | undefined): string {
  return value === undefined ? '?' : String(value);
}
