/**
 * Kernel packet filters (classic BPF, the `SO_ATTACH_FILTER` kind) for the packet socket, built only from
 * validated values (IpAddress objects and integer ports), never from text a user typed.
 *
 * vipcheck needs a handful of filter shapes (ARP, ARP about some addresses, one TCP flow from VIP:port, NDP
 * advertisements), so it compiles them itself instead of through libpcap: that keeps libpcap and the libraries
 * it pulls in (dbus, systemd, gcrypt: ~1.5 ms to load, measured) out of a process that runs as root.
 *
 * A filter is a list of alternatives, each a list of field tests that must all hold; the compiled program runs
 * them in order and accepts a frame at the end of the first alternative that passes. Offsets are from the start
 * of the Ethernet frame (untagged: the kernel strips VLAN tags into metadata before a packet socket sees them).
 * Like libpcap's, the IPv6 tests do not follow extension headers: TCP or ICMPv6 behind one is not captured.
 * Linux sends neither NDP nor an ordinary TCP segment that way.
 */
import type {IpAddress} from '../wire/address.js';
import {EthernetFrame, EtherType} from '../wire/ethernet.js';
import {Icmpv6Type} from '../wire/icmpv6.js';
import {IpProtocol} from '../wire/ip.js';
import {ICMPV4_DESTINATION_UNREACHABLE, ICMPV6_DESTINATION_UNREACHABLE} from '../wire/icmp-unreachable.js';

/** `(load `size` bytes at `offset` [past the IPv4 header]) & mask == equals`. */
interface FieldTest {
  readonly size: 1 | 2 | 4;
  /** From the start of the frame; with `afterIpv4Header`, from the start of the IPv4 payload. */
  readonly offset: number;
  readonly afterIpv4Header?: boolean;
  readonly mask?: number;
  readonly equals: number;
}

type Alternative = readonly FieldTest[];

/** How much of an accepted frame the kernel queues: all of it (GRO can hand over 64 KiB and more). */
const ACCEPT_BYTES = 262_144;
/** A conditional jump's offsets are one byte: a program may not skip more instructions than this. */
const MAX_JUMP = 255;

// Instruction codes from <linux/filter.h>.
const LD_ABS = {1: 0x30, 2: 0x28, 4: 0x20} as const; // BPF_LD | BPF_{B,H,W} | BPF_ABS
const LD_IND = {1: 0x50, 2: 0x48, 4: 0x40} as const; // BPF_LD | BPF_{B,H,W} | BPF_IND
const LDX_MSH = 0xb1; // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (frame[k] & 0x0f), the IPv4 header length
const ALU_AND_K = 0x54;
const JEQ_K = 0x15;
const RET_K = 0x06;

const ETHERNET_HEADER = EthernetFrame.HEADER_LENGTH;

interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export class BpfFilter {
  private constructor(
    private readonly alternatives: readonly Alternative[],
    private readonly text: string,
  ) {}

  /** @internal Building blocks below; tests build their own through them. */
  static of(alternatives: readonly Alternative[], text: string): BpfFilter {
    if (alternatives.length === 0) throw new RangeError('a filter needs at least one alternative');
    return new BpfFilter(alternatives, text);
  }

  /** Frames that pass any of `filters`. */
  static anyOf(...filters: BpfFilter[]): BpfFilter {
    return BpfFilter.of(
      filters.flatMap((f) => f.alternatives),
      filters.map((f) => `(${f.text})`).join(' or '),
    );
  }

  /** tcpdump syntax for the same filter, for -vvv output and for reading along. */
  toString(): string {
    return this.text;
  }

  /** The program as the kernel's `struct sock_filter` array (8 bytes per instruction, host byte order). */
  compile(): Buffer {
    const program: Instruction[] = [];
    const pendingFailJumps: number[][] = [];
    for (const alternative of this.alternatives) {
      const failJumps: number[] = [];
      let headerLengthLoaded = false;
      // Jumps still pointing at "the next alternative" are resolved once its first instruction is known.
      for (const jump of pendingFailJumps.pop() ?? []) program[jump]!.jf = program.length - jump - 1;
      for (const test of alternative) {
        if (test.afterIpv4Header && !headerLengthLoaded) {
          program.push({code: LDX_MSH, jt: 0, jf: 0, k: ETHERNET_HEADER});
          headerLengthLoaded = true;
        }
        const offset = test.afterIpv4Header ? ETHERNET_HEADER + test.offset : test.offset;
        program.push({code: (test.afterIpv4Header ? LD_IND : LD_ABS)[test.size], jt: 0, jf: 0, k: offset});
        if (test.mask !== undefined) program.push({code: ALU_AND_K, jt: 0, jf: 0, k: test.mask >>> 0});
        failJumps.push(program.length);
        program.push({code: JEQ_K, jt: 0, jf: 0, k: test.equals >>> 0});
      }
      program.push({code: RET_K, jt: 0, jf: 0, k: ACCEPT_BYTES});
      pendingFailJumps.push(failJumps);
    }
    for (const jump of pendingFailJumps.pop() ?? []) program[jump]!.jf = program.length - jump - 1;
    program.push({code: RET_K, jt: 0, jf: 0, k: 0});

    const bytes = Buffer.alloc(program.length * 8);
    program.forEach((instruction, i) => {
      if (instruction.jf > MAX_JUMP) throw new RangeError(`filter too long: a jump of ${instruction.jf} instructions`);
      bytes.writeUInt16LE(instruction.code, i * 8);
      bytes.writeUInt8(instruction.jt, i * 8 + 2);
      bytes.writeUInt8(instruction.jf, i * 8 + 3);
      bytes.writeUInt32LE(instruction.k, i * 8 + 4);
    });
    // The kernel reads the array in host byte order; every Linux machine Node supports here is little-endian.
    return bytes;
  }
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
  return port;
}

