import assert from 'node:assert/strict';
import {EtherType} from '../../../src/core/wire/ethernet.js';
import {buildIpPacket, ipEtherType, IpProtocol, parseIpPacket} from '../../../src/core/wire/ip.js';
import {buildIpv4, Ipv4Packet} from '../../../src/core/wire/ipv4.js';
import {buildIpv6, Ipv6Packet} from '../../../src/core/wire/ipv6.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {CLIENT_V4, CLIENT_V6, failure, SERVER_V4, SERVER_V6, unwrap} from './support.js';

describe('wire/ip (family-generic)', () => {
  it('parses IPv4 by EtherType into the common view', () => {
    const ip = unwrap(parseIpPacket(EtherType.IPv4, frameBytes(kernelFrames.synAck).subarray(14)));
    assert.ok(ip instanceof Ipv4Packet);
    assert.equal(ip.family, 4);
    assert.ok(ip.source.equals(SERVER_V4));
    assert.ok(ip.destination.equals(CLIENT_V4));
    assert.equal(ip.protocol, IpProtocol.TCP);
    assert.equal(ip.hopLimit, 64);
    assert.equal(ip.isFragment, false);
    assert.equal(ip.payload.length, 40);
  });

  it('parses IPv6 by EtherType into the common view, protocol after extension headers', () => {
    const ip = unwrap(parseIpPacket(EtherType.IPv6, frameBytes(kernelFrames.mldReportHopByHop).subarray(14)));
    assert.ok(ip instanceof Ipv6Packet);
    assert.equal(ip.family, 6);
    assert.equal(ip.protocol, IpProtocol.ICMPv6);
    assert.equal(ip.hopLimit, 1);
  });

  it('fails for non-IP EtherTypes and for a version that contradicts the EtherType', () => {
    const arp = frameBytes(kernelFrames.arpRequest).subarray(14);
    assert.equal(failure(parseIpPacket(EtherType.ARP, arp)), 'EtherType 0x0806 is not IP');
    const v6 = frameBytes(kernelFrames.ipv6Syn).subarray(14);
    assert.equal(failure(parseIpPacket(EtherType.IPv4, v6)), 'IP version 6 in an IPv4 packet');
  });

  it('names the EtherType of each family', () => {
    assert.equal(ipEtherType(4), EtherType.IPv4);
    assert.equal(ipEtherType(6), EtherType.IPv6);
  });

  it('builds IPv4 from the generic repr (hop limit as TTL, DF by default)', () => {
    const payload = Buffer.from('x');
    const generic = buildIpPacket(
      {family: 4, source: CLIENT_V4, destination: SERVER_V4, protocol: 6, hopLimit: 7, identification: 9},
      payload,
    );
    const direct = buildIpv4(
      {source: CLIENT_V4, destination: SERVER_V4, protocol: 6, ttl: 7, identification: 9, dontFragment: true},
      payload,
    );
    assert.deepEqual(generic, direct);
  });

  it('builds IPv6 from the generic repr, flow label included', () => {
    const payload = Buffer.from('x');
    const generic = buildIpPacket(
      {family: 6, source: CLIENT_V6, destination: SERVER_V6, protocol: 6, flowLabel: 0x12345},
      payload,
    );
    const direct = buildIpv6(
      {source: CLIENT_V6, destination: SERVER_V6, nextHeader: 6, hopLimit: 64, flowLabel: 0x12345},
      payload,
    );
    assert.deepEqual(generic, direct);
  });

  it('refuses addresses of another family than the repr says (a programming error)', () => {
    assert.throws(
      () => buildIpPacket({family: 6, source: CLIENT_V4, destination: SERVER_V4, protocol: 6}, Buffer.alloc(0)),
      TypeError,
    );
  });
});
