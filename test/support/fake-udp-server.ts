/**
 * A scripted UDP real server on an in-memory wire: takes the datagrams addressed to its MAC and to one of its
 * addresses (the VIP on its loopback), and answers each through `respond` with datagrams from any address and
 * port (the VIP:port, or a wrong one for the tests that must ignore it) or with the ICMP / ICMPv6 port
 * unreachable a Linux kernel sends for a closed port, quoting the datagram as the kernel does. Built with the
 * real codecs plus a hand-written ICMP header (vipcheck itself never sends ICMP errors).
 */
import type {MemoryLink, MemoryWire} from '../../src/core/link/memory-link.js';
import type {IpAddress, MacAddress} from '../../src/core/wire/address.js';
import {internetChecksum, transportChecksum} from '../../src/core/wire/checksum.js';
import {EthernetFrame, buildEthernet} from '../../src/core/wire/ethernet.js';
import {IpProtocol, buildIpPacket, ipEtherType, parseIpPacket} from '../../src/core/wire/ip.js';
import {UdpDatagram, buildUdp} from '../../src/core/wire/udp.js';

export interface UdpRequest {
  readonly payload: Buffer;
  readonly from: {readonly mac: MacAddress; readonly ip: IpAddress; readonly port: number};
  readonly to: {readonly ip: IpAddress; readonly port: number};
  /** The whole IP packet, for quoting. */
  readonly packet: Buffer;
}

export interface UdpServerActions {
  /** A datagram to the client, by default from the address and port the request went to. */
  reply(payload: Buffer, from?: {ip?: IpAddress; port?: number}): void;
  /** The kernel's answer for a closed port: ICMP(v6) destination unreachable, port, from `from` (default: the VIP). */
  unreachable(options?: {from?: IpAddress; code?: number; quotePort?: number}): void;
}

export class FakeUdpServer {
  readonly link: MemoryLink;
  readonly requests: UdpRequest[] = [];

  constructor(
    wire: MemoryWire,
    readonly mac: MacAddress,
    readonly localAddresses: readonly IpAddress[],
    readonly respond: (request: UdpRequest, actions: UdpServerActions) => void,
  ) {
    this.link = wire.attach('rs0', mac);
    this.link.onFrame((frame) => this.receive(frame));
  }

  private receive(frame: Buffer): void {
    const eth = EthernetFrame.parse(frame);
    if (!eth.ok || !eth.value.destination.equals(this.mac)) return;
    const ip = parseIpPacket(eth.value.etherType, eth.value.payload);
    if (!ip.ok || ip.value.protocol !== IpProtocol.UDP) return;
    if (!this.localAddresses.some((a) => a.equals(ip.value.destination))) return; // not local: the kernel drops it
    const udp = UdpDatagram.parse(ip.value.payload);
    if (!udp.ok) return;
    const request: UdpRequest = {
      payload: udp.value.payload,
      from: {mac: eth.value.source, ip: ip.value.source, port: udp.value.sourcePort},
      to: {ip: ip.value.destination, port: udp.value.destinationPort},
      packet: eth.value.payload,
    };
    this.requests.push(request);
    this.respond(request, {
      reply: (payload, from = {}) => this.sendUdp(request, payload, from.ip ?? request.to.ip, from.port ?? request.to.port),
      unreachable: (options = {}) => this.sendUnreachable(request, options.from ?? request.to.ip, options.code, options.quotePort),
    });
  }

  private sendUdp(request: UdpRequest, payload: Buffer, source: IpAddress, port: number): void {
    const udp = buildUdp({sourcePort: port, destinationPort: request.from.port}, payload, source, request.from.ip);
    this.send(request, buildIpPacket({family: source.family, source, destination: request.from.ip, protocol: IpProtocol.UDP}, udp));
  }

  private sendUnreachable(request: UdpRequest, source: IpAddress, code: number | undefined, quotePort: number | undefined): void {
    const family = source.family;
    const quote = Buffer.from(request.packet);
    if (quotePort !== undefined) quote.writeUInt16BE(quotePort, family === 4 ? 20 : 40); // the quoted source port
    const icmp = Buffer.concat([Buffer.from([family === 4 ? 3 : 1, code ?? (family === 4 ? 3 : 4), 0, 0, 0, 0, 0, 0]), quote]);
    const protocol = family === 4 ? IpProtocol.ICMP : IpProtocol.ICMPv6;
    icmp.writeUInt16BE(family === 4 ? internetChecksum(icmp) : transportChecksum(source, request.from.ip, protocol, icmp), 2);
    this.send(request, buildIpPacket({family, source, destination: request.from.ip, protocol, dontFragment: false}, icmp));
  }

  private send(request: UdpRequest, packet: Buffer): void {
    this.link.send(buildEthernet({destination: request.from.mac, source: this.mac, etherType: ipEtherType(request.to.ip.family)}, packet));
  }
}
