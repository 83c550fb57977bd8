import assert from 'node:assert/strict';
import {
  internetChecksum,
  onesComplementSum,
  pseudoHeaderSum,
  transportChecksum,
  verifyTransportChecksum,
} from '../../../src/core/wire/checksum.js';
import {IpProtocol} from '../../../src/core/wire/ip.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {rfc1071} from '../../fixtures/wire/rfc-examples.js';
import {CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6} from './support.js';

// Offsets of the transport header in the untagged kernel frames: Ethernet 14 + IPv4 20 or IPv6 40.
const V4_TRANSPORT = 34;
const V6_TRANSPORT = 54;

describe('wire/checksum', () => {
  it('reproduces the RFC 1071 numerical example', () => {
    assert.equal(onesComplementSum([rfc1071.bytes]), rfc1071.sum);
    assert.equal(internetChecksum(rfc1071.bytes), rfc1071.checksum);
  });

  it('sums chunks as if they were concatenated, whatever the odd cut points', () => {
    const whole = Buffer.from('0001f203f4f5f6f7a5', 'hex'); // odd length on purpose
    const expected = internetChecksum(whole);
    for (let a = 0; a <= whole.length; a++) {
      for (let b = a; b <= whole.length; b++) {
        const chunks = [whole.subarray(0, a), whole.subarray(a, b), Buffer.alloc(0), whole.subarray(b)];
        assert.equal(internetChecksum(...chunks), expected, `cut at ${a} and ${b}`);
      }
    }
  });

  it('treats a trailing odd byte as the high byte of a zero-padded word', () => {
    assert.equal(onesComplementSum([Buffer.from([0xab])]), 0xab00);
  });

  it('folds carries repeatedly (all-ones data sums to 0xffff, checksum 0)', () => {
    const ones = Buffer.alloc(4096, 0xff);
    assert.equal(onesComplementSum([ones]), 0xffff);
    assert.equal(internetChecksum(ones), 0);
  });

  it('gives the IPv4 pseudo-header sum Linux leaves in an offloaded TCP checksum field', () => {
    // With CHECKSUM_PARTIAL the kernel stores the folded pseudo-header sum and lets the "hardware" finish:
    // tcpdump's `cksum 0x54fc (incorrect ...)` on the captured SYN is exactly that value.
    const syn = frameBytes(kernelFrames.synOffloaded);
    assert.equal(pseudoHeaderSum(CLIENT_V4, SERVER_V4, IpProtocol.TCP, 40), syn.readUInt16BE(V4_TRANSPORT + 16));
    assert.equal(pseudoHeaderSum(CLIENT_V4, SERVER_V4, IpProtocol.TCP, 40), 0x54fc);
  });

  it('lays out the IPv6 pseudo-header as RFC 8200 8.1 says', () => {
    const explicit = Buffer.concat([CLIENT_V6.bytes, SERVER_V6.bytes, Buffer.from('0000002800000006', 'hex')]);
    assert.equal(pseudoHeaderSum(CLIENT_V6, SERVER_V6, IpProtocol.TCP, 40), onesComplementSum([explicit]));
  });

  it('matches the explicit pseudo-header for any length, also IPv6 lengths above 16 bits (jumbograms)', () => {
    for (const length of [0, 1, 0xffff, 0x10000, 0x12345, 0xfffffff]) {
      const v6 = Buffer.alloc(8);
      v6.writeUInt32BE(length, 0);
      v6[7] = IpProtocol.UDP;
      assert.equal(pseudoHeaderSum(CLIENT_V6, SERVER_V6, IpProtocol.UDP, length), onesComplementSum([CLIENT_V6.bytes, SERVER_V6.bytes, v6]), `IPv6 ${length}`);
      const v4 = Buffer.from([0, IpProtocol.TCP, (length >> 8) & 0xff, length & 0xff]);
      assert.equal(pseudoHeaderSum(CLIENT_V4, SERVER_V4, IpProtocol.TCP, length), onesComplementSum([CLIENT_V4.bytes, SERVER_V4.bytes, v4]), `IPv4 ${length}`);
    }
  });

  it('verifies checksums the kernel computed in software (IPv4 TCP, IPv6 TCP, ICMPv6)', () => {
    const cases = [
      {frame: kernelFrames.syn, offset: V4_TRANSPORT, src: CLIENT_V4, dst: SERVER_V4, protocol: IpProtocol.TCP},
      {frame: kernelFrames.httpResponseHeader, offset: V4_TRANSPORT, src: SERVER_V4, dst: CLIENT_V4, protocol: 6},
      {frame: kernelFrames.ipv6Syn, offset: V6_TRANSPORT, src: CLIENT_V6, dst: SERVER_V6, protocol: IpProtocol.TCP},
      {frame: kernelFrames.ndpAdvertisement, offset: V6_TRANSPORT, src: SERVER_V6, dst: CLIENT_V6, protocol: 58},
    ];
    for (const {frame, offset, src, dst, protocol} of cases) {
      const segment = frameBytes(frame).subarray(offset);
      assert.equal(verifyTransportChecksum(src, dst, protocol, segment), true, frame.tcpdump);
    }
  });

  it('computes the stored value from a segment whose checksum field is zero', () => {
    const segment = Buffer.from(frameBytes(kernelFrames.httpGet).subarray(V4_TRANSPORT));
    const stored = segment.readUInt16BE(16);
    segment.writeUInt16BE(0, 16);
    assert.equal(transportChecksum(CLIENT_V4, SERVER_V4, IpProtocol.TCP, segment), stored);
  });

  it('rejects an offloaded (pseudo-header only) checksum and any flipped bit', () => {
    const offloaded = frameBytes(kernelFrames.synOffloaded).subarray(V4_TRANSPORT);
    assert.equal(verifyTransportChecksum(CLIENT_V4, SERVER_V4, IpProtocol.TCP, offloaded), false);
    const good = Buffer.from(frameBytes(kernelFrames.syn).subarray(V4_TRANSPORT));
    good[30] = good[30]! ^ 0x01;
    assert.equal(verifyTransportChecksum(CLIENT_V4, SERVER_V4, IpProtocol.TCP, good), false);
  });

  it('refuses a pseudo-header mixing families (a programming error)', () => {
    assert.throws(() => pseudoHeaderSum(CLIENT_V4, SERVER_V6, IpProtocol.TCP, 20), TypeError);
  });
});
