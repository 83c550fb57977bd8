import assert from 'node:assert/strict';
import {internetChecksum} from '../../../src/core/wire/checksum.js';
import {IpProtocol} from '../../../src/core/wire/ip.js';
import {buildIpv4, Ipv4Packet} from '../../../src/core/wire/ipv4.js';
import {frameBytes, kernelFrames, type KernelFrame} from '../../fixtures/wire/kernel-frames.js';
import {CLIENT_V4, CLIENT_V6, failure, padded, SERVER_V4, unwrap} from './support.js';

/** A copy of the IPv4 packet inside a kernel frame (Ethernet header stripped). */
function ipv4Bytes(frame: KernelFrame): Buffer {
  return Buffer.from(frameBytes(frame).subarray(14));
}

/** Applies `edit` to a copy of the packet and fixes the header checksum afterwards, so only `edit` is tested. */
function edited(packet: Buffer, edit: (bytes: Buffer) => Buffer | void): Buffer {
  const copy = Buffer.from(packet);
  const bytes = edit(copy) ?? copy;
  const headerLength = (bytes[0]! & 0x0f) * 4;
  bytes.writeUInt16BE(0, 10);
  bytes.writeUInt16BE(internetChecksum(bytes.subarray(0, headerLength)), 10);
  return bytes;
}

