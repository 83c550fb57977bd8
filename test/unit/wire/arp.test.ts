import assert from 'node:assert/strict';
import {MacAddress} from '../../../src/core/wire/address.js';
import {ArpOperation, ArpPacket, buildArp} from '../../../src/core/wire/arp.js';
import {buildEthernet, EthernetFrame} from '../../../src/core/wire/ethernet.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {arpAnnouncement, arpProbe} from '../../fixtures/wire/rfc-examples.js';
import {CLIENT_MAC, CLIENT_V4, CLIENT_V6, failure, ip, padded, SERVER_MAC, SERVER_V4, unwrap} from './support.js';

function arpOf(frame: Buffer): ArpPacket {
  return unwrap(ArpPacket.parse(unwrap(EthernetFrame.parse(frame)).payload));
}

/** The 28 ARP bytes of the kernel's request with one byte replaced. */
function mangled(offset: number, value: number): Buffer {
  const bytes = Buffer.from(frameBytes(kernelFrames.arpRequest).subarray(14));
  bytes[offset] = value;
  return bytes;
}

describe('wire/arp', () => {
  it("reads the kernel's request: who-has 198.51.100.100 tell 198.51.100.2", () => {
    const arp = arpOf(frameBytes(kernelFrames.arpRequest));
    assert.equal(arp.operation, ArpOperation.Request);
    assert.ok(arp.senderMac.equals(CLIENT_MAC));
    assert.ok(arp.senderIp.equals(CLIENT_V4));
    assert.ok(arp.targetMac.isZero);
    assert.ok(arp.targetIp.equals(SERVER_V4));
    assert.equal(arp.isProbe, false);
    assert.equal(arp.isGratuitous, false);
  });

  it("reads the kernel's reply: 198.51.100.100 is-at 02:00:00:00:00:0b", () => {
    const arp = arpOf(frameBytes(kernelFrames.arpReply));
    assert.equal(arp.operation, ArpOperation.Reply);
    assert.ok(arp.senderMac.equals(SERVER_MAC));
    assert.ok(arp.senderIp.equals(SERVER_V4));
    assert.ok(arp.targetMac.equals(CLIENT_MAC));
    assert.ok(arp.targetIp.equals(CLIENT_V4));
  });

  it('ignores Ethernet padding after the 28 bytes', () => {
    const arp = arpOf(padded(frameBytes(kernelFrames.arpReply)));
    assert.equal(arp.bytes.length, ArpPacket.LENGTH);
    assert.ok(arp.senderIp.equals(SERVER_V4));
  });

  it('recognises an RFC 5227 probe (sender IP 0.0.0.0)', () => {
    const arp = arpOf(arpProbe);
    assert.equal(arp.isProbe, true);
    assert.equal(arp.isGratuitous, false);
    assert.ok(arp.senderIp.isUnspecified);
    assert.ok(arp.targetIp.equals(SERVER_V4));
  });

  it('recognises an RFC 5227 announcement (sender IP == target IP)', () => {
    const arp = arpOf(arpAnnouncement);
    assert.equal(arp.isGratuitous, true);
    assert.equal(arp.isProbe, false);
  });

  it('rebuilds kernel and RFC packets byte for byte from their repr', () => {
    for (const frame of [frameBytes(kernelFrames.arpRequest), frameBytes(kernelFrames.arpReply), arpProbe]) {
      const ethernet = unwrap(EthernetFrame.parse(frame));
      const arp = unwrap(ArpPacket.parse(ethernet.payload));
      assert.deepEqual(buildArp(arp.toRepr()), ethernet.payload.subarray(0, ArpPacket.LENGTH));
      assert.deepEqual(buildEthernet(ethernet.toRepr(), buildArp(arp.toRepr())), padded(frame));
    }
  });

  it('builds a reply from a repr', () => {
    const bytes = buildArp({
      operation: ArpOperation.Reply,
      senderMac: SERVER_MAC,
      senderIp: SERVER_V4,
      targetMac: CLIENT_MAC,
      targetIp: CLIENT_V4,
    });
    assert.deepEqual(bytes, frameBytes(kernelFrames.arpReply).subarray(14));
  });

  it('refuses to build ARP for IPv6 addresses (a programming error)', () => {
    const repr = {
      operation: ArpOperation.Request,
      senderMac: CLIENT_MAC,
      senderIp: CLIENT_V6,
      targetMac: MacAddress.ZERO,
      targetIp: ip('2001:db8::100'),
    };
    assert.throws(() => buildArp(repr), TypeError);
  });

  it('fails on truncated or foreign packets, with the reason', () => {
    const request = frameBytes(kernelFrames.arpRequest).subarray(14);
    assert.equal(failure(ArpPacket.parse(request.subarray(0, 27))), 'truncated ARP packet: 27 bytes, need 28');
    assert.match(failure(ArpPacket.parse(mangled(1, 6))), /hardware type 6 \/ protocol 0x0800/);
    assert.match(failure(ArpPacket.parse(mangled(2, 0x86))), /protocol 0x8600, not Ethernet\/IPv4/);
    assert.equal(failure(ArpPacket.parse(mangled(4, 8))), 'ARP address lengths 8/4, not 6/4');
    assert.equal(failure(ArpPacket.parse(mangled(5, 16))), 'ARP address lengths 6/16, not 6/4');
    assert.equal(failure(ArpPacket.parse(mangled(7, 3))), 'unsupported ARP operation 3');
    assert.equal(failure(ArpPacket.parse(mangled(7, 0))), 'unsupported ARP operation 0');
  });
});
