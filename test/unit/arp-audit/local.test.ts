/**
 * Local mode: the kernel's rule for combining conf/all with conf/<iface>, read from a fake /proc tree, and the
 * judgement of literal host facts (A8-A14, role).
 */
import assert from 'node:assert/strict';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {MacAddress} from '../../../src/core/wire/address.js';
import {gatherLocalFacts} from '../../../src/plugins/arp-audit/local-facts.js';
import {auditLocal, decideLocalRole, type LocalFacts, type LocalInterface} from '../../../src/plugins/arp-audit/local.js';
import {clearCommand, effectiveConf, readConf, sysctlName, type ConfValues} from '../../../src/plugins/arp-audit/sysctl.js';
import {ip, mac, VIP} from './support.js';

/** The lab's real-server recipe on both all and eth0. */
const RS_CONF: ConfValues = {arp_ignore: 1, arp_announce: 2, arp_filter: 0, rp_filter: 0, proxy_arp: 0, accept_local: 0};

function iface(name: string, overrides: Partial<LocalInterface> = {}): LocalInterface {
  const ether = name.startsWith('eth');
  return {
    name,
    mac: ether ? mac('02:00:00:00:00:11') : MacAddress.ZERO,
    up: true,
    ethernet: ether,
    arp: ether,
    tunnel: false,
    addresses: [],
    conf: RS_CONF,
    ...overrides,
  };
}

function realServer(overrides: {all?: ConfValues; eth0?: Partial<LocalInterface>; lo?: Partial<LocalInterface>; extra?: LocalInterface[]} = {}): LocalFacts {
  return {
    all: {...RS_CONF, ...overrides.all},
    interfaces: [
      iface('lo', {addresses: [{address: ip('127.0.0.1'), prefixLength: 8}, {address: VIP, prefixLength: 32}], ...overrides.lo}),
      iface('eth0', {addresses: [{address: ip('198.51.100.11'), prefixLength: 24}], ...overrides.eth0}),
      ...(overrides.extra ?? []),
    ],
  };
}

const ids = (facts: LocalFacts, role: 'director' | 'realserver' = 'realserver', egressInterface?: string) =>
  auditLocal({facts, vip: VIP, role, ...(egressInterface ? {egressInterface} : {})}).map((f) => f.id);

