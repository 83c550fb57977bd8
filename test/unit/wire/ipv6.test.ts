import assert from 'node:assert/strict';
import {IpProtocol} from '../../../src/core/wire/ip.js';
import {buildIpv6, Ipv6ExtensionHeader, Ipv6Packet} from '../../../src/core/wire/ipv6.js';
import {TcpSegment} from '../../../src/core/wire/tcp.js';
import {frameBytes, kernelFrames, type KernelFrame} from '../../fixtures/wire/kernel-frames.js';
import {
  ipv6ExtensionChain,
  ipv6FirstFragment,
  ipv6LaterFragment,
  ipv6TooManyExtensionHeaders,
} from '../../fixtures/wire/rfc-examples.js';
import {CLIENT_V4, CLIENT_V6, failure, SERVER_V6, unwrap} from './support.js';

function ipv6Bytes(frame: KernelFrame): Buffer {
  return Buffer.from(frameBytes(frame).subarray(14));
}

/** A copy of `packet` with byte `offset` set to `value`. */
function withByte(packet: Buffer, offset: number, value: number): Buffer {
  const copy = Buffer.from(packet);
  copy[offset] = value;
  return copy;
}

const {HopByHop, Routing, Fragment, DestinationOptions} = Ipv6ExtensionHeader;

