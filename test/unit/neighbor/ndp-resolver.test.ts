/**
 * NDP resolution over the in-memory link against a scripted neighbour that answers like Linux's ndisc
 * (solicited + override, target link-layer address, hop limit 255) unless a test makes it misbehave; and the
 * family dispatch of resolveNeighbor, and the shared timeout error of ARP and NDP.
 */
import assert from 'node:assert/strict';
import {KernelFrameStatus} from '../../../src/core/link/frame-integrity.js';
import {faults, MemoryWire, type MemoryLink} from '../../../src/core/link/memory-link.js';
import {ArpTimeoutError, resolveArp} from '../../../src/core/neighbor/arp-resolver.js';
import {
  buildNeighborSolicitationFrame,
  NdpTimeoutError,
  ndpAnswerFrom,
  resolveNdp,
} from '../../../src/core/neighbor/ndp-resolver.js';
import {NeighborTimeoutError, resolveNeighbor} from '../../../src/core/neighbor/resolve.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import {buildEthernet, EthernetFrame, EtherType} from '../../../src/core/wire/ethernet.js';
import {
  buildNeighborAdvertisement,
  multicastMac,
  NeighborSolicitation,
  type NeighborAdvertisementRepr,
} from '../../../src/core/wire/icmpv6.js';
import {IpProtocol} from '../../../src/core/wire/ip.js';
import {buildIpv6, Ipv6Packet} from '../../../src/core/wire/ipv6.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {FakeRealServer, listeningServer} from '../../support/fake-real-server.js';

const DIRECTOR_MAC = MacAddress.parse('02:00:00:00:00:02')!;
const RS_MAC = MacAddress.parse('02:00:00:00:00:11')!;
const OTHER_MAC = MacAddress.parse('02:00:00:00:00:12')!;
const DIRECTOR_IP = IpAddress.parse('2001:db8:100::2')!;
const RIP = IpAddress.parse('2001:db8:100::11')!;
const OTHER_IP = IpAddress.parse('2001:db8:100::12')!;
const ALL_NODES = IpAddress.parse('ff02::1')!;

/** How the scripted neighbour answers one solicitation; each field overrides the Linux-like default. */
interface Answer {
  hopLimit?: number;
  target?: IpAddress;
  /** Replaces the flags and the option of the default answer. */
  repr?: Partial<NeighborAdvertisementRepr>;
  /** Omit the target link-layer address option. */
  noLinkLayerAddress?: boolean;
  corruptChecksum?: boolean;
  /** Send to ff02::1 instead of to the solicitor. */
  multicast?: boolean;
  /** Do not answer at all. */
  silent?: boolean;
}

/** Answers solicitations for `address`; the n-th one as `script[n]` (the last entry repeats). */
class ScriptedNeighbor {
  readonly link: MemoryLink;
  readonly solicitations: Array<{frame: EthernetFrame; packet: Ipv6Packet; message: NeighborSolicitation}> = [];

  constructor(
    wire: MemoryWire,
    readonly mac: MacAddress,
    readonly address: IpAddress,
    readonly script: readonly Answer[] = [{}],
  ) {
    this.link = wire.attach('rs0', mac);
    this.link.onFrame((bytes) => this.receive(bytes));
  }

  private receive(bytes: Buffer): void {
    const frame = EthernetFrame.parse(bytes);
    if (!frame.ok || frame.value.etherType !== EtherType.IPv6) return;
    const packet = Ipv6Packet.parse(frame.value.payload);
    if (!packet.ok || packet.value.protocol !== IpProtocol.ICMPv6) return;
    const message = NeighborSolicitation.parse(packet.value.payload);
    if (!message.ok || !message.value.target.equals(this.address)) return;
    this.solicitations.push({frame: frame.value, packet: packet.value, message: message.value});
    const answer = this.script[Math.min(this.solicitations.length, this.script.length) - 1]!;
    if (!answer.silent) this.advertise(answer, packet.value.source, message.value.sourceLinkLayerAddress ?? frame.value.source);
  }