describe('wire/ipv4', () => {
  it("reads every header field of the kernel's SYN", () => {
    // tcpdump: (tos 0x0, ttl 64, id 59093, offset 0, flags [DF], proto TCP (6), length 60)
    const packet = unwrap(Ipv4Packet.parse(ipv4Bytes(kernelFrames.syn)));
    assert.equal(packet.family, 4);
    assert.equal(packet.headerLength, 20);
    assert.equal(packet.typeOfService, 0);
    assert.equal(packet.totalLength, 60);
    assert.equal(packet.identification, 59093);
    assert.equal(packet.dontFragment, true);
    assert.equal(packet.moreFragments, false);
    assert.equal(packet.fragmentOffset, 0);
    assert.equal(packet.isFragment, false);
    assert.equal(packet.ttl, 64);
    assert.equal(packet.hopLimit, 64);
    assert.equal(packet.protocol, IpProtocol.TCP);
    assert.equal(packet.headerChecksum, 0xff18);
    assert.ok(packet.source.equals(CLIENT_V4));
    assert.ok(packet.destination.equals(SERVER_V4));
    assert.equal(packet.options.length, 0);
    assert.equal(packet.payload.length, 40);
  });

  it('trusts the total length, not the frame: Ethernet padding is not payload', () => {
    // The kernel's RST is 40 IP bytes; a receiving NIC sees it padded to 46.
    const rst = padded(frameBytes(kernelFrames.rstAck)).subarray(14);
    assert.equal(rst.length, 46);
    const packet = unwrap(Ipv4Packet.parse(rst));
    assert.equal(packet.totalLength, 40);
    assert.equal(packet.payload.length, 20);
  });

  it('exposes options and keeps the payload after them', () => {
    const syn = ipv4Bytes(kernelFrames.syn);
    const withOptions = edited(syn, (bytes) => {
      const longer = Buffer.concat([bytes.subarray(0, 20), Buffer.from([1, 1, 1, 0]), bytes.subarray(20)]);
      longer[0] = 0x46;
      longer.writeUInt16BE(64, 2);
      return longer;
    });
    const packet = unwrap(Ipv4Packet.parse(withOptions));
    assert.equal(packet.headerLength, 24);
    assert.deepEqual(packet.options, Buffer.from([1, 1, 1, 0]));
    assert.deepEqual(packet.payload, syn.subarray(20));
  });

  it('reports fragments: more-fragments set, or a non-zero offset in bytes', () => {
    const syn = ipv4Bytes(kernelFrames.syn);
    const first = unwrap(Ipv4Packet.parse(edited(syn, (b) => void b.writeUInt16BE(0x2000, 6))));
    assert.equal(first.isFragment, true);
    assert.equal(first.moreFragments, true);
    assert.equal(first.dontFragment, false);
    const later = unwrap(Ipv4Packet.parse(edited(syn, (b) => void b.writeUInt16BE(185, 6))));
    assert.equal(later.isFragment, true);
    assert.equal(later.fragmentOffset, 1480);
  });

  it('fails on truncated, inconsistent or corrupted headers, with the reason', () => {
    const syn = ipv4Bytes(kernelFrames.syn);
    assert.equal(failure(Ipv4Packet.parse(syn.subarray(0, 19))), 'truncated IPv4 header: 19 bytes, need 20');
    assert.equal(failure(Ipv4Packet.parse(syn.subarray(0, 59))), 'truncated IPv4 packet: 59 bytes, need 60');
    assert.equal(
      failure(Ipv4Packet.parse(edited(syn, (b) => void (b[0] = 0x65)))),
      'IP version 6 in an IPv4 packet',
    );
    assert.equal(
      failure(Ipv4Packet.parse(edited(syn, (b) => void (b[0] = 0x44)))),
      'IPv4 header length 16 is below 20',
    );
    const longHeader = Buffer.from(syn.subarray(0, 40));
    longHeader[0] = 0x4f; // IHL 15: 60 header bytes claimed
    assert.equal(failure(Ipv4Packet.parse(longHeader)), 'truncated IPv4 header with options: 40 bytes, need 60');
    assert.equal(
      failure(Ipv4Packet.parse(edited(syn, (b) => void b.writeUInt16BE(19, 2)))),
      'IPv4 total length 19 is shorter than its 20-byte header',
    );
    const corrupted = Buffer.from(syn);
    corrupted[8] = 63; // TTL changed after the checksum was computed
    assert.match(failure(Ipv4Packet.parse(corrupted)), /^bad IPv4 header checksum 0x[0-9a-f]{4}$/);
  });

  it('takes the buffer length for a GSO packet above 64 KiB (total length 0), never for a short one', () => {
    const big = Buffer.alloc(70_000);
    ipv4Bytes(kernelFrames.syn).copy(big, 0, 0, 20);
    const packet = unwrap(Ipv4Packet.parse(edited(big, (b) => void b.writeUInt16BE(0, 2))));
    assert.equal(packet.payload.length, 70_000 - 20);
    const small = edited(ipv4Bytes(kernelFrames.syn), (b) => void b.writeUInt16BE(0, 2));
    assert.match(failure(Ipv4Packet.parse(small)), /total length 0 is shorter/);
  });

  it('rebuilds every kernel IPv4 packet byte for byte from its repr and payload', () => {
    for (const [name, frame] of Object.entries(kernelFrames)) {
      const bytes = frameBytes(frame);
      if (bytes.readUInt16BE(12) !== 0x0800) continue;
      const packet = unwrap(Ipv4Packet.parse(bytes.subarray(14)));
      assert.deepEqual(buildIpv4(packet.toRepr(), packet.payload), packet.bytes, name);
    }
  });

  it('builds with Linux-like defaults: DF set, TTL 64, id 0, TOS 0, valid checksum', () => {
    const payload = Buffer.from('hello');
    const packet = unwrap(
      Ipv4Packet.parse(buildIpv4({source: CLIENT_V4, destination: SERVER_V4, protocol: 253}, payload)),
    );
    assert.equal(packet.dontFragment, true);
    assert.equal(packet.ttl, 64);
    assert.equal(packet.identification, 0);
    assert.equal(packet.typeOfService, 0);
    assert.equal(packet.protocol, 253);
    assert.deepEqual(packet.payload, payload);
    const noDf = buildIpv4({source: CLIENT_V4, destination: SERVER_V4, protocol: 6, dontFragment: false}, payload);
    assert.equal(unwrap(Ipv4Packet.parse(noDf)).dontFragment, false);
  });

  it('refuses IPv6 addresses and oversized payloads (programming errors)', () => {
    const repr = {source: CLIENT_V4, destination: SERVER_V4, protocol: 6};
    assert.throws(() => buildIpv4({...repr, source: CLIENT_V6}, Buffer.alloc(0)), TypeError);
    assert.throws(() => buildIpv4(repr, Buffer.alloc(65_516)), RangeError);
  });
});