describe('arp-audit effective sysctls', () => {
  it('takes the max of all and the interface for arp_ignore, arp_announce and rp_filter', () => {
    assert.equal(effectiveConf('arp_ignore', {arp_ignore: 0}, {arp_ignore: 1}), 1);
    assert.equal(effectiveConf('arp_ignore', {arp_ignore: 1}, {arp_ignore: 0}), 1);
    assert.equal(effectiveConf('arp_announce', {arp_announce: 0}, {arp_announce: 0}), 0);
    assert.equal(effectiveConf('arp_announce', {arp_announce: 2}, {arp_announce: 1}), 2);
    assert.equal(effectiveConf('rp_filter', {rp_filter: 1}, {rp_filter: 2}), 2);
  });

  it('ORs all and the interface for proxy_arp, accept_local and arp_filter', () => {
    assert.equal(effectiveConf('proxy_arp', {proxy_arp: 0}, {proxy_arp: 1}), 1);
    assert.equal(effectiveConf('proxy_arp', {proxy_arp: 1}, {proxy_arp: 0}), 1);
    assert.equal(effectiveConf('accept_local', {accept_local: 0}, {accept_local: 0}), 0);
    assert.equal(effectiveConf('arp_filter', {arp_filter: 5}, {arp_filter: 0}), 1);
  });

  it('lets a readable value decide alone, and knows nothing when neither is readable', () => {
    assert.equal(effectiveConf('arp_ignore', {}, {arp_ignore: 2}), 2);
    assert.equal(effectiveConf('arp_ignore', {arp_ignore: 1}, {}), 1);
    assert.equal(effectiveConf('arp_ignore', {}, {}), undefined);
  });

  it('names VLAN interfaces the way sysctl(8) wants and clears only what is set', () => {
    assert.equal(sysctlName('eth0.100', 'arp_ignore'), 'net.ipv4.conf.eth0/100.arp_ignore');
    assert.equal(clearCommand('proxy_arp', 'eth0', {proxy_arp: 1}, {proxy_arp: 1}), 'sysctl -w net.ipv4.conf.all.proxy_arp=0 net.ipv4.conf.eth0.proxy_arp=0');
    assert.equal(clearCommand('proxy_arp', 'eth0', {proxy_arp: 0}, {proxy_arp: 1}), 'sysctl -w net.ipv4.conf.eth0.proxy_arp=0');
  });

  describe('read from a /proc tree', () => {
    let root: string;
    const write = (device: string, values: Record<string, string>) => {
      const dir = join(root, 'sys/net/ipv4/conf', device);
      mkdirSync(dir, {recursive: true});
      for (const [key, value] of Object.entries(values)) writeFileSync(join(dir, key), value);
    };
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'arp-audit-proc-'));
    });
    afterEach(() => rmSync(root, {recursive: true, force: true}));

    it('reads numeric files, skips missing and garbage ones, refuses path tricks', () => {
      write('all', {arp_ignore: '1\n', arp_announce: '2\n', rp_filter: 'junk\n'});
      write('eth0', {arp_ignore: '0\n', proxy_arp: '1\n'});
      assert.deepEqual(readConf(root, 'all'), {arp_ignore: 1, arp_announce: 2});
      assert.deepEqual(readConf(root, 'eth0'), {arp_ignore: 0, proxy_arp: 1});
      assert.deepEqual(readConf(root, 'nosuch'), {});
      assert.deepEqual(readConf(root, '../../..'), {});
    });

    it('gathers facts for the named interfaces with the values from the tree', () => {
      write('all', {arp_ignore: '0', arp_announce: '0', proxy_arp: '0', accept_local: '0', rp_filter: '0', arp_filter: '0'});
      write('lo', {arp_ignore: '8', arp_announce: '2'});
      const facts = gatherLocalFacts({procRoot: root, interfaceNames: () => ['lo', 'no-such-if0']});
      assert.deepEqual(facts.all.arp_ignore, 0);
      assert.deepEqual(facts.interfaces.map((i) => [i.name, i.ethernet, i.conf.arp_ignore]), [['lo', false, 8]]);
      assert.ok(facts.interfaces[0]!.addresses.some((a) => a.address.toString() === '127.0.0.1'));
    });

    it('fails with one line when conf/all cannot be read', () => {
      assert.throws(() => gatherLocalFacts({procRoot: root, interfaceNames: () => []}), /cannot read .*conf\/all/);
    });
  });
});