  advertise(answer: Answer, to: IpAddress, toMac: MacAddress): void {
    const destination = answer.multicast ? ALL_NODES : to;
    const repr: NeighborAdvertisementRepr = {
      target: answer.target ?? this.address,
      solicited: !answer.multicast,
      override: true,
      ...(answer.noLinkLayerAddress ? {} : {targetLinkLayerAddress: this.mac}),
      ...answer.repr,
    };
    const message = buildNeighborAdvertisement(repr, this.address, destination);
    if (answer.corruptChecksum) message[2]! ^= 0x10;
    const packet = buildIpv6(
      {source: this.address, destination, nextHeader: IpProtocol.ICMPv6, hopLimit: answer.hopLimit ?? 255},
      message,
    );
    const ethernetDestination = answer.multicast ? multicastMac(ALL_NODES) : toMac;
    this.link.send(buildEthernet({destination: ethernetDestination, source: this.mac, etherType: EtherType.IPv6}, packet));
  }
}

function setup(script?: readonly Answer[]) {
  const wire = new MemoryWire();
  const director = wire.attach('eth0', DIRECTOR_MAC);
  const neighbor = new ScriptedNeighbor(wire, RS_MAC, RIP, script);
  const trace: string[] = [];
  const resolve = (timeoutMs = 1000, extra: {intervalMs?: number; maxIntervalMs?: number} = {}) =>
    resolveNdp(director, {
      target: RIP,
      source: DIRECTOR_IP,
      deadline: performance.now() + timeoutMs,
      intervalMs: 20,
      trace: (text) => trace.push(text),
      ...extra,
    });
  return {wire, director, neighbor, trace, resolve};
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected a rejection');
}

