/**
 * One TCP flow as it travels the VIP path: our MAC and address to the real server's MAC, with the VIP as the
 * IP destination (the recipe in lvs-dr.md). Wraps outgoing segments in IP and Ethernet, and picks the flow's
 * segments out of captured frames. Address-family generic: IPv6 flows differ only in the IP header.
 */
import type {IpAddress, MacAddress} from '../wire/address.js';
import {EtherType, EthernetFrame, buildEthernet} from '../wire/ethernet.js';
import {IpProtocol, buildIpPacket, parseIpPacket} from '../wire/ip.js';
import {TcpSegment, buildTcp} from '../wire/tcp.js';
import type {OutgoingSegment} from '../tcp/segment.js';

export interface FlowEndpoints {
  readonly localMac: MacAddress;
  readonly remoteMac: MacAddress;
  readonly localIp: IpAddress;
  /** The VIP on the VIP path; the real server's own address would make this an ordinary RIP check. */
  readonly remoteIp: IpAddress;
  readonly localPort: number;
  readonly remotePort: number;
}

/** Checksums are the link's business (frame-integrity.ts): a segment that reaches a flow has passed them. */
export interface InboundSegment {
  readonly segment: TcpSegment;
}

export class TcpFlow {
  private identification: number;

  constructor(
    readonly endpoints: FlowEndpoints,
    /** Fresh IPv4 identification start (random per flow). */
    identificationSeed: number,
  ) {
    this.identification = identificationSeed & 0xffff;
  }

  get etherType(): number {
    return this.endpoints.remoteIp.family === 4 ? EtherType.IPv4 : EtherType.IPv6;
  }

  frame(out: OutgoingSegment): Buffer {
    const e = this.endpoints;
    const tcp = buildTcp(out.repr, out.payload, e.localIp, e.remoteIp);
    const ip = buildIpPacket(
      {
        family: e.remoteIp.family,
        source: e.localIp,
        destination: e.remoteIp,
        protocol: IpProtocol.TCP,
        hopLimit: 64,
        identification: this.nextIdentification(),
        dontFragment: true,
      },
      tcp,
    );
    return buildEthernet({destination: e.remoteMac, source: e.localMac, etherType: this.etherType}, ip);
  }

  /**
   * The flow's segment in `frame`, or undefined for anything else. The Ethernet source is not required to be the
   * real server's MAC: the RS answers the client (us) through its own routing, which on some setups goes via
   * another interface or a gateway MAC; the IP/TCP 4-tuple identifies the flow.
   */
  match(frame: Buffer): InboundSegment | undefined {
    const e = this.endpoints;
    const eth = EthernetFrame.parse(frame);
    if (!eth.ok || eth.value.etherType !== this.etherType) return undefined;
    const ip = parseIpPacket(eth.value.etherType, eth.value.payload);
    if (!ip.ok || ip.value.protocol !== IpProtocol.TCP || ip.value.isFragment) return undefined;
    if (!ip.value.source.equals(e.remoteIp) || !ip.value.destination.equals(e.localIp)) return undefined;
    const tcp = TcpSegment.parse(ip.value.payload);
    if (!tcp.ok) return undefined;
    const segment = tcp.value;
    if (segment.sourcePort !== e.remotePort || segment.destinationPort !== e.localPort) return undefined;
    return {segment};
  }

  private nextIdentification(): number {
    this.identification = (this.identification + 1) & 0xffff;
    return this.identification;
  }
}
