/**
 * Whole-frame decoding, the entry point for everything a capture delivers, and a one-line tcpdump-like text of a
 * frame for packet traces.
 *
 * A frame whose Ethernet header is sound but whose inner packet is not (a truncated IP header, a mangled TCP
 * option) still decodes: the layers that parsed are set and `innerError` says why decoding stopped. A trace
 * wants to show such frames, and a check wants to ignore them rather than fail.
 */
import {ArpOperation, ArpPacket} from './arp.js';
import {EthernetFrame, EtherType} from './ethernet.js';
import {Icmpv6Type, NDP_HOP_LIMIT, NeighborAdvertisement, parseNeighborMessage, type NeighborSolicitation} from './icmpv6.js';
import {IpProtocol, parseIpPacket, type IpPacketView} from './ip.js';
import {ok, type Parsed} from './parsed.js';
import {seqAdd} from './seq.js';
import {TcpFlags, TcpSegment} from './tcp.js';
import {hex} from './text.js';

export interface DecodedFrame {
  ethernet: EthernetFrame;
  arp?: ArpPacket;
  ip?: IpPacketView;
  /** Set for TCP in an unfragmented IP packet. */
  tcp?: TcpSegment;
  /** Why the layer after the last one set could not be decoded. */
  innerError?: string;
}

/** Fails only when the Ethernet header itself is unusable; see DecodedFrame for inner failures. */
export function decodeFrame(bytes: Buffer): Parsed<DecodedFrame> {
  const ethernet = EthernetFrame.parse(bytes);
  if (!ethernet.ok) return ethernet;
  const frame: DecodedFrame = {ethernet: ethernet.value};
  const {etherType, payload} = ethernet.value;
  if (etherType === EtherType.ARP) {
    const arp = ArpPacket.parse(payload);
    if (arp.ok) frame.arp = arp.value;
    else frame.innerError = arp.error;
  } else if (etherType === EtherType.IPv4 || etherType === EtherType.IPv6) {
    const ip = parseIpPacket(etherType, payload);
    if (!ip.ok) {
      frame.innerError = ip.error;
      return ok(frame);
    }
    frame.ip = ip.value;
    // A fragment's payload is not a whole segment (and later fragments hold no header at all).
    if (ip.value.protocol === IpProtocol.TCP && !ip.value.isFragment) {
      const tcp = TcpSegment.parse(ip.value.payload);
      if (tcp.ok) frame.tcp = tcp.value;
      else frame.innerError = tcp.error;
    }
  }
  return ok(frame);
}

/**
 * One line per frame, in the spirit of `tcpdump -e -S` (absolute sequence numbers), e.g.
 * `02:00:00:00:00:01 > 02:00:00:00:00:0b IPv4 198.51.100.2.40000 > 198.51.100.100.80: Flags [S], seq 123,
 * win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0`. A wrong TCP checksum is shown as
 * tcpdump -vv shows it. Never throws, whatever the bytes.
 */
export function describeFrame(bytes: Buffer): string {
  const decoded = decodeFrame(bytes);
  if (!decoded.ok) return `invalid frame (${bytes.length} bytes): ${decoded.error}`;
  const frame = decoded.value;
  const {ethernet} = frame;
  const vlan = ethernet.vlanId === undefined ? '' : ` vlan ${ethernet.vlanId}`;
  return `${ethernet.source} > ${ethernet.destination}${vlan} ${describeInner(frame)}`;
}

const etherTypeNames = invert(EtherType);
const protocolNames = invert(IpProtocol);

function describeInner({ethernet, arp, ip, tcp, innerError}: DecodedFrame): string {
  if (arp) return describeArp(arp);
  if (ip) return describeIp(ip, tcp, innerError);
  const name = etherTypeNames.get(ethernet.etherType) ?? `ethertype ${hex(ethernet.etherType)}`;
  const invalid = innerError === undefined ? '' : ` [invalid: ${innerError}]`;
  return `${name}${invalid}, length ${ethernet.payload.length}`;
}

function describeArp(arp: ArpPacket): string {
  if (arp.operation === ArpOperation.Reply) return `ARP reply ${arp.senderIp} is-at ${arp.senderMac}`;
  const gratuitous = arp.isGratuitous ? ' (gratuitous)' : '';
  return `ARP who-has ${arp.targetIp} tell ${arp.senderIp}${gratuitous}`;
}

