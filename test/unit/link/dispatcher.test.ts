/**
 * One shared link, many users (src/core/link/dispatcher.ts), over the in-memory wire: 1,000 concurrent TCP flows
 * (ports 40000..40999) and two neighbour channels on one dispatcher, fed by a peer with every flow's segments
 * (IPv4 and IPv6, interleaved in a seeded random order, some duplicated) mixed with frames no flow owns (other
 * ports, UDP, a non-first IPv4 fragment, truncated frames, garbage, ICMP, ICMPv6 echo) and ARP/NDP. Proves that
 * each flow channel gets exactly its own frames, byte for byte and in order, that only the neighbour channels
 * get ARP/NDP, that the counters add up, that the link's checksum gate still applies, that a closed channel gets
 * nothing and frees its port (a taken port cannot be opened twice), that a throwing handler costs nobody else
 * a frame, and that a channel's sends reach the peer.
 */
import assert from 'node:assert/strict';
import {FrameDispatcher} from '../../../src/core/link/dispatcher.js';
import {LinkError, type FrameLink} from '../../../src/core/link/link.js';
import {MemoryWire, seededRandom, type MemoryLink} from '../../../src/core/link/memory-link.js';
import {TcpFlow} from '../../../src/core/flow/tcp-flow.js';
import {outgoing} from '../../../src/core/tcp/segment.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import {ArpOperation, buildArp} from '../../../src/core/wire/arp.js';
import {internetChecksum, transportChecksum} from '../../../src/core/wire/checksum.js';
import {buildEthernet, EthernetFrame, EtherType} from '../../../src/core/wire/ethernet.js';
import {buildNeighborAdvertisement, Icmpv6Type} from '../../../src/core/wire/icmpv6.js';
import {buildIpPacket, IpProtocol, parseIpPacket} from '../../../src/core/wire/ip.js';
import {buildTcp, TcpFlags, TcpSegment} from '../../../src/core/wire/tcp.js';
import {settleEventLoop} from '../../support/virtual-clock.js';

const DIRECTOR_MAC = MacAddress.parse('02:00:00:00:00:02')!;
const RS_MAC = MacAddress.parse('02:00:00:00:00:11')!;
const ip = (text: string) => IpAddress.parse(text)!;
const V4 = {director: ip('198.51.100.2'), vip: ip('198.51.100.100')};
const V6 = {director: ip('2001:db8::2'), vip: ip('2001:db8::100')};
const FIRST_PORT = 40000;
const FLOWS = 1000;
const SEED = 7;

type Family = 4 | 6;

/** The frame the real server sends on flow `port` (VIP:80 > director:port), its sequence number naming it. */
function segmentFrame(port: number, id: number, family: Family = 4, options: {payload?: Buffer; sourcePort?: number} = {}): Buffer {
  const a = family === 4 ? V4 : V6;
  const sourcePort = options.sourcePort ?? 80;
  const flow = new TcpFlow({localMac: RS_MAC, remoteMac: DIRECTOR_MAC, localIp: a.vip, remoteIp: a.director, localPort: sourcePort, remotePort: port}, id);
  const fields = {sequenceNumber: id, acknowledgmentNumber: 1, flags: TcpFlags.ACK | TcpFlags.PSH, window: 1024};
  return flow.frame(outgoing({localPort: sourcePort, remotePort: port}, fields, options.payload ?? Buffer.from(`frame ${id}`)));
}

function ipFrame(family: Family, protocol: number, payload: Buffer, extra: {hopLimit?: number} = {}): Buffer {
  const a = family === 4 ? V4 : V6;
  const packet = buildIpPacket({family, source: a.vip, destination: a.director, protocol, ...extra}, payload);
  return buildEthernet({destination: DIRECTOR_MAC, source: RS_MAC, etherType: family === 4 ? EtherType.IPv4 : EtherType.IPv6}, packet);
}

