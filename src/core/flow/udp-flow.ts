/**
 * One UDP flow as it travels the VIP path, the datagram twin of TcpFlow: our MAC and address to the real
 * server's MAC, with the VIP as the IP destination. Wraps outgoing payloads in UDP, IP and Ethernet, and picks
 * out of captured frames the flow's datagrams (by the 4-tuple) and the ICMP / ICMPv6 destination unreachables
 * that quote one of its datagrams (how a closed UDP port answers).
 */
import {EthernetFrame, buildEthernet} from '../wire/ethernet.js';
import {parseDestinationUnreachable, type DestinationUnreachable} from '../wire/icmp-unreachable.js';
import {IpProtocol, buildIpPacket, ipEtherType, parseIpPacket} from '../wire/ip.js';
import {UdpDatagram, buildUdp} from '../wire/udp.js';
import type {FlowEndpoints} from './tcp-flow.js';

export type UdpFlowEvent =
  | {readonly kind: 'datagram'; readonly payload: Buffer}
  | {readonly kind: 'unreachable'; readonly report: DestinationUnreachable};

export class UdpFlow {
  private identification: number;

  constructor(
    readonly endpoints: FlowEndpoints,
    /** Fresh IPv4 identification start (random per flow). */
    identificationSeed: number,
  ) {
    this.identification = identificationSeed & 0xffff;
  }

  /** The Ethernet frame carrying `payload` from our port to VIP:port. */
  frame(payload: Uint8Array): Buffer {
    const e = this.endpoints;
    const udp = buildUdp({sourcePort: e.localPort, destinationPort: e.remotePort}, payload, e.localIp, e.remoteIp);
    this.identification = (this.identification + 1) & 0xffff;
    const ip = buildIpPacket(
      {family: e.remoteIp.family, source: e.localIp, destination: e.remoteIp, protocol: IpProtocol.UDP, hopLimit: 64, identification: this.identification, dontFragment: true},
      udp,
    );
    return buildEthernet({destination: e.remoteMac, source: e.localMac, etherType: ipEtherType(e.remoteIp.family)}, ip);
  }

  /**
   * The flow's datagram or unreachable in `frame`, or undefined for anything else. As with TCP, the Ethernet
   * source is not checked (the server answers through its own routing); a fragment is not reassembled.
   */
  match(frame: Buffer): UdpFlowEvent | undefined {
    const e = this.endpoints;
    const eth = EthernetFrame.parse(frame);
    if (!eth.ok || eth.value.etherType !== ipEtherType(e.remoteIp.family)) return undefined;
    const ip = parseIpPacket(eth.value.etherType, eth.value.payload);
    if (!ip.ok || ip.value.isFragment || !ip.value.destination.equals(e.localIp)) return undefined;
    if (ip.value.protocol === IpProtocol.UDP) {
      if (!ip.value.source.equals(e.remoteIp)) return undefined;
      const udp = UdpDatagram.parse(ip.value.payload);
      if (!udp.ok || udp.value.sourcePort !== e.remotePort || udp.value.destinationPort !== e.localPort) return undefined;
      return {kind: 'datagram', payload: udp.value.payload};
    }
    const unreachable = parseDestinationUnreachable(ip.value);
    if (!unreachable.ok) return undefined;
    const quoted = unreachable.value.quoted;
    const ours =
      quoted.protocol === IpProtocol.UDP &&
      quoted.source.equals(e.localIp) &&
      quoted.destination.equals(e.remoteIp) &&
      quoted.sourcePort === e.localPort &&
      quoted.destinationPort === e.remotePort;
    return ours ? {kind: 'unreachable', report: unreachable.value} : undefined;
  }
}