const etherType = (type: number): FieldTest => ({size: 2, offset: 12, equals: type});

/** Tests that `address` sits at `offset`, a word at a time (4 words for IPv6). */
function addressAt(offset: number, address: IpAddress): FieldTest[] {
  const bytes = address.bytes;
  const tests: FieldTest[] = [];
  for (let i = 0; i < bytes.length; i += 4) tests.push({size: 4, offset: offset + i, equals: bytes.readUInt32BE(i)});
  return tests;
}

export function arpFrames(): BpfFilter {
  return BpfFilter.of([[etherType(EtherType.ARP)]], 'arp');
}

/** ARP packets whose sender or target protocol address is one of `addresses` (IPv4 only; all ARP when empty). */
export function arpInvolving(addresses: readonly IpAddress[]): BpfFilter {
  if (addresses.length === 0) return arpFrames();
  for (const a of addresses) if (a.family !== 4) throw new RangeError(`ARP carries IPv4 addresses only, got ${a}`);
  // Sender protocol address at 14 + 14, target protocol address at 14 + 24 (Ethernet/IPv4 ARP).
  const alternatives = addresses.flatMap((a) => [
    [etherType(EtherType.ARP), ...addressAt(28, a)],
    [etherType(EtherType.ARP), ...addressAt(38, a)],
  ]);
  return BpfFilter.of(alternatives, addresses.map((a) => `(arp host ${a.toString()})`).join(' or '));
}

/** TCP segments of one flow as seen from the local end: from remote ip:port to our port. */
export function tcpFromPeer(remote: IpAddress, remotePort: number, localPort: number): BpfFilter {
  return fromPeer('tcp', remote, remotePort, localPort);
}

/** UDP datagrams of one flow as seen from the local end: from remote ip:port to our port. */
export function udpFromPeer(remote: IpAddress, remotePort: number, localPort: number): BpfFilter {
  return fromPeer('udp', remote, remotePort, localPort);
}

function fromPeer(protocol: 'tcp' | 'udp', remote: IpAddress, remotePort: number, localPort: number): BpfFilter {
  const source = checkPort(remotePort);
  const destination = checkPort(localPort);
  const number = protocol === 'tcp' ? IpProtocol.TCP : IpProtocol.UDP;
  const text = `${remote.family === 4 ? 'ip' : 'ip6'} and ${protocol} and src host ${remote.toString()} and src port ${source} and dst port ${destination}`;
  if (remote.family === 4) {
    return BpfFilter.of(
      [
        [
          etherType(EtherType.IPv4),
          {size: 1, offset: 23, equals: number},
          ...addressAt(26, remote),
          // Only first fragments (offset 0) carry the transport header; libpcap's port tests check the same.
          {size: 2, offset: 20, mask: 0x1fff, equals: 0},
          {size: 2, offset: 0, afterIpv4Header: true, equals: source},
          {size: 2, offset: 2, afterIpv4Header: true, equals: destination},
        ],
      ],
      text,
    );
  }
  return BpfFilter.of(
    [
      [
        etherType(EtherType.IPv6),
        {size: 1, offset: 20, equals: number},
        ...addressAt(22, remote),
        {size: 2, offset: 54, equals: source},
        {size: 2, offset: 56, equals: destination},
      ],
    ],
    text,
  );
}

/**
 * ICMP and ICMPv6 destination unreachables quoting a UDP datagram from one of our ports (`localPort`, or with
 * `blockSize` every port of the aligned block starting there): how a closed UDP port answers. The quoted IPv4
 * header is taken to be 20 bytes (a datagram without IP options, which is all vipcheck sends); the quoted IPv6
 * datagram, one without extension headers.
 */
