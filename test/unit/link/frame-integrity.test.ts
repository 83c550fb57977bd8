/**
 * The checksum gate of every frame link (frame-integrity.ts): the decision table of the kernel's status x a
 * right or wrong checksum, for each protocol that carries one, on the in-memory link; kernel-captured frames;
 * and the checks it protects (the SYN probe and a TCP transfer) against forged segments with wrong checksums.
 */
import assert from 'node:assert/strict';
import {createHash} from 'node:crypto';
import {checksumFault, KernelFrameStatus, type ChecksumTrust} from '../../../src/core/link/frame-integrity.js';
import {MemoryWire} from '../../../src/core/link/memory-link.js';
import {resolveArp} from '../../../src/core/neighbor/arp-resolver.js';
import {drive} from '../../../src/core/flow/drive.js';
import {TcpFlow} from '../../../src/core/flow/tcp-flow.js';
import {SynProbe} from '../../../src/core/tcp/syn-probe.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import {buildEthernet, EthernetFrame, EtherType} from '../../../src/core/wire/ethernet.js';
import {buildNeighborAdvertisement} from '../../../src/core/wire/icmpv6.js';
import {buildIpPacket, IpProtocol, parseIpPacket} from '../../../src/core/wire/ip.js';
import {buildTcp, TcpFlags, TcpSegment} from '../../../src/core/wire/tcp.js';
import {internetChecksum, transportChecksum} from '../../../src/core/wire/checksum.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {FakeRealServer, listeningServer} from '../../support/fake-real-server.js';
import {collect, harness, until} from '../../support/tcp-harness.js';
import {pattern} from '../../support/tcp-script.js';

const SENDER_MAC = MacAddress.parse('02:00:00:00:00:11')!;
const RECEIVER_MAC = MacAddress.parse('02:00:00:00:00:02')!;
const ip = (text: string) => IpAddress.parse(text)!;
const V4 = {from: ip('198.51.100.100'), to: ip('198.51.100.2')};
const V6 = {from: ip('2001:db8::100'), to: ip('2001:db8::2')};

function ipFrame(addresses: {from: IpAddress; to: IpAddress}, protocol: number, payload: Buffer): Buffer {
  const family = addresses.from.family;
  const packet = buildIpPacket({family, source: addresses.from, destination: addresses.to, protocol}, payload);
  return buildEthernet({destination: RECEIVER_MAC, source: SENDER_MAC, etherType: family === 4 ? EtherType.IPv4 : EtherType.IPv6}, packet);
}

function tcpFrame(addresses: {from: IpAddress; to: IpAddress}): Buffer {
  const segment = buildTcp(
    {sourcePort: 80, destinationPort: 40000, sequenceNumber: 1, acknowledgmentNumber: 2, flags: TcpFlags.ACK | TcpFlags.PSH, window: 512},
    Buffer.from('HTTP/1.1 200 OK\r\n'),
    addresses.from,
    addresses.to,
  );
  return ipFrame(addresses, IpProtocol.TCP, segment);
}

function udpFrame(addresses: {from: IpAddress; to: IpAddress}, checksum: 'computed' | 'zero' = 'computed'): Buffer {
  const data = Buffer.from('dns?');
  const udp = Buffer.alloc(8 + data.length);
  udp.writeUInt16BE(53, 0);
  udp.writeUInt16BE(40000, 2);
  udp.writeUInt16BE(udp.length, 4);
  data.copy(udp, 8);
  if (checksum === 'computed') udp.writeUInt16BE(transportChecksum(addresses.from, addresses.to, IpProtocol.UDP, udp) || 0xffff, 6);
  return ipFrame(addresses, IpProtocol.UDP, udp);
}

function icmpEchoReplyFrame(): Buffer {
  const icmp = Buffer.from('0000000012340001706f6e67', 'hex');
  icmp.writeUInt16BE(internetChecksum(icmp), 2);
  return ipFrame(V4, IpProtocol.ICMP, icmp);
}

function neighborAdvertisementFrame(): Buffer {
  const message = buildNeighborAdvertisement(
    {target: V6.from, solicited: true, override: true, targetLinkLayerAddress: SENDER_MAC},
    V6.from,
    V6.to,
  );
  const packet = buildIpPacket({family: 6, source: V6.from, destination: V6.to, protocol: IpProtocol.ICMPv6, hopLimit: 255}, message);
  return buildEthernet({destination: RECEIVER_MAC, source: SENDER_MAC, etherType: EtherType.IPv6}, packet);
}

/** The offset of the byte to flip so that exactly the named checksum goes wrong. */
function transportChecksumOffset(frame: Buffer): number {
  const ethernet = EthernetFrame.parse(frame);
  assert.ok(ethernet.ok);
  const packet = parseIpPacket(ethernet.value.etherType, ethernet.value.payload);
  assert.ok(packet.ok);
  // Parsing slices the frame, so the payload's offset in it is where the transport header starts (short
  // frames carry Ethernet padding after it).
  const transportStart = packet.value.payload.byteOffset - frame.byteOffset;
  const within = packet.value.protocol === IpProtocol.TCP ? 16 : packet.value.protocol === IpProtocol.UDP ? 6 : 2;
  return transportStart + within;
}

