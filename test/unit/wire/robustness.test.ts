/**
 * Every frame from the network is hostile. These tests feed every truncated prefix of every fixture, and a few
 * thousand seeded random mutations of them, to every parser, to decodeFrame and to describeFrame, and read every
 * accessor of whatever parsed: nothing may throw.
 */
import assert from 'node:assert/strict';
import {ArpPacket} from '../../../src/core/wire/arp.js';
import {buildEthernet, EthernetFrame, EtherType} from '../../../src/core/wire/ethernet.js';
import {decodeFrame, describeFrame} from '../../../src/core/wire/frame.js';
import {parseIpPacket} from '../../../src/core/wire/ip.js';
import {Ipv4Packet} from '../../../src/core/wire/ipv4.js';
import {Ipv6Packet} from '../../../src/core/wire/ipv6.js';
import type {Parsed} from '../../../src/core/wire/parsed.js';
import {TcpSegment} from '../../../src/core/wire/tcp.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {
  arpAnnouncement,
  arpProbe,
  ipv6ExtensionChain,
  ipv6FirstFragment,
  ipv6LaterFragment,
  ipv6TooManyExtensionHeaders,
} from '../../fixtures/wire/rfc-examples.js';
import {CLIENT_MAC, SERVER_MAC, seededRandom} from './support.js';

function inEthernet(etherType: number, payload: Buffer, vlanId?: number): Buffer {
  return buildEthernet({destination: SERVER_MAC, source: CLIENT_MAC, etherType, vlanId}, payload);
}

const fixtures: ReadonlyArray<[string, Buffer]> = [
  ...Object.entries(kernelFrames).map(([name, frame]): [string, Buffer] => [name, frameBytes(frame)]),
  ['arpProbe', arpProbe],
  ['arpAnnouncement', arpAnnouncement],
  ['ipv6ExtensionChain', inEthernet(EtherType.IPv6, ipv6ExtensionChain)],
  ['ipv6FirstFragment', inEthernet(EtherType.IPv6, ipv6FirstFragment)],
  ['ipv6LaterFragment', inEthernet(EtherType.IPv6, ipv6LaterFragment)],
  ['ipv6TooManyExtensionHeaders', inEthernet(EtherType.IPv6, ipv6TooManyExtensionHeaders)],
  ['vlanSyn', inEthernet(EtherType.IPv4, frameBytes(kernelFrames.syn).subarray(14), 10)],
];

const parsers: ReadonlyArray<(bytes: Buffer) => Parsed<object>> = [
  (bytes) => EthernetFrame.parse(bytes),
  (bytes) => ArpPacket.parse(bytes),
  (bytes) => Ipv4Packet.parse(bytes),
  (bytes) => Ipv6Packet.parse(bytes),
  (bytes) => TcpSegment.parse(bytes),
  (bytes) => parseIpPacket(EtherType.IPv4, bytes),
  (bytes) => parseIpPacket(EtherType.IPv6, bytes),
];

/** Reads every getter and calls every argument-less method of a parsed view. */
function readEverything(view: object): void {
  const descriptors = Object.getOwnPropertyDescriptors(Object.getPrototypeOf(view) as object);
  for (const [name, descriptor] of Object.entries(descriptors)) {
    if (descriptor.get) descriptor.get.call(view);
    else if (typeof descriptor.value === 'function' && descriptor.value.length === 0 && name !== 'constructor') {
      (descriptor.value as () => unknown).call(view);
    }
  }
}

const tally = {decoded: 0, tcp: 0, innerError: 0, invalid: 0};

/** Runs everything over `bytes`; any exception fails the test with the input attached. */
function exercise(bytes: Buffer, what: string): void {
  try {
    const decoded = decodeFrame(bytes);
    assert.equal(typeof describeFrame(bytes), 'string');
    if (decoded.ok) {
      const {ethernet, arp, ip, tcp, innerError} = decoded.value;
      tally.decoded++;
      if (innerError !== undefined) tally.innerError++;
      for (const view of [ethernet, arp, ip, tcp]) if (view) readEverything(view);
      if (ip && tcp) {
        tally.tcp++;
        tcp.checksumValid(ip.source, ip.destination);
        tcp.expectedChecksum(ip.source, ip.destination);
      }
    } else {
      tally.invalid++;
    }
    // Each codec also meets the hostile bytes directly, at the offsets where its layer usually starts.
    for (const offset of [0, 14, 34, 54]) {
      for (const parse of parsers) {
        const parsed = parse(bytes.subarray(offset));
        if (parsed.ok) readEverything(parsed.value);
      }
    }
  } catch (error) {
    assert.fail(`${what} threw on ${bytes.toString('hex')}: ${(error as Error).stack}`);
  }
}

