/**
 * arp-audit for an IPv6 VIP: Neighbor Discovery through the same capture driver and classifiers as ARP. Active
 * mode end to end over the in-memory wire against Linux-like NDP hosts (they answer solicitations only for
 * addresses on the receiving interface, with solicited+override advertisements carrying the target link-layer
 * address); passive mode from literal frames. Addresses follow the lab's IPv6 plan.
 */
import assert from 'node:assert/strict';
import {MemoryWire, type MemoryLink} from '../../../src/core/link/memory-link.js';
import {buildNeighborSolicitationFrame} from '../../../src/core/neighbor/ndp-resolver.js';
import {type IpAddress, type MacAddress} from '../../../src/core/wire/address.js';
import {buildEthernet, EthernetFrame, EtherType} from '../../../src/core/wire/ethernet.js';
import {
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  multicastMac,
  NDP_HOP_LIMIT,
  NeighborSolicitation,
  solicitedNodeMulticast,
} from '../../../src/core/wire/icmpv6.js';
import {IpProtocol} from '../../../src/core/wire/ip.js';
import {buildIpv6, Ipv6Packet} from '../../../src/core/wire/ipv6.js';
import {classifyActive} from '../../../src/plugins/arp-audit/active.js';
import {runCapture} from '../../../src/plugins/arp-audit/capture.js';
import {NdpObserver} from '../../../src/plugins/arp-audit/ndp-observer.js';
import {classifyPassive} from '../../../src/plugins/arp-audit/passive.js';
import {AUDITOR_MAC, DIRECTOR_MAC, ip, mac, RS1_MAC, RS2_MAC} from './support.js';

const VIP6 = ip('2001:db8:100::100');
const DIRECTOR6 = ip('2001:db8:100::2');
const RS1_6 = ip('2001:db8:100::11');
const RS2_6 = ip('2001:db8:100::12');
const AUDITOR6 = ip('2001:db8:100::50');
const ALL_NODES = ip('ff02::1');
const UNSPECIFIED = ip('::');
const ROGUE_MAC = mac('02:00:00:00:00:99');

function ipv6Frame(srcMac: MacAddress, dstMac: MacAddress, source: IpAddress, destination: IpAddress, icmp: Buffer, hopLimit = NDP_HOP_LIMIT): Buffer {
  const packet = buildIpv6({source, destination, nextHeader: IpProtocol.ICMPv6, hopLimit}, icmp);
  return buildEthernet({destination: dstMac, source: srcMac, etherType: EtherType.IPv6}, packet);
}

/** A neighbor advertisement for `target` from `mac`/`from`. */
function advertisement(
  mac: MacAddress,
  from: IpAddress,
  target: IpAddress,
  to: {mac: MacAddress; ip: IpAddress},
  options: {solicited?: boolean; hopLimit?: number; lla?: MacAddress} = {},
): Buffer {
  const solicited = options.solicited ?? !to.ip.isMulticast;
  const message = buildNeighborAdvertisement({target, router: false, solicited, override: true, targetLinkLayerAddress: options.lla ?? mac}, from, to.ip);
  return ipv6Frame(mac, to.mac, from, to.ip, message, options.hopLimit);
}

/** Duplicate address detection for `target` by `mac`: from ::, no source link-layer option. */
function dadProbe(mac: MacAddress, target: IpAddress): Buffer {
  const group = solicitedNodeMulticast(target);
  return ipv6Frame(mac, multicastMac(group), UNSPECIFIED, group, buildNeighborSolicitation({target}, UNSPECIFIED, group));
}

/** A host whose kernel answers solicitations for `addresses` (those on its Ethernet interface). */
class NdpHost {
  readonly link: MemoryLink;

  constructor(
    wire: MemoryWire,
    readonly mac: MacAddress,
    readonly own: IpAddress,
    readonly addresses: IpAddress[],
  ) {
    this.link = wire.attach(`host-${mac}`, mac);
    this.link.onFrame((frame) => this.receive(frame));
  }

  private receive(bytes: Buffer): void {
    const frame = EthernetFrame.parse(bytes);
    if (!frame.ok || frame.value.etherType !== EtherType.IPv6) return;
    const packet = Ipv6Packet.parse(frame.value.payload);
    if (!packet.ok || packet.value.protocol !== IpProtocol.ICMPv6) return;
    const ns = NeighborSolicitation.parse(packet.value.payload);
    if (!ns.ok || !this.addresses.some((a) => a.equals(ns.value.target))) return;
    const asker = {mac: ns.value.sourceLinkLayerAddress ?? frame.value.source, ip: packet.value.source};
    this.link.send(advertisement(this.mac, ns.value.target, ns.value.target, asker));
  }
}