const cases: ReadonlyArray<{name: string; frame: () => Buffer; corrupt: (frame: Buffer) => void; fault: string}> = [
  {name: 'IPv4 TCP', frame: () => tcpFrame(V4), corrupt: (f) => (f[transportChecksumOffset(f)]! ^= 0x5a), fault: 'bad TCP checksum'},
  {name: 'IPv6 TCP', frame: () => tcpFrame(V6), corrupt: (f) => (f[transportChecksumOffset(f)]! ^= 0x5a), fault: 'bad TCP checksum'},
  // A payload byte changed without the checksum following it: the forgery the gate exists for.
  {name: 'IPv4 TCP payload', frame: () => tcpFrame(V4), corrupt: (f) => (f[f.length - 3]! ^= 0x20), fault: 'bad TCP checksum'},
  {name: 'IPv4 UDP', frame: () => udpFrame(V4), corrupt: (f) => (f[transportChecksumOffset(f)]! ^= 0x5a), fault: 'bad UDP checksum'},
  {name: 'IPv6 UDP', frame: () => udpFrame(V6), corrupt: (f) => (f[transportChecksumOffset(f)]! ^= 0x5a), fault: 'bad UDP checksum'},
  {name: 'ICMP', frame: icmpEchoReplyFrame, corrupt: (f) => (f[transportChecksumOffset(f)]! ^= 0x5a), fault: 'bad ICMP checksum'},
  {name: 'ICMPv6 NA', frame: neighborAdvertisementFrame, corrupt: (f) => (f[transportChecksumOffset(f)]! ^= 0x5a), fault: 'bad ICMPv6 checksum'},
  {name: 'IPv4 header', frame: () => tcpFrame(V4), corrupt: (f) => (f[14 + 8]! ^= 0x01), fault: 'bad IPv4 header checksum'},
];

const statuses: ReadonlyArray<{name: string; status: number; trust: ChecksumTrust | 'verify'}> = [
  {name: 'no status', status: KernelFrameStatus.None, trust: 'verify'},
  {name: 'CSUMNOTREADY', status: KernelFrameStatus.CsumNotReady, trust: 'kernel-pending'},
  {name: 'CSUM_VALID', status: KernelFrameStatus.CsumValid, trust: 'device-verified'},
  // Bits the gate does not use (TP_STATUS_VLAN_VALID, TP_STATUS_GSO_TCP) change nothing.
  {name: 'VLAN_VALID|GSO_TCP only', status: (1 << 4) | (1 << 8), trust: 'verify'},
];

/** Sends one frame over a fresh wire with the given kernel status; what the receiver's handler saw. */
async function deliver(frame: Buffer, status: number) {
  const wire = new MemoryWire();
  const sender = wire.attach('veth0', SENDER_MAC);
  const receiver = wire.attach('eth0', RECEIVER_MAC);
  sender.arrivalStatus = status;
  const seen: ChecksumTrust[] = [];
  const drops: string[] = [];
  receiver.onFrame((_frame, _at, trust) => seen.push(trust));
  receiver.integrity.onDrop((_frame, fault) => drops.push(fault));
  sender.send(frame);
  await new Promise((resolve) => setImmediate(resolve));
  return {seen, drops, integrity: receiver.integrity};
}

describe('link/frame-integrity: which captured frames are believed', () => {
  for (const c of cases) {
    for (const s of statuses) {
      for (const right of [true, false]) {
        const expected = right ? (s.trust === 'verify' ? 'verified' : s.trust) : s.trust === 'verify' ? 'dropped' : s.trust;
        it(`${c.name}, ${s.name}, checksum ${right ? 'right' : 'wrong'}: ${expected}`, async () => {
          const frame = c.frame();
          if (!right) c.corrupt(frame);
          assert.equal(checksumFault(frame), right ? undefined : c.fault, 'the software verdict');
          const {seen, drops, integrity} = await deliver(frame, s.status);
          if (expected === 'dropped') {
            assert.deepEqual(seen, []);
            assert.deepEqual(drops, [c.fault]);
            assert.equal(integrity.dropped.get(c.fault as never), 1);
            assert.match(integrity.describe('eth0'), new RegExp(`1 frame\\(s\\) dropped \\(${c.fault} 1\\)$`));
          } else {
            assert.deepEqual(seen, [expected]);
            assert.deepEqual(drops, []);
            assert.equal(integrity.accepted[expected as ChecksumTrust], 1);
            assert.match(integrity.describe('eth0'), /no frame dropped$/);
          }
        });
      }
    }
  }

  it('a zero UDP checksum means "none" over IPv4 and is wrong over IPv6', () => {
    assert.equal(checksumFault(udpFrame(V4, 'zero')), undefined);
    assert.equal(checksumFault(udpFrame(V6, 'zero')), 'bad UDP checksum');
  });

  it('passes what it cannot judge: ARP, a truncated packet, a later fragment', () => {
    assert.equal(checksumFault(frameBytes(kernelFrames.arpRequest)), undefined);
    assert.equal(checksumFault(tcpFrame(V4).subarray(0, 40)), undefined);
    const fragment = tcpFrame(V4);
    fragment.writeUInt16BE(0x0010, 14 + 6); // fragment offset 16 (x 8 bytes), no DF
    fragment.writeUInt16BE(0, 14 + 10);
    fragment.writeUInt16BE(internetChecksum(fragment.subarray(14, 34)), 14 + 10);
    fragment[fragment.length - 1]! ^= 0xff;
    assert.equal(checksumFault(fragment), undefined);
  });

  it('kernel captures: offloaded segments fail in software and pass only when the kernel says so; finished ones pass', async () => {
    for (const name of ['synOffloaded', 'synAckOffloaded', 'httpGetOffloaded'] as const) {
      const frame = frameBytes(kernelFrames[name]);
      assert.equal(checksumFault(frame), 'bad TCP checksum', name);
      assert.deepEqual((await deliver(frame, KernelFrameStatus.None)).seen, [], name);
      assert.deepEqual((await deliver(frame, KernelFrameStatus.CsumNotReady)).seen, ['kernel-pending'], name);
    }
    for (const name of ['syn', 'synAck', 'httpGet', 'httpResponseBody', 'rstAck', 'ndpAdvertisement'] as const) {
      assert.equal(checksumFault(frameBytes(kernelFrames[name])), undefined, name);
    }
  });
});