function describeIp(ip: IpPacketView, tcp: TcpSegment | undefined, innerError: string | undefined): string {
  const family = `IPv${ip.family}`;
  const protocol = protocolNames.get(ip.protocol) ?? `ip-proto-${ip.protocol}`;
  const length = `length ${ip.payload.length}`;
  if (tcp) return `${family} ${describeTcp(ip, tcp)}`;
  const addresses = `${ip.source} > ${ip.destination}`;
  if (innerError !== undefined) return `${family} ${addresses}: ${protocol} [invalid: ${innerError}], ${length}`;
  if (ip.isFragment) return `${family} ${addresses}: ${protocol} fragment, ${length}`;
  if (isNeighborDiscovery(ip)) {
    const ndp = parseNeighborMessage(ip.payload);
    if (!ndp.ok) return `${family} ${addresses}: ${protocol} [invalid: ${ndp.error}], ${length}`;
    return `${family} ${addresses}: ${describeNdp(ip, ndp.value)}, ${length}`;
  }
  return `${family} ${addresses}: ${protocol}, ${length}`;
}

function isNeighborDiscovery(ip: IpPacketView): boolean {
  if (ip.family !== 6 || ip.protocol !== IpProtocol.ICMPv6) return false;
  const type = ip.payload[0];
  return type === Icmpv6Type.NeighborSolicitation || type === Icmpv6Type.NeighborAdvertisement;
}

/**
 * tcpdump's words for NS and NA (`ICMP6, neighbor solicitation, who has 2001:db8::11` / `ICMP6, neighbor
 * advertisement, tgt is 2001:db8::11, Flags [solicited, override]`), plus the link-layer address option, and a
 * wrong checksum or a hop limit other than 255 when present: both make every receiver drop the message.
 */
function describeNdp(ip: IpPacketView, message: NeighborSolicitation | NeighborAdvertisement): string {
  const parts: string[] = [];
  if (message instanceof NeighborAdvertisement) {
    parts.push(`ICMP6, neighbor advertisement, tgt is ${message.target}`, `Flags [${message.flagsText()}]`);
    const mac = message.targetLinkLayerAddress;
    if (mac) parts.push(`target link-address ${mac}`);
  } else {
    parts.push(`ICMP6, neighbor solicitation, who has ${message.target}`);
    const mac = message.sourceLinkLayerAddress;
    if (mac) parts.push(`source link-address ${mac}`);
  }
  if (!message.checksumValid(ip.source, ip.destination)) {
    parts.push(`cksum ${hex(message.checksum)} (incorrect -> ${hex(message.expectedChecksum(ip.source, ip.destination))})`);
  }
  if (ip.hopLimit !== NDP_HOP_LIMIT) parts.push(`hlim ${ip.hopLimit} (not ${NDP_HOP_LIMIT})`);
  return parts.join(', ');
}

function describeTcp(ip: IpPacketView, tcp: TcpSegment): string {
  const parts = [`Flags [${tcp.flagsText()}]`];
  if (!tcp.checksumValid(ip.source, ip.destination)) {
    const expected = tcp.expectedChecksum(ip.source, ip.destination);
    parts.push(`cksum ${hex(tcp.checksum)} (incorrect -> ${hex(expected)})`);
  }
  const length = tcp.payload.length;
  const seq = tcp.sequenceNumber;
  parts.push(length > 0 ? `seq ${seq}:${seqAdd(seq, length)}` : `seq ${seq}`);
  if (tcp.has(TcpFlags.ACK)) parts.push(`ack ${tcp.acknowledgmentNumber}`);
  parts.push(`win ${tcp.window}`);
  if (tcp.has(TcpFlags.URG)) parts.push(`urg ${tcp.urgentPointer}`);
  const options = tcp.optionsText();
  if (options !== '') parts.push(`options [${options}]`);
  parts.push(`length ${length}`);
  return `${ip.source}.${tcp.sourcePort} > ${ip.destination}.${tcp.destinationPort}: ${parts.join(', ')}`;
}

function invert(table: Readonly<Record<string, number>>): Map<number, string> {
  return new Map(Object.entries(table).map(([name, value]) => [value, name]));
}