describe('wire/ipv6', () => {
  it("reads every header field of the kernel's IPv6 SYN", () => {
    // tcpdump: (flowlabel 0x9005b, hlim 64, next-header TCP (6) payload length: 40)
    const packet = unwrap(Ipv6Packet.parse(ipv6Bytes(kernelFrames.ipv6Syn)));
    assert.equal(packet.family, 6);
    assert.equal(packet.trafficClass, 0);
    assert.equal(packet.flowLabel, 0x9005b);
    assert.equal(packet.payloadLength, 40);
    assert.equal(packet.nextHeader, IpProtocol.TCP);
    assert.equal(packet.protocol, IpProtocol.TCP);
    assert.equal(packet.hopLimit, 64);
    assert.ok(packet.source.equals(CLIENT_V6));
    assert.ok(packet.destination.equals(SERVER_V6));
    assert.deepEqual(packet.extensionHeaders, []);
    assert.equal(packet.isFragment, false);
    assert.equal(packet.payload.length, 40);
  });

  it('walks the hop-by-hop header of a kernel MLD report to ICMPv6', () => {
    // tcpdump: (hlim 1, next-header Options (0) payload length: 56) fe80::ff:fe00:b > ff02::16: HBH (rtalert...)
    const packet = unwrap(Ipv6Packet.parse(ipv6Bytes(kernelFrames.mldReportHopByHop)));
    assert.equal(packet.nextHeader, HopByHop);
    assert.deepEqual(packet.extensionHeaders, [HopByHop]);
    assert.equal(packet.protocol, IpProtocol.ICMPv6);
    assert.equal(packet.hopLimit, 1);
    assert.equal(packet.payloadLength, 56);
    assert.equal(packet.payload.length, 48);
    assert.equal(packet.payload[0], 143, 'ICMPv6 type 143: MLDv2 report');
  });

  it('walks hop-by-hop, routing and destination options to TCP (RFC 8200 4)', () => {
    const packet = unwrap(Ipv6Packet.parse(ipv6ExtensionChain));
    assert.deepEqual(packet.extensionHeaders, [HopByHop, Routing, DestinationOptions]);
    assert.equal(packet.protocol, IpProtocol.TCP);
    assert.equal(packet.isFragment, false);
    assert.equal(unwrap(TcpSegment.parse(packet.payload)).destinationPort, 8080);
  });

  it('walks through a first fragment, whose header still holds the TCP header', () => {
    const packet = unwrap(Ipv6Packet.parse(ipv6FirstFragment));
    assert.deepEqual(packet.extensionHeaders, [Fragment]);
    assert.equal(packet.isFragment, true);
    assert.equal(packet.protocol, IpProtocol.TCP);
    assert.equal(packet.payload.length, 20);
  });

  it('stops at a later fragment: its data is not a header', () => {
    const packet = unwrap(Ipv6Packet.parse(ipv6LaterFragment));
    assert.equal(packet.isFragment, true);
    assert.equal(packet.protocol, IpProtocol.TCP);
    assert.deepEqual(packet.payload, Buffer.from('0102030405060708', 'hex'));
  });

  it('treats an atomic fragment (offset 0, no more fragments) as a whole packet', () => {
    const atomic = withByte(ipv6FirstFragment, 43, 0x00); // clear the M flag
    const packet = unwrap(Ipv6Packet.parse(atomic));
    assert.equal(packet.isFragment, false);
    assert.equal(packet.protocol, IpProtocol.TCP);
  });

  it('caps the number of extension headers', () => {
    assert.equal(
      failure(Ipv6Packet.parse(ipv6TooManyExtensionHeaders)),
      `more than ${Ipv6Packet.MAX_EXTENSION_HEADERS} IPv6 extension headers`,
    );
    // Eight are allowed: make the eighth header's next header "no next header".
    const eight = withByte(ipv6TooManyExtensionHeaders, 40 + 7 * 8, 59);
    assert.equal(unwrap(Ipv6Packet.parse(eight)).protocol, 59);
  });

  it('fails on extension headers that run past the payload or sit out of place', () => {
    // HBH claims 11 * 8 = 88 bytes of the 44-byte payload.
    assert.equal(
      failure(Ipv6Packet.parse(withByte(ipv6ExtensionChain, 41, 10))),
      'IPv6 extension header 0 runs past the payload',
    );
    // Payload length 4: not even the 8-byte minimum of the HBH header.
    const tiny = withByte(withByte(ipv6ExtensionChain, 5, 4), 4, 0).subarray(0, 44);
    assert.equal(failure(Ipv6Packet.parse(tiny)), 'IPv6 extension header 0 runs past the payload');
    // The routing header (at 48) pointing to a hop-by-hop header.
    assert.equal(
      failure(Ipv6Packet.parse(withByte(ipv6ExtensionChain, 48, HopByHop))),
      'IPv6 hop-by-hop header not directly after the fixed header',
    );
  });

  it('fails on truncated packets and on the wrong version, with the reason', () => {
    const syn = ipv6Bytes(kernelFrames.ipv6Syn);
    assert.equal(failure(Ipv6Packet.parse(syn.subarray(0, 39))), 'truncated IPv6 header: 39 bytes, need 40');
    assert.equal(failure(Ipv6Packet.parse(syn.subarray(0, 79))), 'truncated IPv6 packet: 79 bytes, need 80');
    assert.equal(failure(Ipv6Packet.parse(withByte(syn, 0, 0x40))), 'IP version 4 in an IPv6 packet');
  });

  it('trusts the payload length, not the frame: trailing bytes are not payload', () => {
    const packet = unwrap(Ipv6Packet.parse(Buffer.concat([ipv6Bytes(kernelFrames.ipv6Syn), Buffer.alloc(6)])));
    assert.equal(packet.payload.length, 40);
    assert.equal(packet.bytes.length, 80);
  });

  it('rebuilds every kernel IPv6 TCP packet byte for byte, flow label included', () => {
    for (const [name, frame] of Object.entries(kernelFrames)) {
      const bytes = frameBytes(frame);
      if (bytes.readUInt16BE(12) !== 0x86dd) continue;
      const packet = unwrap(Ipv6Packet.parse(bytes.subarray(14)));
      if (packet.extensionHeaders.length > 0) continue; // the builder emits none
      assert.deepEqual(buildIpv6(packet.toRepr(), packet.payload), packet.bytes, name);
    }
  });

  it('builds with defaults: hop limit 64, class 0, flow 0', () => {
    const bytes = buildIpv6({source: CLIENT_V6, destination: SERVER_V6, nextHeader: 59}, Buffer.alloc(0));
    assert.deepEqual(bytes.subarray(0, 8), Buffer.from('60000000 0000 3b 40'.replace(/ /g, ''), 'hex'));
  });

  it('refuses IPv4 addresses and oversized payloads (programming errors)', () => {
    const repr = {source: CLIENT_V4, destination: SERVER_V6, nextHeader: 6};
    assert.throws(() => buildIpv6(repr, Buffer.alloc(0)), TypeError);
    assert.throws(() => buildIpv6({...repr, source: CLIENT_V6}, Buffer.alloc(65_536)), RangeError);
  });
});