describe('arp-audit local mode', () => {
  it('passes the LVS real-server recipe', () => {
    assert.deepEqual(ids(realServer()), []);
  });

  it('reports a missing VIP as A10 with the command that adds it', () => {
    const findings = auditLocal({facts: realServer({lo: {addresses: [{address: ip('127.0.0.1'), prefixLength: 8}]}}), vip: VIP, role: 'realserver'});
    assert.deepEqual(findings.map((f) => f.id), ['A10']);
    assert.equal(findings[0]!.fix, 'ip addr add 198.51.100.100/32 dev lo');
  });

  it('reports arp_ignore and arp_announce below the recipe on each ARP interface, not on lo', () => {
    const facts = realServer({
      all: {arp_ignore: 0, arp_announce: 0},
      eth0: {conf: {...RS_CONF, arp_ignore: 0, arp_announce: 1}},
      lo: {conf: {...RS_CONF, arp_ignore: 0, arp_announce: 0}},
      extra: [iface('eth1', {up: false, mac: mac('02:00:00:00:01:11')})],
    });
    const findings = auditLocal({facts, vip: VIP, role: 'realserver'});
    assert.deepEqual(findings.map((f) => `${f.id}:${f.interfaceName}`), ['A8:eth0', 'A9:eth0']);
    assert.equal(findings[0]!.fix, 'sysctl -w net.ipv4.conf.all.arp_ignore=1');
    assert.equal(findings[1]!.fix, 'sysctl -w net.ipv4.conf.all.arp_announce=2');
    assert.match(findings[1]!.message, /effective arp_announce is 1 on eth0 \(all=0, eth0=1\)/);
    // eth1 has 1/2 itself: max() makes it right although all is 0. Lowering it reveals it, down or not.
    const down = realServer({all: {arp_ignore: 0}, eth0: {conf: RS_CONF}, extra: [iface('eth1', {up: false, conf: {...RS_CONF, arp_ignore: 0}})]});
    const downFindings = auditLocal({facts: down, vip: VIP, role: 'realserver'});
    assert.deepEqual(downFindings.map((f) => `${f.id}:${f.interfaceName}`), ['A8:eth1']);
    assert.match(downFindings[0]!.message, /is 0 on eth1 \(down\)/);
  });

  it('reports proxy_arp (A13) with both switches when both are on', () => {
    const findings = auditLocal({facts: realServer({all: {proxy_arp: 1}, eth0: {conf: {...RS_CONF, proxy_arp: 1}}}), vip: VIP, role: 'realserver'});
    assert.deepEqual(findings.map((f) => f.id), ['A13']);
    assert.equal(findings[0]!.fix, 'sysctl -w net.ipv4.conf.all.proxy_arp=0 net.ipv4.conf.eth0.proxy_arp=0');
  });

  it('reports a VIP with a short prefix on lo, or on an ARP-capable interface, as A11', () => {
    const wide = auditLocal({facts: realServer({lo: {addresses: [{address: VIP, prefixLength: 24}]}}), vip: VIP, role: 'realserver'});
    assert.deepEqual(wide.map((f) => f.id), ['A11']);
    assert.equal(wide[0]!.fix, 'ip addr del 198.51.100.100/24 dev lo && ip addr add 198.51.100.100/32 dev lo');
    const onEth = realServer({lo: {addresses: []}, eth0: {addresses: [{address: VIP, prefixLength: 32}]}});
    const placed = auditLocal({facts: onEth, vip: VIP, role: 'realserver'});
    assert.deepEqual(placed.map((f) => f.id), ['A11']);
    assert.match(placed[0]!.message, /on ARP-capable eth0/);
  });

  it('reports strict rp_filter on an IP tunnel (A12), not on Ethernet', () => {
    const tunl0 = iface('tunl0', {tunnel: true, conf: {...RS_CONF, rp_filter: 1}});
    const findings = auditLocal({facts: realServer({all: {rp_filter: 1}, eth0: {conf: {...RS_CONF, rp_filter: 1}}, extra: [tunl0]}), vip: VIP, role: 'realserver'});
    assert.deepEqual(findings.map((f) => `${f.id}:${f.interfaceName}`), ['A12:tunl0']);
    assert.equal(findings[0]!.fix, 'sysctl -w net.ipv4.conf.tunl0.rp_filter=2');
    assert.deepEqual(ids(realServer({extra: [iface('tunl0', {tunnel: true, conf: {...RS_CONF, rp_filter: 2}})]})), []);
  });

  it('decides the role from where the VIP is, unless told', () => {
    const director: LocalFacts = {
      all: {...RS_CONF, arp_ignore: 0, arp_announce: 0},
      interfaces: [iface('lo'), iface('eth0', {addresses: [{address: VIP, prefixLength: 32}]})],
    };
    assert.equal(decideLocalRole(director, VIP, 'auto').role, 'director');
    assert.equal(decideLocalRole(realServer(), VIP, 'auto').role, 'realserver');
    assert.equal(decideLocalRole(realServer({lo: {addresses: []}}), VIP, 'auto').role, 'realserver');
    assert.equal(decideLocalRole(realServer(), VIP, 'director').role, 'director');
    // A director is not held to the real-server recipe.
    assert.deepEqual(ids(director, 'director'), []);
  });

  it('reports accept_local on the director egress interface (A14)', () => {
    const facts: LocalFacts = {
      all: {...RS_CONF, accept_local: 0},
      interfaces: [
        iface('lo'),
        iface('eth0', {addresses: [{address: VIP, prefixLength: 32}], conf: {...RS_CONF, accept_local: 1}}),
        iface('eth1', {mac: mac('02:00:00:00:01:02'), conf: {...RS_CONF, accept_local: 1}}),
      ],
    };
    const findings = auditLocal({facts, vip: VIP, role: 'director'});
    assert.deepEqual(findings.map((f) => `${f.id}:${f.interfaceName}`), ['A14:eth0']);
    assert.equal(findings[0]!.fix, 'sysctl -w net.ipv4.conf.eth0.accept_local=0');
    assert.deepEqual(ids(facts, 'director', 'eth1'), ['A14']);
    // A backup director without the VIP: every ARP-capable interface may be the egress.
    const backup = {...facts, interfaces: facts.interfaces.map((i) => ({...i, addresses: []}))};
    assert.deepEqual(ids(backup, 'director'), ['A14', 'A14']);
  });
});

