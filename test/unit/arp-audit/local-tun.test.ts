/**
 * Local mode on an IPVS TUN real server (--forwarding tun): the decapsulation device (T1), the GUE port (T2),
 * rp_filter on the device (A12), and the ARP settings judged only on the VIP's own segment. Literal facts; the
 * VM lab (test/vm/tunnel-mode.test.ts) runs the same audit on real tunnel devices.
 */
import assert from 'node:assert/strict';
import {MacAddress} from '../../../src/core/wire/address.js';
import {parseFouShow} from '../../../src/plugins/arp-audit/local-facts.js';
import {auditLocal, type LocalFacts, type LocalInterface} from '../../../src/plugins/arp-audit/local.js';
import {arpAuditOptions} from '../../../src/plugins/arp-audit/options.js';
import type {ConfValues} from '../../../src/plugins/arp-audit/sysctl.js';
import {ip, mac, VIP} from './support.js';

const TUN_CONF: ConfValues = {arp_ignore: 1, arp_announce: 2, arp_filter: 0, rp_filter: 0, proxy_arp: 0, accept_local: 0};

function device(name: string, overrides: Partial<LocalInterface> = {}): LocalInterface {
  const ether = name.startsWith('eth');
  return {name, mac: ether ? mac('02:00:00:00:00:11') : MacAddress.ZERO, up: true, ethernet: ether, arp: ether, tunnel: !ether && name !== 'lo', addresses: [], conf: TUN_CONF, ...overrides};
}

/** A TUN real server: the VIP on lo, eth0 on `subnet`, the fallback tunnel devices given. */
function tunServer(options: {eth0Address?: string; devices?: LocalInterface[]; all?: ConfValues; fouPorts?: number[]; fouPorts6?: number[]; eth0Conf?: ConfValues} = {}): LocalFacts {
  return {
    all: {...TUN_CONF, ...options.all},
    interfaces: [
      device('lo', {addresses: [{address: ip('127.0.0.1'), prefixLength: 8}, {address: VIP, prefixLength: 32}]}),
      device('eth0', {addresses: [{address: ip(options.eth0Address ?? '198.51.100.11'), prefixLength: 24}], conf: options.eth0Conf ?? TUN_CONF}),
      ...(options.devices ?? [device('tunl0')]),
    ],
    ...(options.fouPorts ? {fouPorts: {4: options.fouPorts, 6: options.fouPorts6 ?? []}} : {}),
  };
}

const ids = (facts: LocalFacts, tunnel: {type: 'ipip' | 'gue' | 'gre'; port?: number}, vip = VIP) =>
  auditLocal({facts, vip, role: 'realserver', tunnel}).map((f) => `${f.id}:${f.interfaceName ?? ''}`);

