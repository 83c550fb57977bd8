import assert from 'node:assert/strict';
import {buildEthernet, EthernetFrame, EtherType} from '../../../src/core/wire/ethernet.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {CLIENT_MAC, failure, padded, SERVER_MAC, unwrap} from './support.js';

/** The frame with an 802.1Q tag (TPID 0x8100, TCI `tci`) inserted after the MAC addresses. */
function tagged(frame: Buffer, tci: number): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(EtherType.VLAN, 0);
  tag.writeUInt16BE(tci, 2);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

describe('wire/ethernet', () => {
  it('reads the addresses, the EtherType and a zero-copy payload of a kernel frame', () => {
    const bytes = frameBytes(kernelFrames.syn);
    const frame = unwrap(EthernetFrame.parse(bytes));
    assert.ok(frame.destination.equals(SERVER_MAC));
    assert.ok(frame.source.equals(CLIENT_MAC));
    assert.equal(frame.etherType, EtherType.IPv4);
    assert.equal(frame.vlanId, undefined);
    assert.equal(frame.headerLength, 14);
    assert.equal(frame.payload.length, bytes.length - 14);
    assert.equal(frame.payload.buffer, bytes.buffer, 'payload shares the input buffer');
    assert.equal(frame.payload.byteOffset, bytes.byteOffset + 14);
  });

  it('reads IPv6 and ARP EtherTypes and the broadcast destination', () => {
    assert.equal(unwrap(EthernetFrame.parse(frameBytes(kernelFrames.ipv6Syn))).etherType, EtherType.IPv6);
    const arp = unwrap(EthernetFrame.parse(frameBytes(kernelFrames.arpRequest)));
    assert.equal(arp.etherType, EtherType.ARP);
    assert.ok(arp.destination.isBroadcast);
  });

  it('skips one 802.1Q tag and reports its VLAN id without the priority bits', () => {
    const plain = frameBytes(kernelFrames.syn);
    const frame = unwrap(EthernetFrame.parse(tagged(plain, 0xe00a)));
    assert.equal(frame.vlanId, 10);
    assert.equal(frame.etherType, EtherType.IPv4);
    assert.equal(frame.headerLength, 18);
    assert.deepEqual(frame.payload, plain.subarray(14));
  });

  it('leaves a second (QinQ) tag in the payload', () => {
    const frame = unwrap(EthernetFrame.parse(tagged(tagged(frameBytes(kernelFrames.syn), 20), 10)));
    assert.equal(frame.vlanId, 10);
    assert.equal(frame.etherType, EtherType.VLAN);
  });

  it('fails on a truncated header, tagged or not', () => {
    assert.equal(failure(EthernetFrame.parse(Buffer.alloc(13))), 'truncated Ethernet header: 13 bytes, need 14');
    assert.equal(failure(EthernetFrame.parse(Buffer.alloc(0))), 'truncated Ethernet header: 0 bytes, need 14');
    const shortTagged = tagged(frameBytes(kernelFrames.syn), 10).subarray(0, 17);
    assert.match(failure(EthernetFrame.parse(shortTagged)), /truncated 802\.1Q-tagged Ethernet header: 17 bytes/);
  });

  it('accepts a bare header with an empty payload', () => {
    assert.equal(unwrap(EthernetFrame.parse(frameBytes(kernelFrames.syn).subarray(0, 14))).payload.length, 0);
  });

  it('rebuilds kernel frames byte for byte from their repr and payload', () => {
    for (const [name, fixture] of Object.entries(kernelFrames)) {
      const bytes = frameBytes(fixture);
      const frame = unwrap(EthernetFrame.parse(bytes));
      // Short frames were captured unpadded on the sending side; the builder pads as a NIC would.
      assert.deepEqual(buildEthernet(frame.toRepr(), frame.payload), padded(bytes), name);
    }
  });

  it('rebuilds a tagged frame', () => {
    const bytes = tagged(frameBytes(kernelFrames.syn), 10);
    const frame = unwrap(EthernetFrame.parse(bytes));
    assert.deepEqual(frame.toRepr().vlanId, 10);
    assert.deepEqual(buildEthernet(frame.toRepr(), frame.payload), bytes);
  });

  it('pads a short frame with zeros to 60 bytes', () => {
    const frame = buildEthernet(
      {destination: SERVER_MAC, source: CLIENT_MAC, etherType: EtherType.ARP},
      Buffer.from([1, 2, 3]),
    );
    assert.equal(frame.length, EthernetFrame.MIN_LENGTH);
    assert.deepEqual(frame.subarray(12, 17), Buffer.from([0x08, 0x06, 1, 2, 3]));
    assert.ok(frame.subarray(17).every((b) => b === 0));
  });
});
