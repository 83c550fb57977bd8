/**
 * ICMPv6 and the NDP messages: the kernel's captured solicitation and advertisement, hand-built RFC 4861/4862
 * examples, round trips through the builders, every validation rule, and hostile bytes (every truncated prefix
 * and seeded random mutations: nothing may throw).
 */
import assert from 'node:assert/strict';
import {IpAddress} from '../../../src/core/wire/address.js';
import {internetChecksum} from '../../../src/core/wire/checksum.js';
import {buildEthernet, EthernetFrame, EtherType} from '../../../src/core/wire/ethernet.js';
import {describeFrame} from '../../../src/core/wire/frame.js';
import {
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  Icmpv6Message,
  Icmpv6Type,
  multicastMac,
  ndpValidationError,
  NeighborAdvertisement,
  NeighborSolicitation,
  parseNeighborMessage,
  solicitedNodeMulticast,
} from '../../../src/core/wire/icmpv6.js';
import {IpProtocol} from '../../../src/core/wire/ip.js';
import {buildIpv6, Ipv6Packet} from '../../../src/core/wire/ipv6.js';
import type {Parsed} from '../../../src/core/wire/parsed.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {hexBytes} from '../../fixtures/wire/rfc-examples.js';
import {CLIENT_MAC, CLIENT_V6, failure, ip, seededRandom, SERVER_MAC, SERVER_V6, unwrap} from './support.js';

/** Offset of the ICMPv6 message in the captured frames (Ethernet 14 + IPv6 40, no extension headers). */
const ICMP_OFFSET = 54;
const ALL_NODES = ip('ff02::1');
const SOLICITED_NODE = ip('ff02::1:ff00:100');

function icmpOf(frame: Buffer): Buffer {
  return frame.subarray(ICMP_OFFSET);
}

function ipv6Of(frame: Buffer): Ipv6Packet {
  return unwrap(Ipv6Packet.parse(unwrap(EthernetFrame.parse(frame)).payload));
}

/**
 * The checksum computed independently of the codec: RFC 8200 section 8.1's pseudo-header written out byte by
 * byte (source, destination, 32-bit length, three zero bytes, next header 58), then the message.
 */
function independentChecksum(message: Buffer, source: IpAddress, destination: IpAddress): number {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(message.length);
  const zeroed = Buffer.from(message);
  zeroed.writeUInt16BE(0, 2);
  return internetChecksum(source.bytes, destination.bytes, length, Buffer.from([0, 0, 0, 58]), zeroed);
}

/** A hand-written message with its checksum field filled in. */
function withChecksum(annotated: string, source: IpAddress, destination: IpAddress): Buffer {
  const message = hexBytes(annotated);
  message.writeUInt16BE(independentChecksum(message, source, destination), 2);
  return message;
}

/** An Ethernet frame around an IPv6 packet around `message`. */
function ndpFrame(message: Buffer, source: IpAddress, destination: IpAddress, hopLimit = 255): Buffer {
  const packet = buildIpv6({source, destination, nextHeader: IpProtocol.ICMPv6, hopLimit}, message);
  const ethernetDestination = destination.isMulticast ? multicastMac(destination) : CLIENT_MAC;
  return buildEthernet({destination: ethernetDestination, source: SERVER_MAC, etherType: EtherType.IPv6}, packet);
}

// RFC 4862 section 5.4.2: a duplicate address detection probe, from the unspecified address to the
// solicited-node group of the tentative address, without a source link-layer address option.
const dadProbe = withChecksum(
  `87 00 0000 00000000                    # NS, code 0, checksum, reserved
   20010db8000000000000000000000100        # target 2001:db8::100`,
  IpAddress.V6_ANY,
  SOLICITED_NODE,
);

// RFC 4861 section 7.2.6: an unsolicited advertisement to all nodes, override only, with two options this codec
// does not interpret (MTU, type 5; nonce, type 14, RFC 3971) before the target link-layer address.
const unsolicitedAdvertisement = withChecksum(
  `88 00 0000 20 000000                   # NA, code 0, checksum, flags O
   20010db8000000000000000000000100        # target 2001:db8::100
   05 01 0000 000005dc                     # MTU option: 1500
   0e 01 0102 03040506                     # nonce option, 6 bytes
   02 01 02000000000b                      # target link-layer address 02:00:00:00:00:0b`,
  SERVER_V6,
  ALL_NODES,
);