describe('arp-audit --local --forwarding tun', () => {
  it('passes a good IPIP, GRE and GUE real server', () => {
    assert.deepEqual(ids(tunServer(), {type: 'ipip'}), []);
    assert.deepEqual(ids(tunServer({devices: [device('gre0')]}), {type: 'gre'}), []);
    assert.deepEqual(ids(tunServer({fouPorts: [6080]}), {type: 'gue', port: 6080}), []);
    assert.deepEqual(ids(tunServer({fouPorts: [6080]}), {type: 'gue'}), [], 'without --tun-port any GUE port counts');
  });

  it('T1: the decapsulation device missing or down is CRITICAL, with the module to load', () => {
    const missing = auditLocal({facts: tunServer({devices: []}), vip: VIP, role: 'realserver', tunnel: {type: 'gre'}});
    assert.deepEqual(missing.map((f) => [f.id, f.severity, f.fix]), [['T1', 2, 'modprobe ip_gre && ip link set gre0 up']]);
    const down = auditLocal({facts: tunServer({devices: [device('tunl0', {up: false})]}), vip: VIP, role: 'realserver', tunnel: {type: 'ipip'}});
    assert.deepEqual(down.map((f) => [f.id, f.fix]), [['T1', 'ip link set tunl0 up']]);
    // GUE hands its inner IPv4 packets to tunl0: without it they are dropped too.
    assert.deepEqual(ids(tunServer({devices: [], fouPorts: [6080]}), {type: 'gue', port: 6080}), ['T1:tunl0']);
  });

  it('T1 looks at the IPv6 fallback devices for an IPv6 VIP', () => {
    const vip6 = ip('2001:db8:100::100');
    const facts: LocalFacts = {
      all: TUN_CONF,
      interfaces: [device('lo', {addresses: [{address: vip6, prefixLength: 128}]}), device('tunl0'), device('ip6gre0', {up: false})],
    };
    assert.deepEqual(ids(facts, {type: 'ipip'}, vip6), ['T1:ip6tnl0']);
    assert.deepEqual(ids(facts, {type: 'gre'}, vip6), ['T1:ip6gre0']);
  });

  it('T2: no GUE receiver on the port, with the fou command', () => {
    const findings = auditLocal({facts: tunServer({fouPorts: [5555]}), vip: VIP, role: 'realserver', tunnel: {type: 'gue', port: 6080}});
    assert.deepEqual(findings.map((f) => [f.id, f.severity]), [['T2', 2]]);
    assert.equal(findings[0]!.fix, 'modprobe fou && ip fou add port 6080 gue');
    assert.match(findings[0]!.message, /ip -4 fou show lists 5555/);
    assert.deepEqual(ids(tunServer({fouPorts: []}), {type: 'gue'}), ['T2:']);
    // An IPv6 GUE port does not receive the director's IPv4 packets (the VM lab's broken GUE server).
    assert.deepEqual(ids(tunServer({fouPorts: [], fouPorts6: [6080]}), {type: 'gue', port: 6080}), ['T2:']);
  });

  it('A12: strict effective rp_filter on the device, max(all, device), said once', () => {
    assert.deepEqual(ids(tunServer({all: {rp_filter: 1}}), {type: 'ipip'}), ['A12:tunl0']);
    assert.deepEqual(ids(tunServer({devices: [device('tunl0', {conf: {...TUN_CONF, rp_filter: 1}})]}), {type: 'ipip'}), ['A12:tunl0']);
    assert.deepEqual(ids(tunServer({all: {rp_filter: 2}}), {type: 'ipip'}), [], 'loose (2) is relaxed enough');
  });

  it('A12 is not raised for an IPv6 VIP: rp_filter is IPv4\'s, and its decapsulated packets are IPv6', () => {
    const vip6 = ip('2001:db8:100::100');
    const facts: LocalFacts = {
      all: {...TUN_CONF, rp_filter: 1},
      interfaces: [device('lo', {addresses: [{address: vip6, prefixLength: 128}]}), device('ip6tnl0'), device('ip6gre0')],
    };
    assert.deepEqual(ids(facts, {type: 'ipip'}, vip6), []);
    assert.deepEqual(ids(facts, {type: 'gre'}, vip6), []);
  });

  it('judges the ARP sysctls only where the server shares the VIP segment', () => {
    const lax: ConfValues = {...TUN_CONF, arp_ignore: 0, arp_announce: 0};
    const onSegment = tunServer({all: lax, eth0Conf: lax});
    assert.deepEqual(ids(onSegment, {type: 'ipip'}), ['A8:eth0', 'A9:eth0']);
    const elsewhere = tunServer({all: lax, eth0Conf: lax, eth0Address: '203.0.113.13', devices: [device('gre0')]});
    assert.deepEqual(ids(elsewhere, {type: 'gre'}), [], 'a routed TUN real server never sees ARP for the VIP');
  });

  it('the VIP must still be on lo or the device (A10)', () => {
    const facts = tunServer();
    const noVip: LocalFacts = {...facts, interfaces: facts.interfaces.map((i) => (i.name === 'lo' ? {...i, addresses: []} : i))};
    assert.deepEqual(ids(noVip, {type: 'ipip'}), ['A10:']);
    const onTunl0: LocalFacts = {...noVip, interfaces: noVip.interfaces.map((i) => (i.name === 'tunl0' ? {...i, addresses: [{address: VIP, prefixLength: 32}]} : i))};
    assert.deepEqual(ids(onTunl0, {type: 'ipip'}), []);
  });

  it('parses ip fou show', () => {
    assert.deepEqual(parseFouShow('port 6080 gue\nport 5555 ipproto 4\nport 7000 gue local 198.51.100.12\nport 6080 gue -6\n'), {4: [6080, 7000], 6: [6080]});
    assert.deepEqual(parseFouShow(''), {4: [], 6: []});
  });

  it('options: --forwarding tun needs --local, and refuses a director role and bad combinations', () => {
    const base = {vip: '198.51.100.100', timeout: '8'};
    assert.deepEqual(arpAuditOptions({...base, local: true, forwarding: 'tun', 'tun-type': 'gue'}).local, {role: 'realserver', tunnel: {type: 'gue'}});
    assert.deepEqual(arpAuditOptions({...base, local: true, forwarding: 'tun'}).local, {role: 'realserver', tunnel: {type: 'ipip'}});
    assert.throws(() => arpAuditOptions({...base, forwarding: 'tun'}), /applies to --local only/);
    assert.throws(() => arpAuditOptions({...base, local: true, forwarding: 'tun', 'local-role': 'director'}), /does not combine/);
    assert.throws(() => arpAuditOptions({...base, local: true, 'tun-type': 'gre'}), /needs --forwarding tun/);
    assert.throws(() => arpAuditOptions({...base, local: true, forwarding: 'tun', 'tun-type': 'gre', 'tun-port': '6080'}), /gue only/);
  });
});