async function activeAudit(hosts: (wire: MemoryWire) => void, expectation: {expectMacs?: MacAddress[]; ownVipMacs?: MacAddress[]} = {}) {
  const wire = new MemoryWire();
  const auditor = wire.attach('eth0', AUDITOR_MAC);
  hosts(wire);
  const observer = new NdpObserver({vip: VIP6, ownMac: AUDITOR_MAC, ownIp: AUDITOR6, rips: [RS1_6, RS2_6]});
  const run = await runCapture(auditor, observer, {
    probes: 3,
    intervalMs: 20,
    listenMs: 0,
    deadline: performance.now() + 2000,
    ripRetryMs: 10,
    probeFor: (target) => buildNeighborSolicitationFrame(AUDITOR_MAC, AUDITOR6, target),
  });
  const outcome = classifyActive({
    observer,
    expectation: {ownVipMacs: expectation.ownVipMacs ?? [], expectMacs: expectation.expectMacs ?? []},
    interfaceName: 'eth0',
    windowMs: run.endedAt - run.startedAt,
  });
  return {outcome, observer, ids: outcome.findings.map((f) => f.id)};
}

const healthy = (wire: MemoryWire) => {
  new NdpHost(wire, DIRECTOR_MAC, DIRECTOR6, [DIRECTOR6, VIP6]);
  new NdpHost(wire, RS1_MAC, RS1_6, [RS1_6]); // the VIP on lo: never advertised on eth0
  new NdpHost(wire, RS2_MAC, RS2_6, [RS2_6]);
};