// A router's answer (R, S and O) carrying its link-layer address twice: the first one counts, as in Linux.
const routerAdvertisementTwice = withChecksum(
  `88 00 0000 e0 000000
   20010db8000000000000000000000100
   02 01 02000000000b
   02 01 02000000ffff`,
  SERVER_V6,
  CLIENT_V6,
);

/** The kernel's NA message with its option replaced by `options` (hex) and the checksum recomputed. */
function advertisementWithOptions(options: string): Buffer {
  const head = icmpOf(frameBytes(kernelFrames.ndpAdvertisement)).subarray(0, 24).toString('hex');
  return withChecksum(head + options, SERVER_V6, CLIENT_V6);
}

describe('wire/icmpv6', () => {
  describe('parse', () => {
    it("reads the kernel's neighbor solicitation: who has 2001:db8::100, from 02:00:00:00:00:01", () => {
      const frame = frameBytes(kernelFrames.ndpSolicitation);
      const packet = ipv6Of(frame);
      const ns = unwrap(NeighborSolicitation.parse(packet.payload));
      assert.equal(ns.type, Icmpv6Type.NeighborSolicitation);
      assert.equal(ns.code, 0);
      assert.ok(ns.target.equals(SERVER_V6));
      assert.ok(ns.sourceLinkLayerAddress?.equals(CLIENT_MAC));
      assert.deepEqual(ns.options.map((o) => o.type), [1]);
      assert.equal(ns.checksumValid(packet.source, packet.destination), true);
      assert.equal(ns.checksum, 0x1a2a);
      assert.equal(ns.expectedChecksum(packet.source, packet.destination), 0x1a2a);
      assert.equal(ndpValidationError(packet, ns), undefined);
      assert.ok(packet.destination.equals(solicitedNodeMulticast(ns.target)));
      assert.ok(unwrap(EthernetFrame.parse(frame)).destination.equals(multicastMac(packet.destination)));
    });

    it("reads the kernel's neighbor advertisement: solicited, override, 02:00:00:00:00:0b", () => {
      const packet = ipv6Of(frameBytes(kernelFrames.ndpAdvertisement));
      const na = unwrap(NeighborAdvertisement.parse(packet.payload));
      assert.equal(na.type, Icmpv6Type.NeighborAdvertisement);
      assert.ok(na.target.equals(SERVER_V6));
      assert.equal(na.router, false);
      assert.equal(na.solicited, true);
      assert.equal(na.override, true);
      assert.equal(na.flags, 0x60);
      assert.equal(na.flagsText(), 'solicited, override');
      assert.ok(na.targetLinkLayerAddress?.equals(SERVER_MAC));
      assert.equal(na.checksumValid(SERVER_V6, CLIENT_V6), true);
      assert.equal(na.checksumValid(CLIENT_V6, SERVER_V6), true, 'the sum does not depend on the order of the addresses');
      assert.equal(na.checksumValid(SERVER_V6, ALL_NODES), false);
      assert.equal(ndpValidationError(packet, na), undefined);
    });

    it('verifies the ICMPv6 checksum of a kernel MLD report behind a hop-by-hop header', () => {
      const packet = ipv6Of(frameBytes(kernelFrames.mldReportHopByHop));
      const message = unwrap(Icmpv6Message.parse(packet.payload));
      assert.equal(message.type, 143);
      assert.equal(message.body.length, packet.payload.length - 4);
      assert.equal(message.checksumValid(packet.source, packet.destination), true);
      assert.match(failure(parseNeighborMessage(packet.payload)), /type 143 is not a neighbor solicitation or advertisement/);
    });

    it('reads a DAD probe (RFC 4862): source ::, no options', () => {
      const ns = unwrap(NeighborSolicitation.parse(dadProbe));
      assert.equal(ns.options.length, 0);
      assert.equal(ns.sourceLinkLayerAddress, undefined);
      assert.equal(ns.checksumValid(IpAddress.V6_ANY, SOLICITED_NODE), true);
      const packet = ipv6Of(ndpFrame(dadProbe, IpAddress.V6_ANY, SOLICITED_NODE));
      assert.equal(ndpValidationError(packet, ns), undefined);
    });

    it('skips unknown options and finds the target link-layer address after them', () => {
      const na = unwrap(NeighborAdvertisement.parse(unsolicitedAdvertisement));
      assert.deepEqual(na.options.map((o) => o.type), [5, 14, 2]);
      assert.deepEqual(na.options[1]!.data, Buffer.from('010203040506', 'hex'));
      assert.ok(na.targetLinkLayerAddress?.equals(SERVER_MAC));
      assert.equal(na.flagsText(), 'override');
      assert.equal(ndpValidationError(ipv6Of(ndpFrame(unsolicitedAdvertisement, SERVER_V6, ALL_NODES)), na), undefined);
    });

    it('uses the first of two link-layer address options', () => {
      const na = unwrap(NeighborAdvertisement.parse(routerAdvertisementTwice));
      assert.equal(na.flagsText(), 'router, solicited, override');
      assert.ok(na.targetLinkLayerAddress?.equals(SERVER_MAC));
      assert.equal(na.options.length, 2);
    });

    it('reads the flags of an advertisement with none set', () => {
      const na = unwrap(NeighborAdvertisement.parse(advertisementWithOptions('').fill(0, 4, 5)));
      assert.equal(na.flagsText(), 'none');
      assert.equal(na.targetLinkLayerAddress, undefined);
    });

    it('dispatches on the type byte', () => {
      assert.ok(unwrap(parseNeighborMessage(dadProbe)) instanceof NeighborSolicitation);
      assert.ok(unwrap(parseNeighborMessage(unsolicitedAdvertisement)) instanceof NeighborAdvertisement);
      assert.match(failure(parseNeighborMessage(Buffer.alloc(0))), /truncated ICMPv6 header/);
      assert.match(failure(NeighborSolicitation.parse(unsolicitedAdvertisement)), /type 136 is not a neighbor solicitation/);
      assert.match(failure(NeighborAdvertisement.parse(dadProbe)), /type 135 is not a neighbor advertisement/);
    });

    it('rejects an option of length 0 (RFC 4861 4.6), and options running past the message', () => {
      assert.match(failure(NeighborAdvertisement.parse(advertisementWithOptions('0e00 0000 00000000'))), /option 14 has length 0/);
      assert.match(failure(NeighborAdvertisement.parse(advertisementWithOptions('0200 02000000000b'))), /option 2 has length 0/);
      assert.match(failure(NeighborAdvertisement.parse(advertisementWithOptions('0e02 0000 00000000'))), /16 bytes runs past/);
      assert.match(failure(NeighborAdvertisement.parse(advertisementWithOptions('02'))), /no length byte/);
      // A valid option followed by one stray byte: Linux's ndisc_parse_options rejects this too.
      assert.match(failure(NeighborAdvertisement.parse(advertisementWithOptions('0201 02000000000b 00'))), /no length byte/);
    });

    it('rejects link-layer address options that are not 8 bytes (not Ethernet)', () => {
      const long = advertisementWithOptions('0202 02000000000b 0000000000000000');
      assert.match(failure(NeighborAdvertisement.parse(long)), /16 bytes is not an Ethernet address/);
      // The same length on an unknown option is fine.
      assert.equal(unwrap(NeighborAdvertisement.parse(advertisementWithOptions('0e02 02000000000b 0000000000000000'))).options.length, 1);
    });

    it('fails on truncation at the header, the fixed part and the option', () => {
      const ns = icmpOf(frameBytes(kernelFrames.ndpSolicitation));
      for (let length = 0; length <= ns.length; length++) {
        const parsed = NeighborSolicitation.parse(ns.subarray(0, length));
        if (length < 4) assert.match(failure(parsed), /truncated ICMPv6 header/, `length ${length}`);
        else if (length < 24) assert.match(failure(parsed), /truncated neighbor solicitation: \d+ bytes, need 24/);
        else if (length === 24) assert.equal(unwrap(parsed).options.length, 0, 'exactly 24 bytes: no options');
        else if (length < 32) assert.match(failure(parsed), /NDP option/, `length ${length}`);
        else assert.ok(unwrap(parsed).sourceLinkLayerAddress?.equals(CLIENT_MAC));
        assert.equal(Icmpv6Message.parse(ns.subarray(0, length)).ok, length >= 4);
      }
    });
  });

  describe('build', () => {
    it("rebuilds the kernel's solicitation and advertisement byte for byte from their repr", () => {
      const nsPacket = ipv6Of(frameBytes(kernelFrames.ndpSolicitation));
      const ns = unwrap(NeighborSolicitation.parse(nsPacket.payload));
      assert.deepEqual(buildNeighborSolicitation(ns.toRepr(), nsPacket.source, nsPacket.destination), nsPacket.payload);
      const naPacket = ipv6Of(frameBytes(kernelFrames.ndpAdvertisement));
      const na = unwrap(NeighborAdvertisement.parse(naPacket.payload));
      assert.deepEqual(buildNeighborAdvertisement(na.toRepr(), naPacket.source, naPacket.destination), naPacket.payload);
      // And the whole frames, through the IPv6 and Ethernet builders.
      for (const [frame, message] of [
        [frameBytes(kernelFrames.ndpSolicitation), buildNeighborSolicitation(ns.toRepr(), nsPacket.source, nsPacket.destination)],
        [frameBytes(kernelFrames.ndpAdvertisement), buildNeighborAdvertisement(na.toRepr(), naPacket.source, naPacket.destination)],
      ] as const) {
        const ethernet = unwrap(EthernetFrame.parse(frame));
        const packet = ipv6Of(frame);
        assert.deepEqual(buildEthernet(ethernet.toRepr(), buildIpv6(packet.toRepr(), message)), frame);
      }
    });

    it('builds the hand-written RFC examples with the independently computed checksum', () => {
      assert.deepEqual(buildNeighborSolicitation({target: SERVER_V6}, IpAddress.V6_ANY, SOLICITED_NODE), dadProbe);
      const router = {target: SERVER_V6, router: true, solicited: true, override: true, targetLinkLayerAddress: SERVER_MAC};
      const once = withChecksum(routerAdvertisementTwice.subarray(0, 32).toString('hex'), SERVER_V6, CLIENT_V6);
      assert.deepEqual(buildNeighborAdvertisement(router, SERVER_V6, CLIENT_V6), once);
    });

    it('round-trips every flag combination and both option choices', () => {
      for (let bits = 0; bits < 8; bits++) {
        for (const targetLinkLayerAddress of [undefined, SERVER_MAC]) {
          const repr = {target: SERVER_V6, router: (bits & 4) !== 0, solicited: (bits & 2) !== 0, override: (bits & 1) !== 0};
          const full = targetLinkLayerAddress ? {...repr, targetLinkLayerAddress} : repr;
          const bytes = buildNeighborAdvertisement(full, SERVER_V6, CLIENT_V6);
          const na = unwrap(NeighborAdvertisement.parse(bytes));
          assert.deepEqual(na.toRepr(), full);
          assert.equal(na.checksum, independentChecksum(bytes, SERVER_V6, CLIENT_V6));
        }
      }
      const ns = unwrap(NeighborSolicitation.parse(buildNeighborSolicitation({target: SERVER_V6, sourceLinkLayerAddress: CLIENT_MAC}, CLIENT_V6, SOLICITED_NODE)));
      assert.deepEqual(ns.toRepr(), {target: SERVER_V6, sourceLinkLayerAddress: CLIENT_MAC});
    });

    it('refuses an IPv4 target', () => {
      assert.throws(() => buildNeighborSolicitation({target: ip('198.51.100.100')}, CLIENT_V6, SOLICITED_NODE), TypeError);
    });
  });

  describe('multicast helpers', () => {
    it('derives solicited-node groups from the low 24 bits (RFC 4291 2.7.1)', () => {
      const cases: Array<[string, string]> = [
        ['2001:db8::100', 'ff02::1:ff00:100'],
        ['2001:db8:100::11', 'ff02::1:ff00:11'],
        ['fe80::ff:fe00:b', 'ff02::1:ff00:b'],
        ['2001:db8::12:3456:789a', 'ff02::1:ff56:789a'],
        ['::', 'ff02::1:ff00:0'],
      ];
      for (const [address, group] of cases) assert.equal(solicitedNodeMulticast(ip(address)).toString(), group, address);
      assert.throws(() => solicitedNodeMulticast(ip('198.51.100.11')), TypeError);
    });

    it('maps multicast groups to Ethernet addresses (RFC 2464 7, RFC 1112 6.4)', () => {
      const cases: Array<[string, string]> = [
        ['ff02::1:ff00:100', '33:33:ff:00:01:00'],
        ['ff02::1', '33:33:00:00:00:01'],
        ['ff02::16', '33:33:00:00:00:16'],
        ['ff05::1:3', '33:33:00:01:00:03'],
        ['224.0.0.251', '01:00:5e:00:00:fb'],
        ['239.129.2.3', '01:00:5e:01:02:03'],
      ];
      for (const [group, expected] of cases) assert.equal(multicastMac(ip(group)).toString(), expected, group);
      assert.throws(() => multicastMac(SERVER_V6), TypeError);
      assert.throws(() => multicastMac(ip('198.51.100.11')), TypeError);
    });
  });

  describe('ndpValidationError (RFC 4861 7.1.1, 7.1.2)', () => {
    const kernelNa = () => unwrap(NeighborAdvertisement.parse(icmpOf(frameBytes(kernelFrames.ndpAdvertisement))));
    const check = (message: Buffer, source: IpAddress, destination: IpAddress, hopLimit = 255) => {
      const frame = ndpFrame(message, source, destination, hopLimit);
      return ndpValidationError(ipv6Of(frame), unwrap(parseNeighborMessage(icmpOf(frame))));
    };

    it('drops a hop limit other than 255: the message was routed', () => {
      const message = icmpOf(frameBytes(kernelFrames.ndpAdvertisement));
      assert.equal(check(message, SERVER_V6, CLIENT_V6, 64), 'hop limit 64, not 255');
      assert.equal(check(message, SERVER_V6, CLIENT_V6, 254), 'hop limit 254, not 255');
      assert.equal(check(message, SERVER_V6, CLIENT_V6), undefined);
    });

    it('drops a wrong checksum, a non-zero code and a multicast target', () => {
      const badSum = Buffer.from(icmpOf(frameBytes(kernelFrames.ndpAdvertisement)));
      badSum[3]! ^= 1;
      assert.equal(check(badSum, SERVER_V6, CLIENT_V6), 'bad ICMPv6 checksum 0x886a');
      const code = withChecksum(icmpOf(frameBytes(kernelFrames.ndpAdvertisement)).toString('hex').replace(/^8800/, '8801'), SERVER_V6, CLIENT_V6);
      assert.equal(check(code, SERVER_V6, CLIENT_V6), 'ICMPv6 code 1, not 0');
      const multicast = buildNeighborAdvertisement({target: ALL_NODES, targetLinkLayerAddress: SERVER_MAC}, SERVER_V6, CLIENT_V6);
      assert.equal(check(multicast, SERVER_V6, CLIENT_V6), 'multicast target ff02::1');
      assert.equal(kernelNa().checksumValid(ip('198.51.100.100'), ip('198.51.100.2')), false, 'never valid over IPv4');
    });

    it('drops a solicited advertisement to a multicast address', () => {
      const solicited = buildNeighborAdvertisement({...kernelNa().toRepr()}, SERVER_V6, ALL_NODES);
      assert.equal(check(solicited, SERVER_V6, ALL_NODES), 'solicited flag in an advertisement to a multicast address');
    });

    it('drops DAD probes to the wrong group or with a source link-layer address', () => {
      const group = ip('ff02::1:ff00:999');
      const wrongGroup = buildNeighborSolicitation({target: SERVER_V6}, IpAddress.V6_ANY, group);
      assert.equal(check(wrongGroup, IpAddress.V6_ANY, group), 'DAD probe not sent to the solicited-node address');
      const withLla = buildNeighborSolicitation({target: SERVER_V6, sourceLinkLayerAddress: SERVER_MAC}, IpAddress.V6_ANY, SOLICITED_NODE);
      assert.equal(check(withLla, IpAddress.V6_ANY, SOLICITED_NODE), 'DAD probe with a source link-layer address option');
    });

    it('drops NDP behind a fragment header, even an atomic fragment (RFC 6980)', () => {
      const message = icmpOf(frameBytes(kernelFrames.ndpAdvertisement));
      const fragmentHeader = Buffer.from('3a00000000000001', 'hex'); // next ICMPv6, offset 0, M=0, id 1
      const packet = buildIpv6(
        {source: SERVER_V6, destination: CLIENT_V6, nextHeader: 44, hopLimit: 255},
        Buffer.concat([fragmentHeader, message]),
      );
      const parsed = unwrap(Ipv6Packet.parse(packet));
      assert.equal(parsed.isFragment, false);
      assert.equal(ndpValidationError(parsed, unwrap(parseNeighborMessage(parsed.payload))), 'NDP in a fragment (RFC 6980)');
    });
  });

  describe('describeFrame', () => {
    it('describes the kernel NS and NA as tcpdump does', () => {
      assert.equal(
        describeFrame(frameBytes(kernelFrames.ndpSolicitation)),
        '02:00:00:00:00:01 > 33:33:ff:00:01:00 IPv6 2001:db8::2 > ff02::1:ff00:100: ICMP6, neighbor solicitation, ' +
          'who has 2001:db8::100, source link-address 02:00:00:00:00:01, length 32',
      );
      assert.equal(
        describeFrame(frameBytes(kernelFrames.ndpAdvertisement)),
        '02:00:00:00:00:0b > 02:00:00:00:00:01 IPv6 2001:db8::100 > 2001:db8::2: ICMP6, neighbor advertisement, ' +
          'tgt is 2001:db8::100, Flags [solicited, override], target link-address 02:00:00:00:00:0b, length 32',
      );
    });

    it('shows what makes receivers drop a message: checksum, hop limit, malformed options', () => {
      const badSum = Buffer.from(icmpOf(frameBytes(kernelFrames.ndpAdvertisement)));
      badSum[3]! ^= 1;
      assert.match(
        describeFrame(ndpFrame(badSum, SERVER_V6, CLIENT_V6, 64)),
        /neighbor advertisement, tgt is 2001:db8::100, .*, cksum 0x886a \(incorrect -> 0x886b\), hlim 64 \(not 255\), length 32$/,
      );
      assert.match(describeFrame(ndpFrame(dadProbe, IpAddress.V6_ANY, SOLICITED_NODE)), /:: > ff02::1:ff00:100: ICMP6, neighbor solicitation, who has 2001:db8::100, length 24$/);
      assert.match(
        describeFrame(ndpFrame(advertisementWithOptions('0200 02000000000b'), SERVER_V6, CLIENT_V6)),
        /2001:db8::100 > 2001:db8::2: ICMPv6 \[invalid: NDP option 2 has length 0\], length 32$/,
      );
      // Other ICMPv6 keeps the short form.
      assert.match(describeFrame(frameBytes(kernelFrames.mldReportHopByHop)), /: ICMPv6, length 48$/);
    });
  });

  describe('hostile bytes', () => {
    const messages: ReadonlyArray<[string, Buffer, IpAddress, IpAddress]> = [
      ['kernel NS', icmpOf(frameBytes(kernelFrames.ndpSolicitation)), CLIENT_V6, SOLICITED_NODE],
      ['kernel NA', icmpOf(frameBytes(kernelFrames.ndpAdvertisement)), SERVER_V6, CLIENT_V6],
      ['DAD probe', dadProbe, IpAddress.V6_ANY, SOLICITED_NODE],
      ['unsolicited NA', unsolicitedAdvertisement, SERVER_V6, ALL_NODES],
      ['router NA', routerAdvertisementTwice, SERVER_V6, CLIENT_V6],
    ];

    const parsers: ReadonlyArray<(bytes: Buffer) => Parsed<object>> = [
      (bytes) => Icmpv6Message.parse(bytes),
      (bytes) => NeighborSolicitation.parse(bytes),
      (bytes) => NeighborAdvertisement.parse(bytes),
      (bytes) => parseNeighborMessage(bytes),
    ];

    /** Reads every getter and calls every argument-less method, up the prototype chain. */
    function readEverything(view: object): void {
      for (let proto = Object.getPrototypeOf(view) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
        for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
          if (descriptor.get) descriptor.get.call(view);
          else if (typeof descriptor.value === 'function' && descriptor.value.length === 0 && name !== 'constructor') {
            (descriptor.value as () => unknown).call(view);
          }
        }
      }
    }

    const tally = {parsed: 0, failed: 0, valid: 0};

    function exercise(message: Buffer, source: IpAddress, destination: IpAddress, what: string): void {
      try {
        for (const parse of parsers) {
          const parsed = parse(message);
          if (!parsed.ok) {
            tally.failed++;
            continue;
          }
          tally.parsed++;
          readEverything(parsed.value);
          if (parsed.value instanceof Icmpv6Message) {
            parsed.value.checksumValid(source, destination);
            parsed.value.expectedChecksum(source, destination);
          }
        }
        const frame = ndpFrame(message, source, destination);
        assert.equal(typeof describeFrame(frame), 'string');
        const ndp = parseNeighborMessage(message);
        if (ndp.ok && ndpValidationError(ipv6Of(frame), ndp.value) === undefined) tally.valid++;
      } catch (error) {
        assert.fail(`${what} threw on ${message.toString('hex')}: ${(error as Error).stack}`);
      }
    }

    it('survives every truncated prefix of every example', () => {
      for (const [name, message, source, destination] of messages) {
        for (let length = 0; length <= message.length; length++) {
          exercise(message.subarray(0, length), source, destination, `${name}[0:${length}]`);
        }
      }
    });

    it('survives 5000 seeded random mutations', () => {
      Object.assign(tally, {parsed: 0, failed: 0, valid: 0});
      const random = seededRandom(0x1c3d_6a4e);
      const pick = (n: number) => Math.floor(random() * n);
      for (let i = 0; i < 5000; i++) {
        const [name, original, source, destination] = messages[pick(messages.length)]!;
        let bytes = Buffer.from(original);
        for (let m = 1 + pick(3); m > 0; m--) {
          const position = pick(bytes.length);
          // Mostly option type and length bytes, where the walk decides.
          const target = random() < 0.5 ? 24 + pick(Math.max(1, bytes.length - 24)) : position;
          if (target < bytes.length) bytes[target] = [0x00, 0xff, pick(256), bytes[target]! ^ (1 << pick(8))][pick(4)]!;
        }
        const shape = random();
        if (shape < 0.15) bytes = bytes.subarray(0, pick(bytes.length + 1));
        else if (shape < 0.3) bytes = Buffer.concat([bytes, Buffer.from(Array.from({length: pick(24)}, () => pick(256)))]);
        exercise(bytes, source, destination, `mutation ${i} of ${name}`);
      }
      assert.ok(tally.parsed > 1000 && tally.failed > 1000, JSON.stringify(tally));
    });

    it('survives 1000 random bodies with an NDP type byte', () => {
      const random = seededRandom(7);
      for (let i = 0; i < 1000; i++) {
        const bytes = Buffer.from(Array.from({length: Math.floor(random() * 80)}, () => Math.floor(random() * 256)));
        if (bytes.length > 0) bytes[0] = i % 2 === 0 ? 135 : 136;
        if (bytes.length > 25 && random() < 0.5) bytes[25] = 1; // a plausible option length now and then
        exercise(bytes, SERVER_V6, CLIENT_V6, `random body ${i}`);
      }
    });
  });
});
