/**
 * Where a VIP-path check gets its frames, its source port and the real server's MAC. The one-shot CLI opens a
 * packet socket per run, filtered to the one flow, reserves one port and resolves the MAC by ARP/NDP each time
 * (plugins/common/vip-path.ts). The agent hands out channels of one shared socket per interface, ports from a
 * block it holds for its lifetime and MACs from a shared neighbour cache. A check sees the same VipPath either
 * way, so it runs unchanged under both.
 */
import type {FrameLink} from '../core/link/link.js';
import type {TunnelEndpoint} from '../core/link/tunnel-link.js';
import type {ResolvedNeighbor} from '../core/neighbor/resolve.js';
import type {InterfaceInfo} from '../core/neighbor/interfaces.js';
import type {IpAddress} from '../core/wire/address.js';
import type {RunContext} from './plugin.js';

export interface FlowLinkRequest {
  readonly iface: InterfaceInfo;
  /** Our address for the flow (the VIP's family). */
  readonly source: IpAddress;
  readonly vip: IpAddress;
  readonly port: number;
  /** The family whose neighbour answers (ARP or NDP) the link must also carry: the real server's. */
  readonly neighborFamily: IpAddress['family'];
  /**
   * Tunnel mode: the link's send encapsulates each frame's IP packet to the real server (routed by the kernel,
   * core/link/tunnel-link.ts) and no neighbour answers are needed; receiving is unchanged.
   */
  readonly tunnel?: TunnelEndpoint;
  /**
   * The flow's protocol; default TCP. A UDP link also carries the ICMP / ICMPv6 destination unreachables that
   * quote the flow's datagrams.
   */
  readonly protocol?: 'tcp' | 'udp';
}

export interface FlowLink {
  /** Carries the flow's segments (or datagrams) from VIP:port to `localPort`, and neighbour answers; sends on the interface (or through the tunnel). */
  readonly link: FrameLink;
  readonly localPort: number;
}

export interface NeighborRequest {
  readonly target: IpAddress;
  readonly source: IpAddress;
  readonly deadline: number;
  readonly trace?: (text: string) => void;
}

export interface VipNetwork {
  /** A link and a source port for one flow; both are given back through the context's cleanups. */
  openFlowLink(request: FlowLinkRequest, context: RunContext): FlowLink;
  /** The MAC of an on-link neighbour, resolved on `link` (or from a cache: `requests` is then 0). */
  resolveNeighbor(link: FrameLink, request: NeighborRequest): Promise<ResolvedNeighbor>;
  /**
   * The base of this flow's TCP timestamps. The agent keeps one for its lifetime, so successive flows on one
   * 4-tuple carry increasing timestamps and a server's TIME_WAIT takes the new SYN (RFC 6191).
   */
  timestampBase(): number;
  /** This host's kernel RSTs to the VIP (lvs-dr.md) are already suppressed for every port the network hands out. */
  readonly suppressesKernelRsts: boolean;
  /**
   * Facts about this host (routes, interfaces, local addresses) that `compute` reads from the kernel. A one-shot
   * run reads them once; the agent keeps each for a few seconds instead of reading /proc and /sys per probe.
   */
  hostFacts<T>(key: string, compute: () => T): T;
}