describe('arp-audit for an IPv6 VIP (NDP)', () => {
  it('finds exactly the director advertising the VIP on a healthy segment, and names the real servers', async () => {
    const {outcome, ids, observer} = await activeAudit(healthy, {expectMacs: [DIRECTOR_MAC]});
    assert.deepEqual(ids, []);
    assert.deepEqual(outcome.responders.map((r) => [r.mac.toString(), r.rounds, r.expected]), [[DIRECTOR_MAC.toString(), [1, 2, 3], true]]);
    assert.deepEqual(observer.macsOf(RS1_6), [RS1_MAC]);
  });

  it('N1 names a host holding the VIP on its Ethernet interface, once per responder', async () => {
    const {outcome, ids} = await activeAudit(
      (wire) => {
        healthy(wire);
        new NdpHost(wire, ROGUE_MAC, ip('2001:db8:100::99'), [VIP6]);
      },
      {expectMacs: [DIRECTOR_MAC]},
    );
    assert.deepEqual(ids, ['N1']);
    assert.match(outcome.findings[0]!.message, /^02:00:00:00:00:99 \(3\/3 probes\) advertises 2001:db8:100::100, not an expected MAC \(02:00:00:00:00:02\)$/);
    assert.match(outcome.findings[0]!.fix!, /ip -6 addr add 2001:db8:100::100\/128 dev lo/);
  });

  it('N1 from the director itself: any other advertiser is foreign; N2 when nobody advertises the VIP', async () => {
    const split = await activeAudit((wire) => void new NdpHost(wire, RS1_MAC, RS1_6, [RS1_6, VIP6]), {ownVipMacs: [AUDITOR_MAC]});
    assert.deepEqual(split.ids, ['N1']);
    assert.match(split.outcome.findings[0]!.message, /real server 2001:db8:100::11.*advertises 2001:db8:100::100, although this host holds the VIP/);
    const quiet = await activeAudit((wire) => void new NdpHost(wire, RS1_MAC, RS1_6, [RS1_6]), {ownVipMacs: [AUDITOR_MAC]});
    assert.deepEqual(quiet.ids, []);
    const nobody = await activeAudit((wire) => void new NdpHost(wire, RS1_MAC, RS1_6, [RS1_6]), {expectMacs: [DIRECTOR_MAC]});
    assert.deepEqual(nobody.ids, ['N2']);
    assert.match(nobody.outcome.findings[0]!.fix!, /ip -6 addr add 2001:db8:100::100\/128 dev/);
  });

  it('probes with ordinary solicitations from our address, never duplicate-detection probes from ::', async () => {
    const wire = new MemoryWire();
    const auditor = wire.attach('eth0', AUDITOR_MAC);
    const sniffer = wire.attach('sniffer', DIRECTOR_MAC);
    const sources: string[] = [];
    sniffer.onFrame((bytes) => {
      const frame = EthernetFrame.parse(bytes);
      const packet = frame.ok ? Ipv6Packet.parse(frame.value.payload) : undefined;
      if (packet?.ok) sources.push(packet.value.source.toString());
    });
    const observer = new NdpObserver({vip: VIP6, ownMac: AUDITOR_MAC, ownIp: AUDITOR6, rips: []});
    await runCapture(auditor, observer, {probes: 2, intervalMs: 10, listenMs: 0, deadline: performance.now() + 1000, probeFor: (t) => buildNeighborSolicitationFrame(AUDITOR_MAC, AUDITOR6, t)});
    assert.deepEqual(sources, [AUDITOR6.toString(), AUDITOR6.toString()]);
  });

  describe('passive', () => {
    function judge(frames: Buffer[], expectMacs: MacAddress[] = [DIRECTOR_MAC]) {
      const observer = new NdpObserver({vip: VIP6, ownMac: AUDITOR_MAC, ownIp: AUDITOR6, rips: [RS1_6]});
      observer.knowRealServer(RS1_6, RS1_MAC);
      frames.forEach((frame, i) => observer.observe(frame, 1000 + i * 10));
      return {observer, outcome: classifyPassive({observer, expectation: {ownVipMacs: [], expectMacs}, startedAt: 1000})};
    }
    const router = {mac: RS2_MAC, ip: ip('fe80::1')};

    it('the director answering a router is no finding; a real server advertising the VIP is N3, named', () => {
      const fine = judge([advertisement(DIRECTOR_MAC, VIP6, VIP6, router)]);
      assert.deepEqual(fine.outcome.findings, []);
      assert.equal(fine.outcome.claims, 1);
      const bad = judge([advertisement(RS1_MAC, VIP6, VIP6, {mac: multicastMac(ALL_NODES), ip: ALL_NODES})]);
      assert.deepEqual(bad.outcome.findings.map((f) => f.id), ['N3']);
      assert.match(bad.outcome.findings[0]!.message, /^02:00:00:00:00:11 \(real server 2001:db8:100::11\) sent 1 NDP packet\(s\) for 2001:db8:100::100: 1 unsolicited advertisement\(s\)$/);
      assert.equal(bad.outcome.findings[0]!.severity, 2);
    });

    it('a solicitation from the VIP with a foreign link-layer address is N3; duplicate address detection for the VIP is N3', () => {
      const group = solicitedNodeMulticast(router.ip);
      const fromVip = ipv6Frame(RS1_MAC, multicastMac(group), VIP6, group, buildNeighborSolicitation({target: router.ip, sourceLinkLayerAddress: RS1_MAC}, VIP6, group));
      const {outcome, observer} = judge([fromVip, dadProbe(RS1_MAC, VIP6)]);
      assert.deepEqual(outcome.findings.map((f) => f.id), ['N3', 'N3']);
      assert.match(outcome.findings[0]!.message, /1 solicitation\(s\) from 2001:db8:100::100 \(e\.g\. for fe80::1\)/);
      assert.match(outcome.findings[1]!.message, /ran duplicate address detection for 2001:db8:100::100/);
      assert.equal(observer.foreignProbes, 1);
    });

    it('ignores what a kernel would discard: hop limit below 255, a bad checksum, other targets', () => {
      const offLink = advertisement(RS1_MAC, VIP6, VIP6, router, {hopLimit: 64});
      const corrupt = advertisement(RS1_MAC, VIP6, VIP6, router);
      corrupt[corrupt.length - 1] = corrupt[corrupt.length - 1]! ^ 0xff;
      const other = advertisement(RS1_MAC, RS1_6, RS1_6, router);
      const {outcome, observer} = judge([offLink, corrupt, other, Buffer.alloc(10)]);
      assert.deepEqual(outcome.findings, []);
      assert.equal(observer.malformed, 3);
    });

    it('A6 and A7 apply to NDP too: flip-flop of the VIP MAC, Ethernet source not the advertised address', () => {
      const flip = judge(
        [DIRECTOR_MAC, RS1_MAC, DIRECTOR_MAC].map((m) => advertisement(m, VIP6, VIP6, router)),
        [DIRECTOR_MAC],
      );
      assert.deepEqual(flip.outcome.findings.map((f) => f.id).sort(), ['A6', 'N3']);
      const proxied = judge([advertisement(RS2_MAC, VIP6, VIP6, router, {lla: DIRECTOR_MAC})]);
      assert.deepEqual(proxied.outcome.findings.map((f) => f.id), ['A7']);
      assert.match(proxied.outcome.findings[0]!.message, /NDP packet\(s\) for 2001:db8:100::100 from Ethernet source 02:00:00:00:00:12 name 02:00:00:00:00:02 as link-layer address/);
    });
  });
});
