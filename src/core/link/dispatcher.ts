/**
 * Many users of one frame link: the agent's probes share one packet socket per interface. Every frame is
 * looked at once, by a few byte reads (no parse objects), and handed to exactly the users it concerns:
 * - a TCP or UDP segment to the channel of its destination port: the agent gives each concurrent flow a port of
 *   its own, so the port alone names the flow; the flow itself still checks addresses and ports (TcpFlow.match);
 * - an ICMP or ICMPv6 destination unreachable quoting a UDP datagram to the UDP channel of the quoted source
 *   port (a closed port's answer to that flow); the flow checks the quote in full (UdpFlow.match);
 * - ARP, and NDP (ICMPv6 133-137 directly after the IPv6 header), to every neighbour channel;
 * - anything else, and non-first fragments, to nobody (counted).
 * A channel is a FrameLink of its own (smoltcp's socket set behind one Interface), so the SYN probe, the engine
 * and the neighbour resolvers run on it unchanged. The checksum gate of the underlying link applies to all.
 */
import {EtherType} from '../wire/ethernet.js';
import {Icmpv6Type} from '../wire/icmpv6.js';
import {IpProtocol} from '../wire/ip.js';
import type {FrameIntegrity} from './frame-integrity.js';
import {LinkError, type BulkReceiveOffload, type FrameHandler, type FrameLink} from './link.js';
import {ICMPV4_DESTINATION_UNREACHABLE, ICMPV6_DESTINATION_UNREACHABLE} from '../wire/icmp-unreachable.js';

export type FlowProtocol = 'tcp' | 'udp';

export interface DispatcherCounters {
  frames: number;
  toFlows: number;
  toNeighbors: number;
  /** Frames no channel wanted: another port, a closed flow's late segment, other protocols. */
  unclaimed: number;
  /** Handlers that threw; the frame still reached the other channels. */
  handlerErrors: number;
}

const ETHERNET_HEADER = 14;
const NDP_TYPES = new Set<number>([
  Icmpv6Type.RouterSolicitation,
  Icmpv6Type.RouterAdvertisement,
  Icmpv6Type.NeighborSolicitation,
  Icmpv6Type.NeighborAdvertisement,
  Icmpv6Type.Redirect,
]);

const flowKey = (protocol: FlowProtocol, port: number) => (protocol === 'tcp' ? IpProtocol.TCP : IpProtocol.UDP) * 65536 + port;

export class FrameDispatcher {
  readonly counters: DispatcherCounters = {frames: 0, toFlows: 0, toNeighbors: 0, unclaimed: 0, handlerErrors: 0};
  private readonly flows = new Map<number, DispatchedLink>();
  private readonly neighbors = new Set<DispatchedLink>();

  /** Told of every TCP segment to a port no flow owns (the agent answers them with RST). */
  onUnclaimedTcp: ((frame: Buffer, localPort: number) => void) | undefined;

  constructor(readonly link: FrameLink) {
    link.onFrame((frame, at, trust) => this.route(frame, at, trust));
  }

  /** A link that receives the segments of `protocol` to `localPort`. Throws if that port already has one. */
  openFlow(protocol: FlowProtocol, localPort: number): FrameLink {
    const key = flowKey(protocol, localPort);
    if (this.flows.has(key)) throw new LinkError(`${protocol} port ${localPort} on ${this.link.name} already has a flow`);
    const channel: DispatchedLink = new DispatchedLink(this.link, () => this.flows.delete(key));
    this.flows.set(key, channel);
    return channel;
  }

  /** A link that receives every ARP and NDP frame (the neighbour resolvers and the cache). */
  openNeighborChannel(): FrameLink {
    const channel: DispatchedLink = new DispatchedLink(this.link, () => this.neighbors.delete(channel));
    this.neighbors.add(channel);
    return channel;
  }

  get openFlows(): number {
    return this.flows.size;
  }