export function udpUnreachablesQuoting(localPort: number, blockSize = 1): BpfFilter {
  checkPort(localPort);
  const mask = 0xffff & ~(blockSize - 1);
  const portTest = (offset: number, afterIpv4Header: boolean): FieldTest =>
    blockSize === 1 ? {size: 2, offset, afterIpv4Header, equals: localPort} : {size: 2, offset, afterIpv4Header, mask, equals: localPort};
  const ports = blockSize === 1 ? `${localPort}` : `${localPort}-${localPort + blockSize - 1}`;
  return BpfFilter.of(
    [
      [
        etherType(EtherType.IPv4),
        {size: 1, offset: 23, equals: IpProtocol.ICMP},
        {size: 2, offset: 20, mask: 0x1fff, equals: 0},
        {size: 1, offset: 0, afterIpv4Header: true, equals: ICMPV4_DESTINATION_UNREACHABLE},
        {size: 1, offset: 8, afterIpv4Header: true, equals: 0x45},
        {size: 1, offset: 8 + 9, afterIpv4Header: true, equals: IpProtocol.UDP},
        portTest(8 + 20, true),
      ],
      [
        etherType(EtherType.IPv6),
        {size: 1, offset: 20, equals: IpProtocol.ICMPv6},
        {size: 1, offset: 54, equals: ICMPV6_DESTINATION_UNREACHABLE},
        {size: 1, offset: 54 + 8 + 6, equals: IpProtocol.UDP},
        portTest(54 + 8 + 40, false),
      ],
    ],
    `(icmp[0] == 3 or icmp6[0] == 1) quoting udp src port ${ports}`,
  );
}

/** ICMPv6 directly after the fixed IPv6 header. */
export function icmp6(): BpfFilter {
  return BpfFilter.of([[etherType(EtherType.IPv6), {size: 1, offset: 20, equals: IpProtocol.ICMPv6}]], 'icmp6');
}

export function anyOf(...parts: BpfFilter[]): BpfFilter {
  return BpfFilter.anyOf(...parts);
}

/**
 * NDP Neighbor Advertisements (ICMPv6 type 136), in both directions (the link drops those with our own Ethernet
 * source, i.e. our kernel's). Byte 54 is the first byte after the fixed IPv6 header: an advertisement behind an
 * extension header (hop-by-hop, destination options, a fragment header) is not captured. Linux never sends NDP
 * that way, and fragmented NDP is to be ignored anyway (RFC 6980). Hop limit, checksum and target are checked by
 * the resolver, not here, so that a trace can report an advertisement that fails them.
 */
export function ndpAdvertisements(): BpfFilter {
  return BpfFilter.of(
    [[etherType(EtherType.IPv6), {size: 1, offset: 20, equals: IpProtocol.ICMPv6}, {size: 1, offset: 54, equals: Icmpv6Type.NeighborAdvertisement}]],
    'icmp6 and ip6[40] == 136',
  );
}

/** Neighbor Solicitations and Advertisements (ICMPv6 135 and 136) directly after the fixed IPv6 header. */
export function ndpMessages(): BpfFilter {
  const ofType = (type: number) => [etherType(EtherType.IPv6), {size: 1, offset: 20, equals: IpProtocol.ICMPv6}, {size: 1, offset: 54, equals: type}] as const;
  return BpfFilter.of([ofType(Icmpv6Type.NeighborSolicitation), ofType(Icmpv6Type.NeighborAdvertisement)], 'icmp6 and (ip6[40] == 135 or ip6[40] == 136)');
}

/** The frames that answer a neighbour resolution for an address of `family`: ARP for 4, NDP advertisements for 6. */
export function neighborAnswers(family: IpAddress['family']): BpfFilter {
  return family === 4 ? arpFrames() : ndpAdvertisements();
}

/**
 * TCP (and UDP, when asked) segments to any port of an aligned block of `size` ports starting at `base` (a
 * power of two, `base` a multiple of it): one masked test matches the whole block, so the agent's one socket per
 * interface needs one short program for every flow it will ever run. IPv4 first fragments and IPv6 without
 * extension headers, like tcpFromPeer.
 */
export function toPortBlock(base: number, size: number, protocols: ReadonlyArray<'tcp' | 'udp'> = ['tcp']): BpfFilter {
  checkPort(base);
  if (!Number.isInteger(size) || size < 1 || size > 32768 || (size & (size - 1)) !== 0 || base % size !== 0 || base + size > 65536) {
    throw new RangeError(`a port block needs a power-of-two size and a base aligned to it, got ${base}/${size}`);
  }
  const mask = 0xffff & ~(size - 1);
  const numbers = protocols.map((p) => (p === 'tcp' ? IpProtocol.TCP : IpProtocol.UDP));
  const alternatives = numbers.flatMap((protocol) => [
    [
      etherType(EtherType.IPv4),
      {size: 1, offset: 23, equals: protocol},
      {size: 2, offset: 20, mask: 0x1fff, equals: 0},
      {size: 2, offset: 2, afterIpv4Header: true, mask, equals: base},
    ],
    [etherType(EtherType.IPv6), {size: 1, offset: 20, equals: protocol}, {size: 2, offset: 56, mask, equals: base}],
  ] satisfies Alternative[]);
  const text = `(${protocols.join(' or ')}) and dst portrange ${base}-${base + size - 1}`;
  return BpfFilter.of(alternatives, text);
}

/** Every ARP frame and every NDP solicitation and advertisement: what a shared neighbour cache listens to. */
export function neighborTraffic(): BpfFilter {
  return anyOf(arpFrames(), ndpMessages());
}