describe('wire robustness', () => {
  it('survives every truncated prefix of every fixture', () => {
    let prefixes = 0;
    for (const [name, frame] of fixtures) {
      for (let length = 0; length <= frame.length; length++) {
        const prefix = frame.subarray(0, length);
        exercise(prefix, `${name}[0:${length}]`);
        const minimum = name === 'vlanSyn' ? 18 : 14;
        assert.equal(decodeFrame(prefix).ok, length >= minimum, `${name}[0:${length}]`);
        prefixes++;
      }
    }
    assert.ok(prefixes > 2000, `${prefixes} prefixes`);
  });

  it('never decodes a TCP segment out of an IP packet cut short', () => {
    for (const [name, frame] of fixtures) {
      const full = decodeFrame(frame);
      if (!full.ok || !full.value.ip) continue;
      const ipEnd = frame.length - full.value.ethernet.payload.length + ipLength(full.value.ethernet.payload);
      for (let length = full.value.ethernet.headerLength; length < ipEnd; length++) {
        const cut = decodeFrame(frame.subarray(0, length));
        assert.ok(cut.ok);
        assert.equal(cut.value.ip, undefined, `${name}[0:${length}]`);
        assert.match(cut.value.innerError ?? '', /truncated/, `${name}[0:${length}]`);
      }
    }
  });

  it('survives 5000 seeded random mutations of the fixtures', () => {
    Object.assign(tally, {decoded: 0, tcp: 0, innerError: 0, invalid: 0});
    const random = seededRandom(0x5eed_cafe);
    const pick = (n: number) => Math.floor(random() * n);
    for (let i = 0; i < 5000; i++) {
      const [name, original] = fixtures[pick(fixtures.length)]!;
      let bytes = Buffer.from(original);
      const mutations = 1 + pick(4);
      for (let m = 0; m < mutations && bytes.length > 0; m++) {
        // Mostly hit the headers, where the parsers make their decisions.
        const position = random() < 0.8 ? pick(Math.min(bytes.length, 80)) : pick(bytes.length);
        bytes[position] = [0x00, 0xff, pick(256), bytes[position]! ^ (1 << pick(8))][pick(4)]!;
      }
      const shape = random();
      if (shape < 0.1) bytes = bytes.subarray(0, pick(bytes.length + 1));
      else if (shape < 0.2) bytes = Buffer.concat([bytes, randomBytes(pick(64), random)]);
      exercise(bytes, `mutation ${i} of ${name}`);
    }
    // The mutations must reach every outcome, or they test less than they seem to.
    assert.ok(tally.tcp > 100 && tally.innerError > 100 && tally.invalid > 0, JSON.stringify(tally));
  });

  it('survives 1000 random frames of the interesting EtherTypes', () => {
    const random = seededRandom(42);
    const etherTypes = [EtherType.IPv4, EtherType.IPv6, EtherType.ARP, EtherType.VLAN];
    for (let i = 0; i < 1000; i++) {
      const payload = randomBytes(Math.floor(random() * 120), random);
      // Give random IP payloads the right version nibble now and then, so the parsers get past the first check.
      if (payload.length > 0 && random() < 0.5) payload[0] = random() < 0.5 ? 0x45 : 0x60;
      const frame = inEthernet(etherTypes[i % etherTypes.length]!, payload);
      exercise(frame, `random frame ${i}`);
    }
  });
});

function randomBytes(length: number, random: () => number): Buffer {
  return Buffer.from(Array.from({length}, () => Math.floor(random() * 256)));
}

/** The IP total length the fixture declares (so that the cut-short test knows where the packet ends). */
function ipLength(packet: Buffer): number {
  return (packet[0]! >> 4) === 4 ? packet.readUInt16BE(2) : 40 + packet.readUInt16BE(4);
}
