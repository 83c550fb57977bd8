import assert from 'node:assert/strict';
import {checksumFault} from '../../../src/core/link/frame-integrity.js';
import {EthernetFrame, EtherType, buildEthernet} from '../../../src/core/wire/ethernet.js';
import {parseDestinationUnreachable} from '../../../src/core/wire/icmp-unreachable.js';
import {IpProtocol, buildIpPacket, parseIpPacket, type IpPacketView} from '../../../src/core/wire/ip.js';
import {UdpDatagram, buildUdp} from '../../../src/core/wire/udp.js';
import {frameBytes, type KernelFrame} from '../../fixtures/wire/kernel-frames.js';
import {kernelUdpFrames} from '../../fixtures/wire/kernel-udp-frames.js';
import {CLIENT_MAC, CLIENT_V4, CLIENT_V6, SERVER_MAC, SERVER_V4, SERVER_V6, failure, padded, unwrap} from './support.js';

function ipOf(frame: KernelFrame | Buffer): IpPacketView {
  const eth = unwrap(EthernetFrame.parse(Buffer.isBuffer(frame) ? frame : frameBytes(frame)));
  return unwrap(parseIpPacket(eth.etherType, eth.payload));
}

/** `ip` with another payload (a plain view: the packet classes' fields are getters, which a spread drops). */
function withPayload(ip: IpPacketView, payload: Buffer): IpPacketView {
  const {family, source, destination, protocol, hopLimit, isFragment} = ip;
  return {family, source, destination, protocol, hopLimit, isFragment, payload};
}

/** What tcpdump printed for the UDP part: ports, checksum verdict and payload length. */
function tcpdumpSays(line: string) {
  const match = /(\S+)\.(\d+) > (\S+)\.(\d+): \[udp sum (ok|bad)\]\s+\[\|rx\] \((\d+)\)\s*$/.exec(line);
  assert.ok(match, line);
  return {sourcePort: Number(match[2]), destinationPort: Number(match[4]), sumOk: match[5] === 'ok', length: Number(match[6])};
}

const datagrams = ['udp4Request', 'udp4Reply', 'udp4ToClosedPort', 'udp6Request', 'udp6Reply', 'udp6ToClosedPort'] as const;

describe('wire/udp', () => {
  for (const name of datagrams) {
    it(`reads the kernel's ${name} as tcpdump did, checksum included`, () => {
      const frame = kernelUdpFrames[name];
      const ip = ipOf(frame);
      assert.equal(ip.protocol, IpProtocol.UDP);
      const udp = unwrap(UdpDatagram.parse(ip.payload));
      const says = tcpdumpSays(frame.tcpdump);
      assert.equal(udp.sourcePort, says.sourcePort);
      assert.equal(udp.destinationPort, says.destinationPort);
      assert.equal(udp.payload.length, says.length);
      assert.equal(udp.checksumValid(ip.source, ip.destination), says.sumOk);
      assert.equal(checksumFault(frameBytes(frame)), undefined, 'the frame-integrity gate accepts it');
    });

    it(`rebuilds ${name} byte for byte (round trip)`, () => {
      const ip = ipOf(kernelUdpFrames[name]);
      const udp = unwrap(UdpDatagram.parse(ip.payload));
      const rebuilt = buildUdp({sourcePort: udp.sourcePort, destinationPort: udp.destinationPort}, udp.payload, ip.source, ip.destination);
      assert.deepEqual(rebuilt, ip.payload);
    });
  }

  it('reads the echo payload of the reply', () => {
    const udp = unwrap(UdpDatagram.parse(ipOf(kernelUdpFrames.udp4Reply).payload));
    assert.equal(udp.payload.toString('latin1'), 'echo:ping\r\n');
  });

  it('leaves Ethernet padding out of the payload', () => {
    const ip = ipOf(padded(frameBytes(kernelUdpFrames.udp4Request)));
    assert.equal(unwrap(UdpDatagram.parse(ip.payload)).payload.toString('latin1'), 'ping\r\n');
  });

  it('rejects a short header, a length below 8 and a length past the bytes', () => {
    const bytes = ipOf(kernelUdpFrames.udp4Request).payload;
    assert.match(failure(UdpDatagram.parse(bytes.subarray(0, 7))), /truncated UDP header: 7 bytes, need 8/);
    const short = Buffer.from(bytes);
    short.writeUInt16BE(7, 4);
    assert.match(failure(UdpDatagram.parse(short)), /UDP length 7 is below/);
    const long = Buffer.from(bytes);
    long.writeUInt16BE(bytes.length + 1, 4);
    assert.match(failure(UdpDatagram.parse(long)), /truncated UDP datagram/);
  });

  it('takes a UDP length shorter than the IP payload and ignores the rest', () => {
    const bytes = Buffer.concat([ipOf(kernelUdpFrames.udp4Request).payload, Buffer.from('junk')]);
    assert.equal(unwrap(UdpDatagram.parse(bytes)).payload.toString('latin1'), 'ping\r\n');
  });

  it('sends a computed zero checksum as 0xffff, and it verifies', () => {
    // Find a payload whose checksum computes to zero: vary two bytes until the sum is 0xffff.
    for (let n = 0; n < 65536; n++) {
      const payload = Buffer.from([n >> 8, n & 0xff]);
      const udp = unwrap(UdpDatagram.parse(buildUdp({sourcePort: 40010, destinationPort: 53}, payload, CLIENT_V4, SERVER_V4)));
      if (udp.checksum !== 0xffff) continue;
      assert.ok(udp.checksumValid(CLIENT_V4, SERVER_V4));
      const v6 = unwrap(UdpDatagram.parse(buildUdp({sourcePort: 40010, destinationPort: 53}, payload, CLIENT_V6, SERVER_V6)));
      assert.notEqual(v6.checksum, 0);
      return;
    }
    assert.fail('no payload gave a zero checksum');
  });

  it('accepts "no checksum" (0) over IPv4 and refuses it over IPv6 (RFC 8200 8.1), as the gate does', () => {
    for (const [name, family] of [['udp4Reply', 4], ['udp6Reply', 6]] as const) {
      const frame = frameBytes(kernelUdpFrames[name]);
      const transport = 14 + (family === 4 ? 20 : 40);
      frame.writeUInt16BE(0, transport + 6);
      const ip = ipOf(frame);
      const udp = unwrap(UdpDatagram.parse(ip.payload));
      assert.equal(udp.checksumValid(ip.source, ip.destination), family === 4, name);
      assert.equal(checksumFault(frame), family === 4 ? undefined : 'bad UDP checksum', name);
    }
  });

  it('the gate drops a datagram with one payload bit flipped', () => {
    const frame = frameBytes(kernelUdpFrames.udp6Reply);
    frame[frame.length - 1]! ^= 0x01;
    assert.equal(checksumFault(frame), 'bad UDP checksum');
  });

  it('frames built by buildUdp pass the gate for both families', () => {
    for (const [source, destination] of [[CLIENT_V4, SERVER_V4], [CLIENT_V6, SERVER_V6]] as const) {
      const udp = buildUdp({sourcePort: 40010, destinationPort: 53}, Buffer.from('query'), source, destination);
      const ip = buildIpPacket({family: source.family, source, destination, protocol: IpProtocol.UDP}, udp);
      const frame = buildEthernet({destination: SERVER_MAC, source: CLIENT_MAC, etherType: source.family === 4 ? EtherType.IPv4 : EtherType.IPv6}, ip);
      assert.equal(checksumFault(frame), undefined);
    }
  });
});