describe('neighbor/ndp-resolver', () => {
  it('sends exactly what the kernel sends: the captured solicitation is rebuilt byte for byte', () => {
    const kernel = frameBytes(kernelFrames.ndpSolicitation);
    const built = buildNeighborSolicitationFrame(
      MacAddress.parse('02:00:00:00:00:01')!,
      IpAddress.parse('2001:db8::2')!,
      IpAddress.parse('2001:db8::100')!,
    );
    assert.deepEqual(built, kernel);
  });

  it('reads the MAC from the captured kernel advertisement', () => {
    const answer = ndpAnswerFrom(frameBytes(kernelFrames.ndpAdvertisement), IpAddress.parse('2001:db8::100')!);
    assert.equal(answer?.mac?.toString(), '02:00:00:00:00:0b');
    assert.equal(ndpAnswerFrom(frameBytes(kernelFrames.ndpAdvertisement), RIP), undefined, 'another target');
    for (const other of [kernelFrames.ndpSolicitation, kernelFrames.arpReply, kernelFrames.ipv6Syn, kernelFrames.mldReportHopByHop]) {
      assert.equal(ndpAnswerFrom(frameBytes(other), IpAddress.parse('2001:db8::100')!), undefined);
    }
  });

  it('resolves with one solicitation to the solicited-node group, hop limit 255, our MAC in the option', async () => {
    const {neighbor, trace, resolve} = setup();
    const resolution = await resolve();
    assert.ok(resolution.mac.equals(RS_MAC));
    assert.equal(resolution.requests, 1);
    assert.ok(resolution.elapsedMs >= 0 && resolution.elapsedMs < 1000);
    const [ns] = neighbor.solicitations;
    assert.equal(ns!.frame.destination.toString(), '33:33:ff:00:00:11');
    assert.equal(ns!.packet.destination.toString(), 'ff02::1:ff00:11');
    assert.ok(ns!.packet.source.equals(DIRECTOR_IP));
    assert.equal(ns!.packet.hopLimit, 255);
    assert.ok(ns!.message.sourceLinkLayerAddress?.equals(DIRECTOR_MAC));
    assert.ok(ns!.message.checksumValid(ns!.packet.source, ns!.packet.destination));
    assert.deepEqual(trace, [
      'NDP who-has 2001:db8:100::11 tell 2001:db8:100::2 (solicitation 1)',
      'NDP 2001:db8:100::11 is-at 02:00:00:00:00:11 (Flags [solicited, override], from 2001:db8:100::11) [checksum verified]',
    ]);
  });

  it('retries when the first solicitation is lost', async () => {
    const {director, neighbor, resolve} = setup();
    director.faults = faults.dropMatching(() => true, 1);
    const resolution = await resolve();
    assert.equal(resolution.requests, 2);
    assert.equal(neighbor.solicitations.length, 1);
  });

  it('retries when the first advertisement is lost', async () => {
    const {neighbor, resolve} = setup();
    neighbor.link.faults = faults.dropMatching(() => true, 1);
    const resolution = await resolve();
    assert.equal(resolution.requests, 2);
  });

  it('ignores an advertisement whose hop limit is not 255, and takes the next good one', async () => {
    const {trace, resolve} = setup([{hopLimit: 64}, {}]);
    const resolution = await resolve();
    assert.equal(resolution.requests, 2);
    assert.ok(resolution.mac.equals(RS_MAC));
    assert.ok(
      trace.includes(
        'ignored neighbor advertisement for 2001:db8:100::11 from 2001:db8:100::11 (02:00:00:00:00:11): hop limit 64, not 255 [checksum verified]',
      ),
      trace.join('\n'),
    );
  });

  it('times out with NdpTimeoutError when every advertisement has hop limit 254', async () => {
    const {neighbor, trace, resolve} = setup([{hopLimit: 254}]);
    const error = await rejection(resolve(150));
    assert.ok(error instanceof NdpTimeoutError);
    assert.ok(error instanceof NeighborTimeoutError);
    assert.equal(error.name, 'NdpTimeoutError');
    assert.equal((error as NdpTimeoutError).protocol, 'NDP');
    assert.match(error.message, /^no neighbor advertisement from 2001:db8:100::11 on eth0 after \d+ solicitations$/);
    assert.ok(neighbor.solicitations.length >= 3);
    assert.equal(trace.filter((t) => t.includes('hop limit 254')).length, neighbor.solicitations.length);
  });

  it('ignores advertisements for another target, without tracing them', async () => {
    const {trace, resolve} = setup([{target: OTHER_IP}]);
    const error = await rejection(resolve(100));
    assert.ok(error instanceof NdpTimeoutError);
    assert.ok(trace.every((t) => t.startsWith('NDP who-has')), trace.join('\n'));
  });

  it('never sees an advertisement with a wrong checksum: the link drops it (NDP checksums are computed in software)', async () => {
    const {trace, resolve, director, neighbor} = setup([{corruptChecksum: true}]);
    assert.ok((await rejection(resolve(100))) instanceof NdpTimeoutError);
    assert.ok(trace.every((t) => t.startsWith('NDP who-has')), trace.join('\n'));
    assert.equal(director.integrity.dropped.get('bad ICMPv6 checksum'), neighbor.solicitations.length);
  });

  it('ignores a wrong checksum even where the kernel says it is unfinished (ndisc always computes it)', async () => {
    const {trace, resolve, neighbor} = setup([{corruptChecksum: true}]);
    neighbor.link.arrivalStatus = KernelFrameStatus.CsumNotReady;
    assert.ok((await rejection(resolve(100))) instanceof NdpTimeoutError);
    assert.match(trace.join('\n'), /: bad ICMPv6 checksum 0x[0-9a-f]{4} \[checksum kernel-pending\]$/m);
  });

  it('ignores an advertisement without a target link-layer address, even a solicited one', async () => {
    const {trace, resolve} = setup([{noLinkLayerAddress: true}]);
    assert.ok((await rejection(resolve(100))) instanceof NdpTimeoutError);
    assert.match(trace.join('\n'), /: no target link-layer address option \[checksum verified\]$/m);
  });

  it('ignores a multicast or zero link-layer address', async () => {
    for (const bad of [MacAddress.parse('33:33:00:00:00:01')!, MacAddress.ZERO]) {
      const {trace, resolve} = setup([{repr: {targetLinkLayerAddress: bad}}]);
      assert.ok((await rejection(resolve(60))) instanceof NdpTimeoutError);
      assert.match(trace.join('\n'), new RegExp(`: target link-layer address ${bad} \\[checksum verified\\]$`, 'm'));
    }
  });

  it('ignores a solicited advertisement sent to a multicast address', async () => {
    const {trace, resolve} = setup([{multicast: true, repr: {solicited: true}}]);
    assert.ok((await rejection(resolve(60))) instanceof NdpTimeoutError);
    assert.match(trace.join('\n'), /solicited flag in an advertisement to a multicast address/);
  });

  it('accepts an unsolicited advertisement to all nodes (like a gratuitous ARP)', async () => {
    const {resolve} = setup([{multicast: true}]);
    const resolution = await resolve();
    assert.ok(resolution.mac.equals(RS_MAC));
  });

  it('takes the MAC from the option, not from the Ethernet source', async () => {
    const {resolve} = setup([{repr: {targetLinkLayerAddress: OTHER_MAC}}]);
    assert.ok((await resolve()).mac.equals(OTHER_MAC));
  });

  it('resolves once when the advertisement is duplicated', async () => {
    const {neighbor, trace, resolve} = setup();
    neighbor.link.faults = faults.duplicateMatching(() => true);
    const resolution = await resolve();
    assert.equal(resolution.requests, 1);
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(trace.filter((t) => t.includes('is-at')).length, 1);
  });

  it('backs off exponentially up to maxIntervalMs until the deadline', async () => {
    const {neighbor, resolve} = setup([{silent: true}]);
    const started = performance.now();
    const error = await rejection(resolve(250, {intervalMs: 10, maxIntervalMs: 40}));
    const elapsed = performance.now() - started;
    // Sent at about 0, 10, 30, 70, 110, 150, 190, 230 ms. A loaded machine fires timers late, so fewer may go
    // out; the bounds say "backed off, kept retrying, never more than the schedule allows" (a timer firing early
    // near the deadline once made the loop send 10).
    assert.ok(neighbor.solicitations.length >= 3 && neighbor.solicitations.length <= 8, `${neighbor.solicitations.length} sent`);
    assert.match(error.message, new RegExp(`after ${neighbor.solicitations.length} solicitations`));
    assert.ok(elapsed >= 240 && elapsed < 1500, `${elapsed} ms`);
  });

  it('rejects with the link error when sending fails', async () => {
    const {director, resolve} = setup();
    director.close();
    const error = await rejection(resolve());
    assert.equal(error.name, 'LinkError');
  });

  it('rejects at once, without sending, when the deadline has passed', async () => {
    const {neighbor, resolve} = setup();
    const error = await rejection(resolve(-1));
    assert.ok(error instanceof NdpTimeoutError);
    assert.match(error.message, /after 0 solicitations/);
    assert.equal(neighbor.solicitations.length, 0);
  });

  describe('resolveNeighbor', () => {
    it('uses NDP for an IPv6 target', async () => {
      const {director} = setup();
      const resolution = await resolveNeighbor(director, {target: RIP, source: DIRECTOR_IP, deadline: performance.now() + 1000});
      assert.equal(resolution.protocol, 'NDP');
      assert.ok(resolution.mac.equals(RS_MAC));
      assert.equal(resolution.requests, 1);
    });

    it('uses ARP for an IPv4 target', async () => {
      const wire = new MemoryWire();
      const director = wire.attach('eth0', DIRECTOR_MAC);
      const rip4 = IpAddress.parse('198.51.100.11')!;
      new FakeRealServer(wire, RS_MAC, rip4, [rip4], listeningServer());
      const source = IpAddress.parse('198.51.100.2')!;
      const resolution = await resolveNeighbor(director, {target: rip4, source, deadline: performance.now() + 1000});
      assert.equal(resolution.protocol, 'ARP');
      assert.ok(resolution.mac.equals(RS_MAC));
    });

    it('rejects a source of the other family', async () => {
      const {director} = setup();
      const source = IpAddress.parse('198.51.100.2')!;
      const error = await rejection(resolveNeighbor(director, {target: RIP, source, deadline: performance.now() + 100}));
      assert.ok(error instanceof TypeError);
    });

    it('reports silence as a NeighborTimeoutError of either protocol', async () => {
      const wire = new MemoryWire();
      const director = wire.attach('eth0', DIRECTOR_MAC);
      const deadline = performance.now() + 50;
      const arp = await rejection(
        resolveArp(director, {target: IpAddress.parse('198.51.100.99')!, source: IpAddress.parse('198.51.100.2')!, deadline, intervalMs: 20}),
      );
      // resolveArp's error is unchanged for its callers, and now shares the base class.
      assert.ok(arp instanceof ArpTimeoutError && arp instanceof NeighborTimeoutError);
      assert.equal(arp.name, 'ArpTimeoutError');
      assert.equal((arp as ArpTimeoutError).protocol, 'ARP');
      assert.match(arp.message, /^no ARP reply from 198\.51\.100\.99 on eth0 after \d+ requests$/);
      const ndp = await rejection(resolveNeighbor(director, {target: OTHER_IP, source: DIRECTOR_IP, deadline, intervalMs: 20}));
      assert.ok(ndp instanceof NdpTimeoutError && ndp instanceof NeighborTimeoutError);
    });
  });
});