describe('arp-audit local mode for an IPv6 VIP', () => {
  const VIP6 = ip('2001:db8:100::100');
  const BROKEN_ARP: ConfValues = {...RS_CONF, arp_ignore: 0, arp_announce: 0};
  const rs6 = (lo: {address: ReturnType<typeof ip>; prefixLength: number}[], eth0: {address: ReturnType<typeof ip>; prefixLength: number}[] = []): LocalFacts => ({
    all: BROKEN_ARP, // IPv4 ARP settings do not matter to an IPv6 service
    interfaces: [iface('lo', {addresses: lo}), iface('eth0', {addresses: [{address: ip('2001:db8:100::11'), prefixLength: 64}, ...eth0], conf: BROKEN_ARP})],
  });
  const ids6 = (facts: LocalFacts, role: 'director' | 'realserver') => auditLocal({facts, vip: VIP6, role}).map((f) => f.id);

  it('a real server with the VIP as /128 on lo is clean whatever its ARP sysctls', () => {
    assert.deepEqual(ids6(rs6([{address: VIP6, prefixLength: 128}]), 'realserver'), []);
  });

  it('A10 when the VIP is missing, N4 when it is on eth0 or shorter than /128', () => {
    const missing = auditLocal({facts: rs6([]), vip: VIP6, role: 'realserver'});
    assert.deepEqual(missing.map((f) => [f.id, f.fix]), [['A10', 'ip -6 addr add 2001:db8:100::100/128 dev lo']]);
    const onEth = auditLocal({facts: rs6([], [{address: VIP6, prefixLength: 128}]), vip: VIP6, role: 'realserver'});
    assert.deepEqual(onEth.map((f) => f.id), ['N4']);
    assert.match(onEth[0]!.message, /on NDP-capable eth0: this real server answers neighbor solicitations/);
    assert.equal(onEth[0]!.severity, 1);
    assert.deepEqual(ids6(rs6([{address: VIP6, prefixLength: 64}]), 'realserver'), ['N4']);
  });

  it('N5 on a director whose VIP is tentative or failed DAD, read from /proc/net/if_inet6', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vipcheck-inet6-'));
    try {
      mkdirSync(join(root, 'net'));
      writeFileSync(
        join(root, 'net', 'if_inet6'),
        [
          '20010db8010000000000000000000100 02 80 00 48 eth0', // flags 0x48: dadfailed (0x08) wins over tentative (0x40)
          '20010db8010000000000000000000002 02 40 00 80 eth0',
          'fe800000000000000000000000000002 02 40 20 c0 eth0', // tentative link-local, not the VIP
          'garbage line',
        ].join('\n'),
      );
      const {readIpv6Unusable} = await import('../../../src/plugins/arp-audit/local-facts.js');
      const unusable = readIpv6Unusable(root);
      assert.deepEqual(unusable.map((u) => [u.address.toString(), u.state]), [['2001:db8:100::100', 'dadfailed'], ['fe80::2', 'tentative']]);
      const director: LocalFacts = {...rs6([]), ipv6Unusable: unusable};
      const findings = auditLocal({facts: director, vip: VIP6, role: 'director'});
      assert.deepEqual(findings.map((f) => [f.id, f.severity]), [['N5', 2]]);
      assert.match(findings[0]!.message, /failed duplicate address detection: another host on the segment holds it/);
      const tentative: LocalFacts = {...rs6([]), ipv6Unusable: [{interfaceName: 'eth0', address: VIP6, state: 'tentative'}]};
      assert.match(auditLocal({facts: tentative, vip: VIP6, role: 'director'})[0]!.fix!, /nodad/);
      assert.deepEqual(ids6({...rs6([]), ipv6Unusable: []}, 'director'), []);
    } finally {
      rmSync(root, {recursive: true, force: true});
    }
  });
});