  private route(frame: Buffer, at: number, trust: Parameters<FrameHandler>[2]): void {
    this.counters.frames++;
    if (frame.length < ETHERNET_HEADER) {
      this.counters.unclaimed++;
      return;
    }
    const etherType = frame.readUInt16BE(12);
    if (etherType === EtherType.ARP) return this.toNeighbors(frame, at, trust);
    let protocol: number;
    let transport: number;
    const ipv4HeaderLength = (frame[ETHERNET_HEADER]! & 0x0f) * 4;
    if (etherType === EtherType.IPv4 && frame.length >= ETHERNET_HEADER + 20 && frame[ETHERNET_HEADER]! >> 4 === 4 && ipv4HeaderLength >= 20) {
      const fragmentOffset = frame.readUInt16BE(ETHERNET_HEADER + 6) & 0x1fff;
      protocol = frame[ETHERNET_HEADER + 9]!;
      transport = ETHERNET_HEADER + ipv4HeaderLength;
      if (fragmentOffset !== 0) protocol = -1; // only the first fragment carries the ports
    } else if (etherType === EtherType.IPv6 && frame.length >= ETHERNET_HEADER + 40) {
      protocol = frame[ETHERNET_HEADER + 6]!;
      transport = ETHERNET_HEADER + 40;
      if (protocol === IpProtocol.ICMPv6 && frame.length > transport && NDP_TYPES.has(frame[transport]!)) {
        return this.toNeighbors(frame, at, trust);
      }
    } else {
      this.counters.unclaimed++;
      return;
    }
    if (protocol === IpProtocol.ICMP || protocol === IpProtocol.ICMPv6) {
      const quotedPort = quotedUdpSourcePort(frame, transport, protocol);
      const channel = quotedPort === undefined ? undefined : this.flows.get(IpProtocol.UDP * 65536 + quotedPort);
      if (channel) {
        this.counters.toFlows++;
        this.deliver(channel, frame, at, trust);
        return;
      }
    } else if ((protocol === IpProtocol.TCP || protocol === IpProtocol.UDP) && frame.length >= transport + 4) {
      const localPort = frame.readUInt16BE(transport + 2);
      const channel = this.flows.get(protocol * 65536 + localPort);
      if (channel) {
        this.counters.toFlows++;
        this.deliver(channel, frame, at, trust);
        return;
      }
      if (protocol === IpProtocol.TCP) {
        try {
          this.onUnclaimedTcp?.(frame, localPort);
        } catch {
          this.counters.handlerErrors++;
        }
      }
    }
    this.counters.unclaimed++;
  }

  private toNeighbors(frame: Buffer, at: number, trust: Parameters<FrameHandler>[2]): void {
    if (this.neighbors.size === 0) {
      this.counters.unclaimed++;
      return;
    }
    this.counters.toNeighbors++;
    for (const channel of this.neighbors) this.deliver(channel, frame, at, trust);
  }

  private deliver(channel: DispatchedLink, frame: Buffer, at: number, trust: Parameters<FrameHandler>[2]): void {
    try {
      channel.receive(frame, at, trust);
    } catch {
      // One user's bug must not take the frame from the others or the socket from everyone.
      this.counters.handlerErrors++;
    }
  }
}

const ICMP_HEADER = 8;

/** The source port of the UDP datagram a destination unreachable at `transport` quotes, if it quotes one. */
function quotedUdpSourcePort(frame: Buffer, transport: number, protocol: number): number | undefined {
  const quote = transport + ICMP_HEADER;
  if (protocol === IpProtocol.ICMP) {
    if (frame.length < quote + 20 || frame[transport] !== ICMPV4_DESTINATION_UNREACHABLE || frame[quote + 9] !== IpProtocol.UDP) return undefined;
    const headerLength = (frame[quote]! & 0x0f) * 4;
    return headerLength >= 20 && frame.length >= quote + headerLength + 2 ? frame.readUInt16BE(quote + headerLength) : undefined;
  }
  if (frame.length < quote + 42 || frame[transport] !== ICMPV6_DESTINATION_UNREACHABLE || frame[quote + 6] !== IpProtocol.UDP) return undefined;
  return frame.readUInt16BE(quote + 40);
}

/** One user's view of the shared link: its own handler, the shared socket for sending. */
class DispatchedLink implements FrameLink {
  readonly name: string;
  readonly mac;
  readonly integrity: FrameIntegrity;
  /** The shared link's: its slots are per flow already. */
  readonly bulkReceive: BulkReceiveOffload | undefined;
  private handler: FrameHandler | undefined;
  private closed = false;

  constructor(
    private readonly shared: FrameLink,
    private readonly detach: () => void,
  ) {
    this.name = shared.name;
    this.mac = shared.mac;
    this.integrity = shared.integrity;
    this.bulkReceive = shared.bulkReceive;
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw new LinkError(`link ${this.name} is closed`);
    this.shared.send(frame);
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler;
  }

  receive(frame: Buffer, at: number, trust: Parameters<FrameHandler>[2]): void {
    if (!this.closed) this.handler?.(frame, at, trust);
  }

  /** Leaves the shared link open for the others. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.detach();
  }
}