function udpFrame(destinationPort: number, family: Family = 4): Buffer {
  const a = family === 4 ? V4 : V6;
  const udp = Buffer.alloc(8 + 4);
  udp.writeUInt16BE(53, 0);
  udp.writeUInt16BE(destinationPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  udp.write('dns?', 8);
  udp.writeUInt16BE(transportChecksum(a.vip, a.director, IpProtocol.UDP, udp) || 0xffff, 6);
  return ipFrame(family, IpProtocol.UDP, udp);
}

/** A non-first fragment whose first bytes look exactly like a TCP header to `port`. */
function laterFragment(port: number): Buffer {
  const lookalike = buildTcp({sourcePort: 80, destinationPort: port, sequenceNumber: 1, acknowledgmentNumber: 1, flags: TcpFlags.ACK, window: 1}, Buffer.alloc(16), V4.vip, V4.director);
  const packet = buildIpPacket({family: 4, source: V4.vip, destination: V4.director, protocol: IpProtocol.TCP, dontFragment: false, identification: 77}, lookalike);
  packet.writeUInt16BE(185, 6); // fragment offset 185 * 8 = 1480, no more fragments
  packet.writeUInt16BE(0, 10);
  packet.writeUInt16BE(internetChecksum(packet.subarray(0, 20)), 10);
  return buildEthernet({destination: DIRECTOR_MAC, source: RS_MAC, etherType: EtherType.IPv4}, packet);
}

function arpFrame(): Buffer {
  const arp = buildArp({operation: ArpOperation.Reply, senderMac: RS_MAC, senderIp: ip('198.51.100.11'), targetMac: DIRECTOR_MAC, targetIp: V4.director});
  return buildEthernet({destination: DIRECTOR_MAC, source: RS_MAC, etherType: EtherType.ARP}, arp);
}

function neighborAdvertisementFrame(): Buffer {
  const message = buildNeighborAdvertisement({target: V6.vip, solicited: true, override: true, targetLinkLayerAddress: RS_MAC}, V6.vip, V6.director);
  return ipFrame(6, IpProtocol.ICMPv6, message, {hopLimit: 255});
}

function icmpv6EchoFrame(): Buffer {
  const echo = Buffer.from([Icmpv6Type.EchoRequest, 0, 0, 0, 0x12, 0x34, 0, 1, 0x70, 0x69, 0x6e, 0x67]);
  echo.writeUInt16BE(transportChecksum(V6.vip, V6.director, IpProtocol.ICMPv6, echo), 2);
  return ipFrame(6, IpProtocol.ICMPv6, echo);
}

function icmpEchoFrame(): Buffer {
  const echo = Buffer.from([8, 0, 0, 0, 0x12, 0x34, 0, 1, 0x70, 0x69, 0x6e, 0x67]);
  echo.writeUInt16BE(internetChecksum(echo), 2);
  return ipFrame(4, IpProtocol.ICMP, echo);
}

/** Random bytes whose EtherType is none the dispatcher reads further (seeded, so always the same frames). */
function garbage(random: () => number, length: number): Buffer {
  const bytes = Buffer.from(Array.from({length}, () => Math.floor(random() * 256)));
  if (length >= 14 && [EtherType.IPv4, EtherType.IPv6, EtherType.ARP, EtherType.VLAN].includes(bytes.readUInt16BE(12) as never)) bytes.writeUInt16BE(0x88b5, 12);
  return bytes;
}

/** The destination port and sequence number of a TCP frame, read with the full codecs (not the dispatcher's). */
function tcpIdentity(frame: Buffer): {family: Family; port: number; id: number} {
  const eth = EthernetFrame.parse(frame);
  assert.ok(eth.ok);
  const packet = parseIpPacket(eth.value.etherType, eth.value.payload);
  assert.ok(packet.ok, 'a flow channel got a frame that is not IP');
  assert.equal(packet.value.protocol, IpProtocol.TCP);
  const segment = TcpSegment.parse(packet.value.payload);
  assert.ok(segment.ok);
  return {family: packet.value.family, port: segment.value.destinationPort, id: segment.value.sequenceNumber};
}

/** Fisher-Yates with the seeded PRNG. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

interface Received {
  readonly frames: Buffer[];
}

/** A dispatcher over the director's end of a wire, 1,000 flow channels and two neighbour channels, all recording. */
function setup() {
  const wire = new MemoryWire();
  let time = 5000;
  wire.now = () => time++;
  const director = wire.attach('eth0', DIRECTOR_MAC);
  const peer: MemoryLink = wire.attach('rs0', RS_MAC);
  const dispatcher = new FrameDispatcher(director);
  const flows = new Map<number, FrameLink>();
  const received = new Map<number, Received>();
  const trusts = new Set<string>();
  const listen = (port: number, channel: FrameLink) => {
    const log: Received = {frames: []};
    received.set(port, log);
    channel.onFrame((frame, _at, trust) => {
      trusts.add(trust);
      log.frames.push(frame);
    });
  };
  for (let i = 0; i < FLOWS; i++) {
    const port = FIRST_PORT + i;
    const channel = dispatcher.openFlow('tcp', port);
    flows.set(port, channel);
    listen(port, channel);
  }
  const neighborChannels = [dispatcher.openNeighborChannel(), dispatcher.openNeighborChannel()];
  const neighborFrames: Buffer[][] = [[], []];
  neighborChannels.forEach((channel, n) => channel.onFrame((frame) => neighborFrames[n]!.push(frame)));
  const send = async (frames: readonly Buffer[]) => {
    for (const frame of frames) peer.send(frame);
    await settleEventLoop();
  };
  return {wire, director, peer, dispatcher, flows, received, neighborChannels, neighborFrames, trusts, send, listen};
}

/** Every flow's frames: three each (flows 40900.. over IPv6), a seeded fifth of them twice, in a seeded random order. */
function flowTraffic(random: () => number) {
  const expected = new Map<number, number[]>();
  const frames: Array<{port: number; id: number; frame: Buffer}> = [];
  for (let i = 0; i < FLOWS; i++) {
    const port = FIRST_PORT + i;
    const family: Family = i >= 900 ? 6 : 4;
    for (let k = 0; k < 3; k++) {
      const id = 1_000_000 + i * 10 + k;
      const frame = segmentFrame(port, id, family);
      frames.push({port, id, frame});
      if (random() < 0.2) frames.push({port, id, frame});
    }
  }
  shuffle(frames, random);
  for (const {port, id} of frames) expected.set(port, [...(expected.get(port) ?? []), id]);
  return {frames, expected};
}

/** Frames no flow channel may get. */
function foreignFrames(random: () => number): Buffer[] {
  const full = segmentFrame(40020, 42);
  return [
    segmentFrame(FIRST_PORT - 1, 1),
    segmentFrame(FIRST_PORT + FLOWS, 2),
    segmentFrame(80, 3),
    segmentFrame(5000, 5, 6),
    udpFrame(40005),
    udpFrame(40950, 6),
    laterFragment(40010),
    full.subarray(0, 10), // shorter than an Ethernet header
    full.subarray(0, 30), // IPv4 header cut
    full.subarray(0, 36), // ports cut
    segmentFrame(40030, 43, 6).subarray(0, 14 + 30), // IPv6 header cut
    garbage(random, 7),
    garbage(random, 64),
    garbage(random, 300),
    icmpEchoFrame(),
    icmpv6EchoFrame(),
  ];
}

describe('link/dispatcher: one link, 1,000 flows and the neighbour resolvers', () => {
  it('gives each of 1,000 flows exactly its own frames (IPv4 and IPv6, interleaved, duplicated), ARP/NDP only to the neighbour channels, and nothing else to anyone', async () => {
    const h = setup();
    const random = seededRandom(SEED);
    const {frames, expected} = flowTraffic(random);
    const foreign = foreignFrames(random);
    const neighbour = [arpFrame(), neighborAdvertisementFrame()];
    // A forged segment for a flow (wrong TCP checksum): the link's gate drops it before the dispatcher.
    const forged = segmentFrame(40001, 999);
    forged[forged.length - 1]! ^= 0xff;
    const all = [...frames.map((f) => f.frame)];
    // The foreign, neighbour and forged frames go in among the flows' frames.
    for (const [n, frame] of [...foreign, ...neighbour, forged].entries()) all.splice(37 + n * 211, 0, frame);
    await h.send(all);

    assert.equal(h.director.integrity.droppedTotal, 1, 'only the forged segment fails the checksum gate');
    const byId = new Map(frames.map((f) => [f.id, f.frame]));
    for (const [port, ids] of expected) {
      const got = h.received.get(port)!.frames;
      assert.equal(got.length, ids.length, `port ${port}: ${ids.length} frames, got ${got.length}`);
      got.forEach((frame, n) => {
        const identity = tcpIdentity(frame);
        assert.equal(identity.port, port, `port ${port} got a frame for ${identity.port}`);
        assert.equal(identity.id, ids[n], `port ${port}: frame ${n} out of order or foreign`);
        assert.ok(frame.equals(byId.get(identity.id)!), `port ${port}: frame ${identity.id} arrived changed`);
        assert.equal(identity.family, port >= FIRST_PORT + 900 ? 6 : 4);
      });
    }
    assert.deepEqual([...h.trusts], ['verified']);

    for (const log of h.neighborFrames) {
      assert.equal(log.length, 2);
      assert.ok(log[0]!.equals(neighbour[0]!), 'the ARP frame');
      assert.ok(log[1]!.equals(neighbour[1]!), 'the neighbour advertisement');
    }

    const {counters} = h.dispatcher;
    assert.equal(counters.frames, all.length - 1, 'every frame past the gate is looked at once');
    assert.equal(counters.toFlows, frames.length);
    assert.equal(counters.toNeighbors, 2, 'counted once per frame, however many channels');
    assert.equal(counters.unclaimed, foreign.length);
    assert.equal(counters.toFlows + counters.toNeighbors + counters.unclaimed, counters.frames);
    assert.equal(counters.handlerErrors, 0);
    assert.equal(h.dispatcher.openFlows, FLOWS);
  });

  it('dispatches IPv6 TCP segments by destination port like IPv4 ones', async () => {
    const h = setup();
    await h.send([segmentFrame(40123, 1, 6), segmentFrame(40123, 2, 4), segmentFrame(40124, 3, 6), segmentFrame(39000, 4, 6)]);
    assert.deepEqual(h.received.get(40123)!.frames.map((f) => [tcpIdentity(f).family, tcpIdentity(f).id]), [[6, 1], [4, 2]]);
    assert.deepEqual(h.received.get(40124)!.frames.map((f) => [tcpIdentity(f).family, tcpIdentity(f).id]), [[6, 3]]);
    assert.equal(h.dispatcher.counters.toFlows, 3);
    assert.equal(h.dispatcher.counters.unclaimed, 1);
  });

  it('UDP flows are dispatched by port too, apart from TCP flows on the same port number', async () => {
    const h = setup();
    const udp = h.dispatcher.openFlow('udp', 40007);
    const got: Buffer[] = [];
    udp.onFrame((frame) => got.push(frame));
    await h.send([udpFrame(40007), segmentFrame(40007, 9), udpFrame(40008)]);
    assert.equal(got.length, 1);
    assert.ok(got[0]!.equals(udpFrame(40007)));
    assert.deepEqual(h.received.get(40007)!.frames.map((f) => tcpIdentity(f).id), [9], 'the TCP channel of 40007 gets only the TCP segment');
    assert.equal(h.dispatcher.counters.unclaimed, 1, 'UDP to a port with only a TCP flow');
  });

  it('ARP and NDP reach nobody (and are counted unclaimed) when no neighbour channel is open', async () => {
    const h = setup();
    for (const channel of h.neighborChannels) channel.close();
    await h.send([arpFrame(), neighborAdvertisementFrame()]);
    assert.deepEqual(h.neighborFrames, [[], []]);
    assert.equal(h.dispatcher.counters.toNeighbors, 0);
    assert.equal(h.dispatcher.counters.unclaimed, 2);
  });

  it('a closed channel gets nothing more and frees its port; an open port cannot be opened twice', async () => {
    const h = setup();
    const closed = Array.from({length: 100}, (_, i) => FIRST_PORT + i);
    for (const port of closed) h.flows.get(port)!.close();
    h.flows.get(FIRST_PORT)!.close(); // idempotent
    assert.equal(h.dispatcher.openFlows, FLOWS - 100);
    await h.send([...closed.map((port) => segmentFrame(port, port)), segmentFrame(40100, 1), segmentFrame(40999, 2)]);
    for (const port of closed) assert.equal(h.received.get(port)!.frames.length, 0, `closed port ${port} got a frame`);
    assert.equal(h.received.get(40100)!.frames.length, 1);
    assert.equal(h.received.get(40999)!.frames.length, 1);
    assert.equal(h.dispatcher.counters.unclaimed, 100, "a closed flow's late segments are unclaimed");

    // The port is free again: a new flow on it gets the next segments, the old channel still nothing.
    const reopened = h.dispatcher.openFlow('tcp', FIRST_PORT);
    const got: Buffer[] = [];
    reopened.onFrame((frame) => got.push(frame));
    await h.send([segmentFrame(FIRST_PORT, 7)]);
    assert.deepEqual(got.map((f) => tcpIdentity(f).id), [7]);
    assert.equal(h.received.get(FIRST_PORT)!.frames.length, 0);
    // Closing the old channel again must not free the port the new flow now holds.
    h.flows.get(FIRST_PORT)!.close();
    assert.throws(() => h.dispatcher.openFlow('tcp', FIRST_PORT), LinkError);

    assert.throws(() => h.dispatcher.openFlow('tcp', 40100), LinkError);
    assert.throws(() => h.dispatcher.openFlow('tcp', 40999), /tcp port 40999 on eth0 already has a flow/);
    assert.equal(h.dispatcher.openFlows, FLOWS - 99);
    // A closed channel cannot send any more.
    assert.throws(() => h.flows.get(40001)!.send(segmentFrame(80, 1)), LinkError);
  });

  it('a handler that throws costs no other channel a frame (handlerErrors counted)', async () => {
    const h = setup();
    h.flows.get(40500)!.onFrame(() => {
      throw new Error('flow bug');
    });
    h.neighborChannels[0]!.onFrame(() => {
      throw new Error('resolver bug');
    });
    const frames = [segmentFrame(40500, 1), segmentFrame(40501, 2), segmentFrame(40500, 3), arpFrame(), segmentFrame(40499, 4), neighborAdvertisementFrame()];
    await h.send(frames);
    assert.deepEqual(h.received.get(40501)!.frames.map((f) => tcpIdentity(f).id), [2]);
    assert.deepEqual(h.received.get(40499)!.frames.map((f) => tcpIdentity(f).id), [4]);
    assert.equal(h.neighborFrames[1]!.length, 2, 'the second neighbour channel got both frames the first threw on');
    assert.equal(h.dispatcher.counters.handlerErrors, 4);
    assert.equal(h.dispatcher.counters.toFlows, 4);
    assert.equal(h.dispatcher.counters.toNeighbors, 2);
    // The dispatcher keeps working afterwards.
    await h.send([segmentFrame(40501, 5)]);
    assert.deepEqual(h.received.get(40501)!.frames.map((f) => tcpIdentity(f).id), [2, 5]);
  });

  it("a channel's sends leave on the shared link and reach the peer; channels share the link's name, MAC and gate", async () => {
    const h = setup();
    const channel = h.flows.get(40042)!;
    assert.equal(channel.name, 'eth0');
    assert.ok(channel.mac.equals(DIRECTOR_MAC));
    assert.equal(channel.integrity, h.director.integrity);
    const atPeer: Buffer[] = [];
    h.peer.onFrame((frame) => atPeer.push(frame));
    const flow = new TcpFlow({localMac: DIRECTOR_MAC, remoteMac: RS_MAC, localIp: V4.director, remoteIp: V4.vip, localPort: 40042, remotePort: 80}, 1);
    const syn = flow.frame(outgoing({localPort: 40042, remotePort: 80}, {sequenceNumber: 123, acknowledgmentNumber: 0, flags: TcpFlags.SYN, window: 64240}));
    channel.send(syn);
    h.neighborChannels[1]!.send(arpFrame());
    await settleEventLoop();
    assert.equal(atPeer.length, 2);
    assert.ok(atPeer[0]!.equals(syn));
    assert.ok(atPeer[1]!.equals(arpFrame()));
    assert.deepEqual(h.director.sent.map((f) => f.length), [syn.length, arpFrame().length]);
    // Nothing sent comes back to the sender's own channels.
    assert.equal(h.dispatcher.counters.frames, 0);
  });
});