describe('link/frame-integrity: the checks it protects', () => {
  const DIRECTOR_IP = ip('198.51.100.2');
  const RIP = ip('198.51.100.11');
  const VIP = ip('198.51.100.100');

  /** A copy of a server frame with `rewrite` applied to its TCP segment and the checksum left as it was. */
  function forge(frame: Buffer, rewrite: (tcp: Buffer) => void): Buffer | undefined {
    const ethernet = EthernetFrame.parse(frame);
    if (!ethernet.ok || ethernet.value.etherType !== EtherType.IPv4) return undefined;
    const packet = parseIpPacket(ethernet.value.etherType, ethernet.value.payload);
    if (!packet.ok || packet.value.protocol !== IpProtocol.TCP) return undefined;
    const copy = Buffer.from(frame);
    const start = packet.value.payload.byteOffset - frame.byteOffset;
    rewrite(copy.subarray(start, start + packet.value.payload.length));
    return copy;
  }

  it('the SYN probe ignores a forged RST with a wrong checksum sent ahead of the SYN-ACK', async () => {
    const wire = new MemoryWire();
    const client = wire.attach('eth0', RECEIVER_MAC);
    const server = new FakeRealServer(wire, SENDER_MAC, RIP, [RIP, VIP], listeningServer());
    server.link.faults = (frame) => {
      const forged = forge(frame, (tcp) => {
        if (TcpSegment.parse(tcp).ok && tcp[13] === (TcpFlags.SYN | TcpFlags.ACK)) tcp[13] = TcpFlags.RST | TcpFlags.ACK;
      });
      return forged && !forged.equals(frame) ? [forged, frame] : [frame];
    };
    const deadline = performance.now() + 1500;
    const arp = await resolveArp(client, {target: RIP, source: DIRECTOR_IP, deadline, intervalMs: 20});
    const probe = new SynProbe({localPort: 40000, remotePort: 80, isn: 0x9000_0000, mss: 1460, close: 'rst', initialRtoMs: 20, deadline, timestampBase: 1});
    const flow = new TcpFlow({localMac: client.mac, remoteMac: arp.mac, localIp: DIRECTOR_IP, remoteIp: VIP, localPort: 40000, remotePort: 80}, 1);
    await drive(client, flow, probe);
    assert.equal(probe.outcome?.kind, 'open');
    assert.equal(client.integrity.dropped.get('bad TCP checksum'), 1);
  });

  it('a 256 KiB download stays intact while every data segment is preceded by a forged copy with a wrong checksum', async () => {
    const body = pattern(256 * 1024);
    const h = harness({peer: {onConnection: (c) => (c.write(body), c.end())}});
    let forgeries = 0;
    h.peer.link.faults = (frame) => {
      const forged = forge(frame, (tcp) => {
        const headerLength = (tcp[12]! >> 4) * 4;
        if (tcp.length > headerLength) tcp.fill(0x41, headerLength);
      });
      if (!forged || forged.equals(frame)) return [frame];
      forgeries++;
      return [forged, frame];
    };
    const got = collect(h.socket);
    await until(h, () => got.closed && h.connection.finished);
    assert.equal(got.error, undefined);
    const digest = (data: Buffer) => createHash('md5').update(data).digest('hex');
    assert.equal(digest(got.data()), digest(body));
    assert.ok(forgeries > 100, `${forgeries} forgeries`);
    assert.equal(h.socket.bytesRead, body.length);
    assert.equal(h.link.integrity.dropped.get('bad TCP checksum'), forgeries);
  });
});
