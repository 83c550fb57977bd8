/**
 * A scripted real server on an in-memory wire: answers ARP for its RIP (never for the VIP, like arp_ignore=1)
 * and answers TCP segments addressed to the VIP with the behaviour under test. Bytes are built and parsed with
 * the real codecs, so the client sees exactly what it would see from a kernel.
 */
import type {MemoryLink, MemoryWire} from '../../src/core/link/memory-link.js';
import {IpAddress, MacAddress} from '../../src/core/wire/address.js';
import {ArpOperation, ArpPacket, buildArp} from '../../src/core/wire/arp.js';
import {EtherType, EthernetFrame, buildEthernet} from '../../src/core/wire/ethernet.js';
import {IpProtocol, buildIpPacket, parseIpPacket} from '../../src/core/wire/ip.js';
import {TcpFlags, TcpSegment, buildTcp, type TcpRepr} from '../../src/core/wire/tcp.js';

export interface ReceivedSegment {
  readonly segment: TcpSegment;
  readonly destinationMac: MacAddress;
}

/** `reply` answers the segment's sender from the address and port it was sent to; `payload` defaults to none. */
export type TcpResponder = (
  segment: TcpSegment,
  reply: (repr: Omit<TcpRepr, 'sourcePort' | 'destinationPort'>, payload?: Buffer) => void,
  /** Where the segment came from, for servers that send later on their own (timers). */
  from: TcpEndpoint,
) => void;

/** One side of a TCP flow as the server sees it. */
export interface TcpEndpoint {
  readonly mac: MacAddress;
  readonly ip: IpAddress;
  readonly port: number;
}

export class FakeRealServer {
  readonly link: MemoryLink;
  readonly received: ReceivedSegment[] = [];
  arpRequestsSeen = 0;
  answerArp = true;

  constructor(
    wire: MemoryWire,
    readonly mac: MacAddress,
    readonly rip: IpAddress,
    /** Addresses the server accepts TCP for (the VIP on its loopback); empty = VIP missing. */
    readonly localAddresses: IpAddress[],
    readonly respond: TcpResponder,
  ) {
    this.link = wire.attach('rs0', mac);
    this.link.onFrame((frame) => this.receive(frame));
  }

  private receive(frame: Buffer): void {
    const eth = EthernetFrame.parse(frame);
    if (!eth.ok) return;
    if (eth.value.etherType === EtherType.ARP) return this.receiveArp(eth.value);
    if (!eth.value.destination.equals(this.mac)) return;
    const ip = parseIpPacket(eth.value.etherType, eth.value.payload);
    if (!ip.ok || ip.value.protocol !== IpProtocol.TCP) return;
    const {source, destination} = ip.value;
    if (!this.localAddresses.some((a) => a.equals(destination))) return; // the kernel drops it: not a local address
    const tcp = TcpSegment.parse(ip.value.payload);
    if (!tcp.ok) return;
    const segment = tcp.value;
    this.received.push({segment, destinationMac: eth.value.destination});
    const peer: TcpEndpoint = {mac: eth.value.source, ip: source, port: segment.sourcePort};
    const local: TcpEndpoint = {mac: this.mac, ip: destination, port: segment.destinationPort};
    this.respond(segment, (repr, payload) => this.sendTcp(local, peer, repr, payload), peer);
  }

  /** Sends one TCP segment from `local` (an address of this server, e.g. the VIP) to `peer`. */
  sendTcp(local: TcpEndpoint, peer: TcpEndpoint, repr: Omit<TcpRepr, 'sourcePort' | 'destinationPort'>, payload: Buffer = Buffer.alloc(0)): void {
    const bytes = buildTcp({...repr, sourcePort: local.port, destinationPort: peer.port}, payload, local.ip, peer.ip);
    const packet = buildIpPacket({family: local.ip.family, source: local.ip, destination: peer.ip, protocol: IpProtocol.TCP}, bytes);
    const etherType = local.ip.family === 4 ? EtherType.IPv4 : EtherType.IPv6;
    this.link.send(buildEthernet({destination: peer.mac, source: this.mac, etherType}, packet));
  }

  private receiveArp(eth: EthernetFrame): void {
    const arp = ArpPacket.parse(eth.payload);
    if (!arp.ok || arp.value.operation !== ArpOperation.Request || !arp.value.targetIp.equals(this.rip)) return;
    this.arpRequestsSeen++;
    if (!this.answerArp) return;
    const reply = buildArp({
      operation: ArpOperation.Reply,
      senderMac: this.mac,
      senderIp: this.rip,
      targetMac: arp.value.senderMac,
      targetIp: arp.value.senderIp,
    });
    this.link.send(buildEthernet({destination: arp.value.senderMac, source: this.mac, etherType: EtherType.ARP}, reply));
  }
}

/** A listening Linux-like server: SYN-ACK to SYNs (echoing the timestamp), FIN|ACK in reply to FIN. */
export function listeningServer(serverIsn = 7777): TcpResponder {
  return (segment, reply) => {
    if (segment.has(TcpFlags.SYN)) {
      const ts = segment.options.timestamp;
      reply({
        sequenceNumber: serverIsn,
        acknowledgmentNumber: (segment.sequenceNumber + 1) >>> 0,
        flags: TcpFlags.SYN | TcpFlags.ACK,
        window: 65160,
        options: {mss: 1460, sackPermitted: true, windowScale: 7, ...(ts ? {timestamp: {value: 99, echo: ts.value}} : {})},
      });
    } else if (segment.has(TcpFlags.FIN)) {
      reply({
        sequenceNumber: (serverIsn + 1) >>> 0,
        acknowledgmentNumber: (segment.sequenceNumber + 1) >>> 0,
        flags: TcpFlags.FIN | TcpFlags.ACK,
        window: 509,
      });
    }
  };
}

/** A host with the VIP but nothing listening: RST|ACK to every SYN. */
export function closedPort(): TcpResponder {
  return (segment, reply) => {
    if (segment.has(TcpFlags.SYN)) {
      reply({sequenceNumber: 0, acknowledgmentNumber: (segment.sequenceNumber + 1) >>> 0, flags: TcpFlags.RST | TcpFlags.ACK, window: 0});
    }
  };
}