describe('wire/icmp-unreachable', () => {
  for (const [name, request, family] of [
    ['icmp4PortUnreachable', 'udp4ToClosedPort', 4],
    ['icmp6PortUnreachable', 'udp6ToClosedPort', 6],
  ] as const) {
    it(`reads the kernel's ${name} and the datagram it quotes`, () => {
      const report = unwrap(parseDestinationUnreachable(ipOf(kernelUdpFrames[name])));
      const sent = ipOf(kernelUdpFrames[request]);
      const sentUdp = unwrap(UdpDatagram.parse(sent.payload));
      assert.equal(report.family, family);
      assert.ok(report.portUnreachable);
      assert.equal(report.code, family === 4 ? 3 : 4);
      assert.ok(report.reporter.equals(family === 4 ? SERVER_V4 : SERVER_V6));
      assert.ok(report.quoted.source.equals(sent.source));
      assert.ok(report.quoted.destination.equals(sent.destination));
      assert.equal(report.quoted.protocol, IpProtocol.UDP);
      assert.equal(report.quoted.sourcePort, sentUdp.sourcePort);
      assert.equal(report.quoted.destinationPort, 7008);
      assert.equal(checksumFault(frameBytes(kernelUdpFrames[name])), undefined, 'the gate accepts it');
    });

    it(`${name}: a quote cut short of the ports is refused, not misread`, () => {
      const ip = ipOf(kernelUdpFrames[name]);
      const headerAndQuote = 8 + (family === 4 ? 20 : 40);
      const cut = withPayload(ip, ip.payload.subarray(0, headerAndQuote + 3));
      assert.match(failure(parseDestinationUnreachable(cut)), /truncated quoted IPv[46]/);
    });
  }

  it('reports other codes as reachable-port errors (host unreachable from a router)', () => {
    const ip = ipOf(kernelUdpFrames.icmp4PortUnreachable);
    const payload = Buffer.from(ip.payload);
    payload[1] = 1;
    const report = unwrap(parseDestinationUnreachable(withPayload(ip, payload)));
    assert.equal(report.portUnreachable, false);
    assert.equal(report.code, 1);
  });

  it('refuses other ICMP messages and non-ICMP packets', () => {
    const ip = ipOf(kernelUdpFrames.icmp4PortUnreachable);
    const echo = Buffer.from(ip.payload);
    echo[0] = 0;
    assert.match(failure(parseDestinationUnreachable(withPayload(ip, echo))), /not an ICMP destination unreachable/);
    assert.match(failure(parseDestinationUnreachable(ipOf(kernelUdpFrames.udp4Request))), /not an ICMP destination unreachable/);
    assert.match(failure(parseDestinationUnreachable(ipOf(kernelUdpFrames.udp6Request))), /not an ICMPv6 destination unreachable/);
  });

  it('refuses a quote of the wrong IP version and a non-first fragment', () => {
    const ip = ipOf(kernelUdpFrames.icmp4PortUnreachable);
    const wrongVersion = Buffer.from(ip.payload);
    wrongVersion[8] = 0x65;
    assert.match(failure(parseDestinationUnreachable(withPayload(ip, wrongVersion))), /quoted packet is IPv6, not IPv4/);
    const fragment = Buffer.from(ip.payload);
    fragment.writeUInt16BE(0x0010, 8 + 6);
    assert.match(failure(parseDestinationUnreachable(withPayload(ip, fragment))), /non-first fragment/);
  });
});
