/**
 * `vipcheck arp-audit`: finds the ARP misconfigurations that let a VIP escape its director (real servers that
 * answer ARP for the VIP, or send ARP with the VIP as sender address, poisoning the router's cache; seed 003).
 * This module is imported on every run and by oclif's help, so it only declares; the audit itself is loaded
 * lazily from ./audit.js.
 */
import {AUDIT_OUTPUT_FLAGS, TARGET_FLAGS, type FlagSpec, type FlagValues} from '../../plugin-api/flag-spec.js';
import type {CheckPlugin} from '../../plugin-api/plugin.js';
import {arpAuditOptions, type ArpAuditOptions} from './options.js';
import {lazyModule} from '../common/lazy-module.js';

const runModule = lazyModule(() => import('./audit.js'));

/** With --local: the TUN real-server checks (T1, T2, A12 on the decapsulation device; docs/tun.md). */
const TUNNEL_FLAGS: readonly FlagSpec[] = TARGET_FLAGS.filter((f) => f.name === 'forwarding' || f.name === 'tun-type' || f.name === 'tun-port').map((f) =>
  f.name === 'forwarding' ? {...f, description: 'With --local: dr (default) or tun, which judges this host as an IPVS TUN real server.'} : f.name === 'tun-port' ? {...f, description: 'With --tun-type gue: the GUE port the director sends to (default: any `ip fou` GUE port).'} : f,
);

export const arpAuditPlugin: CheckPlugin<ArpAuditOptions> = {
  id: 'arp-audit',
  title: 'ARP-AUDIT',
  summary: 'Find ARP misconfigurations that let a VIP escape its director (LVS-DR).',
  description:
    'Active mode (the default) broadcasts RFC 5227 probes for the VIP (sender 0.0.0.0, so nothing is planted in any ' +
    'cache) and collects every responder: more than one (A1), an unexpected one (A2) or none (A3) is CRITICAL. ' +
    'Passive mode (--listen) captures ARP and flags packets whose sender address is the VIP but whose sender MAC ' +
    'is not expected (A4, A5 when it is a real server), MAC flip-flop (A6) and Ethernet/ARP sender mismatch (A7). ' +
    "Local mode (--local) reads this host's ARP sysctls and VIP placement (A8-A14). An IPv6 VIP is audited with " +
    'Neighbor Discovery instead (N1-N5, A6, A7, A10). Modes combine; every finding ' +
    'names the command that fixes it. See docs/arp-audit.md.',
  examples: [
    '<%= config.bin %> arp-audit --vip 198.51.100.100 --expect-mac 02:00:00:00:00:02',
    '<%= config.bin %> arp-audit --vip 198.51.100.100 --expect-mac 00:00:5e:00:01:33 --rs 198.51.100.11 --rs 198.51.100.12 --active --listen 20 -t 25',
    '<%= config.bin %> arp-audit --vip 198.51.100.100 --local',
    '<%= config.bin %> arp-audit --vip 198.51.100.100 --local --forwarding tun --tun-type gue --tun-port 6080',
    '<%= config.bin %> arp-audit --vip 2001:db8:100::100 --expect-mac 02:00:00:00:00:02 --rs 2001:db8:100::11',
  ],
  flags: [
    {name: 'vip', type: 'string', required: true, helpValue: 'ADDRESS', description: 'Virtual address whose ownership is audited: IPv4 with ARP, IPv6 with Neighbor Discovery.'},
    {name: 'interface', char: 'I', type: 'string', helpValue: 'IFACE', description: "Interface on the VIP's segment (default: the one holding the VIP here, else the route to the VIP)."},
    {name: 'expect-mac', type: 'string', multiple: true, helpValue: 'MAC', description: 'MAC allowed to answer for the VIP: the director NIC, or the VRRP vmac 00:00:5e:00:01:VRID. Repeatable.'},
    {name: 'rs', type: 'string', multiple: true, helpValue: 'ADDRESS', description: "A real server's own address (RIP); its MAC, resolved by ARP or NDP probe, names offenders. Repeatable."},
    {name: 'active', type: 'boolean', description: 'Active mode (the default when no mode is given): broadcast probes for the VIP and collect every responder.'},
    {name: 'probes', type: 'string', helpValue: 'N', description: `Active mode: number of probes (default 3, fewer when --timeout is short).`},
    {name: 'interval', type: 'string', helpValue: 'SECONDS', description: 'Active mode: time between probes and after the last one (default 0.5).'},
    {name: 'listen', type: 'string', helpValue: 'SECONDS', description: 'Passive mode: capture ARP (promiscuously) for this long; must fit in --timeout.'},
    {name: 'local', type: 'boolean', description: "Local mode: audit this host's ARP sysctls and where the VIP is configured."},
    {name: 'local-role', type: 'string', options: ['auto', 'director', 'realserver'], description: 'Role judged by --local; auto: director when the VIP is on an ARP-capable interface, else real server.'},
    ...TUNNEL_FLAGS,
    ...AUDIT_OUTPUT_FLAGS,
  ],
  prepare(values: FlagValues): ArpAuditOptions {
    return arpAuditOptions(values);
  },
  async run(options, context) {
    const {runArpAudit} = await runModule();
    return runArpAudit(options, context);
  },
};
