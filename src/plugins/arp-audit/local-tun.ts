/**
 * Local mode on an IPVS TUN real server (`--local --forwarding tun --tun-type T`): what decapsulating the
 * director's packets needs (agent-anchors.md, "Tunnel mode"), judged from literal facts:
 * - T1 (CRITICAL): the decapsulation device is missing or down: tunl0 for IPIP (ip6tnl0 for an IPv6 VIP), gre0
 *   (ip6gre0) for GRE, and for GUE the IPIP device the inner packet is handed to. Without it the kernel drops
 *   every tunnelled packet (ICMP protocol unreachable at most);
 * - T2 (CRITICAL): GUE only, no `ip fou add port N gue` receiving on the port (any port when none is given) in
 *   the VIP's family;
 * - strict rp_filter on the device (A12) is local.ts's, judged there for every IP tunnel and only for an IPv4 VIP:
 *   rp_filter is IPv4's, and an IPv6 VIP's decapsulated packets are IPv6;
 * - the VIP's placement (lo or the device) and the ARP sysctls stay local.ts's, the latter only for interfaces
 *   on the VIP's own segment: a TUN real server elsewhere never sees ARP for the VIP.
 */
import type {IpFamily} from '../../core/wire/address.js';

import type {TunnelType} from '../../core/wire/tunnel.js';
import type {TunnelOptions} from '../common/target.js';
import {finding, type Finding} from './finding.js';
import type {LocalFacts} from './local.js';

export type LocalTunnel = TunnelOptions;

/** The fallback device of each encapsulation, which receives packets from any remote address. */
export function decapsulationDevice(type: TunnelType, vipFamily: IpFamily): string {
  if (type === 'gre') return vipFamily === 4 ? 'gre0' : 'ip6gre0';
  return vipFamily === 4 ? 'tunl0' : 'ip6tnl0';
}

const MODULE: Record<string, string> = {tunl0: 'ipip', ip6tnl0: 'ip6_tunnel', gre0: 'ip_gre', ip6gre0: 'ip6_gre'};

export function auditTunnelDecapsulation(facts: LocalFacts, vipFamily: IpFamily, tunnel: LocalTunnel): Finding[] {
  const findings: Finding[] = [];
  const name = decapsulationDevice(tunnel.type, vipFamily);
  const device = facts.interfaces.find((i) => i.name === name);
  const what = tunnel.type === 'gue' ? `GUE's inner packets are handed to ${name}` : `${tunnel.type.toUpperCase()} packets are decapsulated on ${name}`;
  if (!device) {
    findings.push(finding('T1', `${name} does not exist: ${what}, so the kernel drops every packet the director tunnels here`, {interfaceName: name, fix: `modprobe ${MODULE[name]} && ip link set ${name} up`}));
  } else if (!device.up) {
    findings.push(finding('T1', `${name} is down: ${what}, so the kernel drops every packet the director tunnels here`, {interfaceName: name, fix: `ip link set ${name} up`}));
  }
  if (tunnel.type === 'gue') {
    // The outer family is taken to be the VIP's, as for the device above.
    const ports = facts.fouPorts?.[vipFamily] ?? [];
    const listening = tunnel.port === undefined ? ports.length > 0 : ports.includes(tunnel.port);
    if (!listening) {
      const port = tunnel.port ?? 6080;
      findings.push(
        finding('T2', `no IPv${vipFamily} GUE receive port${tunnel.port === undefined ? '' : ` ${tunnel.port}`} (ip -${vipFamily} fou show lists ${ports.length === 0 ? 'none' : ports.join(', ')}): the director's UDP packets are answered with port unreachable`, {
          fix: `modprobe fou && ip ${vipFamily === 6 ? '-6 ' : ''}fou add port ${port} gue`,
        }),
      );
    }
  }
  return findings;
}
