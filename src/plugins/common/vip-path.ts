/**
 * Everything a VIP-path check needs before its first segment: the egress interface and source address, a
 * reserved source port, a capture on the interface filtered to this flow (and ARP), and the real server's MAC.
 *
 * Tunnel mode (--forwarding tun, docs/tun.md) changes only how frames leave: the link's send encapsulates the
 * IP packet to the RIP and the kernel routes it (the real server may sit behind a router), so no MAC is
 * resolved. Replies come from the VIP un-encapsulated, on the interface of the route back from the real
 * server, which is taken to be the egress interface of the route to the RIP (--interface overrides).
 */
import {anyOf, neighborAnswers, tcpFromPeer, udpFromPeer, udpUnreachablesQuoting} from '../../core/link/bpf.js';
import type {FrameLink} from '../../core/link/link.js';
import {PacketSocketLink} from '../../core/link/packet-socket-link.js';
import {NeighborTimeoutError, resolveNeighbor} from '../../core/neighbor/resolve.js';
import {interfaceInfo, isLocalAddress, type InterfaceInfo} from '../../core/neighbor/interfaces.js';
import {chooseEgress, chooseSourceAddress} from '../../core/neighbor/route.js';
import {EnvironmentError, ServiceDownError} from '../../core/errors.js';
import {reservePort, type PortReservation} from '../../core/flow/port-reservation.js';
import {IpAddress, MacAddress} from '../../core/wire/address.js';
import {encapsulationLength} from '../../core/wire/tunnel.js';
import {EncapsulatingLink, openTunnelSender, type TunnelEndpoint} from '../../core/link/tunnel-link.js';
import {Ipv4Packet} from '../../core/wire/ipv4.js';
import {Ipv6Packet} from '../../core/wire/ipv6.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import type {VipNetwork} from '../../plugin-api/vip-network.js';
import {randomUint32} from '../../core/random.js';
import type {TargetOptions, TunnelOptions} from './target.js';
import {reportFrameIntegrity} from './trace.js';

export interface VipPath {
  readonly link: FrameLink;
  readonly interfaceName: string;
  readonly source: IpAddress;
  readonly localPort: number;
  readonly rsMac: MacAddress;
  /** How the MAC was obtained, for the output; `tunnel`: none is needed (rsMac is zero, the kernel routes). */
  readonly macOrigin: 'arp' | 'ndp' | 'static' | 'tunnel';
  readonly resolveMs: number | undefined;
  /** The largest inner IP packet: the interface MTU, less the outer header and encapsulation in tunnel mode. */
  readonly mtu: number;
  readonly tunnel: TunnelOptions | undefined;
  readonly vipIsLocal: boolean;
  /** For the flow's TCP timestamps (VipNetwork.timestampBase). */
  readonly timestampBase: number;
  /** This host's kernel RSTs to the VIP are already dropped for the flow's port (the agent's guard). */
  readonly kernelRstsSuppressed: boolean;
}

/** The real server did not answer ARP/NDP: it is down or unplugged, which is CRITICAL, not a plugin problem. */
export class NeighborUnreachableError extends ServiceDownError {
  override readonly name = 'NeighborUnreachableError';
}

/** Where the path leaves this host: read from the kernel's routes and interfaces (cached by the agent). */
function locateVipPath(target: TargetOptions, network: VipNetwork): {info: InterfaceInfo; source: IpAddress; vipIsLocal: boolean} {
  // The source must be of the VIP's family; the interface is chosen by the route to the real server.
  const egress = chooseEgress(target.rs, target.interfaceName, target.source?.family === target.vip.family ? target.source : undefined, target.tunnel !== undefined);
  // One InterfaceInfo per interface, shared by every target on it: it lists every address of the interface,
  // hundreds on a director with many VIPs, which a copy per target would multiply (~12 KB a target, measured).
  const info = network.hostFacts(`interface:${egress.interfaceName}`, () => interfaceInfo(egress.interfaceName));
  if (!info.ethernet) throw new EnvironmentError(`interface ${info.name} is not an Ethernet interface`);
  if (!info.up) throw new EnvironmentError(`interface ${info.name} is down`);
  const source =
    target.vip.family === egress.source.family
      ? egress.source
      : (target.source ?? chooseSourceAddress(info.addresses, target.vip));
  if (!source) throw new EnvironmentError(`interface ${info.name} has no IPv${target.vip.family} address (give --source)`);
  return {info, source, vipIsLocal: isLocalAddress(target.vip)};
}

/** `protocol` is the flow's: a UDP path's link carries the flow's datagrams and the unreachables quoting them. */
export async function openVipPath(target: TargetOptions, context: RunContext, protocol: 'tcp' | 'udp' = 'tcp'): Promise<VipPath> {
  const network = context.network ?? oneShotNetwork;
  const key = `${target.rs}|${target.vip}|${target.interfaceName ?? ''}|${target.source ?? ''}|${target.tunnel ? 'tun' : 'dr'}`;
  const {info, source, vipIsLocal} = network.hostFacts(key, () => locateVipPath(target, network));
  // The texts of every probe's notes are built only when they will be shown (the agent runs at verbosity 0).
  if (context.verbosity >= 2) context.note(2, `egress ${info.name} (${info.mac}), source ${source}, real server ${target.rs}, VIP ${target.vip}:${target.port}`);

  const tunnel: TunnelEndpoint | undefined = target.tunnel && {...target.tunnel, remote: target.rs};
  const {link, localPort} = network.openFlowLink(
    {iface: info, source, vip: target.vip, port: target.port, neighborFamily: target.rs.family, ...(tunnel ? {tunnel} : {}), ...(protocol === 'udp' ? {protocol} : {})},
    context,
  );
  if (target.tunnel) {
    const outerHeader = target.rs.family === 4 ? Ipv4Packet.MIN_HEADER_LENGTH : Ipv6Packet.HEADER_LENGTH;
    const mtu = info.mtu - outerHeader - encapsulationLength(target.tunnel.type);
    context.note(1, `tunnel mode: ${target.tunnel.type}${target.tunnel.port ? ` to port ${target.tunnel.port}` : ''} in IPv${target.rs.family} to ${target.rs}, routed by the kernel; inner MTU ${mtu}; replies captured on ${info.name}`);
    const tunnelFacts = {rsMac: MacAddress.ZERO, macOrigin: 'tunnel', resolveMs: undefined, mtu, tunnel: target.tunnel} as const;
    return {link, interfaceName: info.name, source, localPort, ...tunnelFacts, vipIsLocal, timestampBase: network.timestampBase(), kernelRstsSuppressed: network.suppressesKernelRsts};
  }

  let rsMac = target.mac;
  let resolvedBy: 'arp' | 'ndp' | 'static' = 'static';
  let resolveMs: number | undefined;
  if (!rsMac) {
    const neighborSource = chooseSourceAddress(info.addresses, target.rs);
    if (!neighborSource) {
      throw new EnvironmentError(`interface ${info.name} has no IPv${target.rs.family} address to resolve ${target.rs} from`);
    }
    try {
      const resolution = await network.resolveNeighbor(link, {
        target: target.rs,
        source: neighborSource,
        deadline: context.deadline,
        trace: (text) => context.note(3, text),
      });
      rsMac = resolution.mac;
      resolveMs = resolution.elapsedMs;
      resolvedBy = resolution.protocol === 'ARP' ? 'arp' : 'ndp';
      if (context.verbosity >= 1) context.note(
        1,
        resolution.requests === 0
          ? `${target.rs} is at ${rsMac} (${resolution.protocol}, from the neighbour cache)`
          : `resolved ${target.rs} to ${rsMac} by ${resolution.protocol} in ${resolution.elapsedMs.toFixed(2)} ms (${resolution.requests} request(s))`,
      );
    } catch (error) {
      if (error instanceof NeighborTimeoutError) {
        throw new NeighborUnreachableError(
          `real server ${target.rs} did not answer ${error.protocol} on ${info.name} within the deadline (is it down or on another segment?)`,
        );
      }
      throw error;
    }
  }
  return {
    link,
    interfaceName: info.name,
    source,
    localPort,
    rsMac,
    macOrigin: resolvedBy,
    resolveMs,
    mtu: info.mtu,
    tunnel: undefined,
    vipIsLocal,
    timestampBase: network.timestampBase(),
    kernelRstsSuppressed: network.suppressesKernelRsts,
  };
}

/**
 * A one-shot run's network: its own packet socket, filtered in the kernel to this one flow and the neighbour
 * answers, one reserved port, and a fresh ARP/NDP resolution.
 */
const oneShotNetwork: VipNetwork = {
  openFlowLink({iface, source, vip, port, neighborFamily, tunnel, protocol = 'tcp'}, context) {
    const reservation = reserveSourcePort(source, protocol);
    context.onCleanup(() => reservation.release());
    const flow =
      protocol === 'tcp'
        ? tcpFromPeer(vip, port, reservation.port)
        : anyOf(udpFromPeer(vip, port, reservation.port), udpUnreachablesQuoting(reservation.port));
    const filter = tunnel ? flow : anyOf(neighborAnswers(neighborFamily), flow);
    context.note(3, `capture filter: ${filter}`);
    const link = new PacketSocketLink({interfaceName: iface.name, mac: iface.mac, filter});
    context.onCleanup(() => {
      if (link.receiveError !== undefined) context.note(1, `receiving on ${iface.name} stopped: ${link.receiveError}`);
      link.close();
    });
    reportFrameIntegrity(link, context);
    if (!tunnel) return {link, localPort: reservation.port};
    const sender = openTunnelSender(tunnel, vip.family);
    context.onCleanup(() => {
      if (sender.lastError !== undefined) context.note(1, `sending through the ${tunnel.type} tunnel failed: ${sender.lastError}`);
      sender.close();
    });
    return {link: new EncapsulatingLink(link, sender, tunnel.remote), localPort: reservation.port};
  },
  resolveNeighbor: (link, request) => resolveNeighbor(link, request),
  timestampBase: () => randomUint32(),
  suppressesKernelRsts: false,
  hostFacts: (_key, compute) => compute(),
};

/**
 * A UDP port is held by a bound UDP socket, which also keeps this host's kernel from answering the server's
 * replies with ICMP port unreachable (port-reservation.ts).
 */
function reserveSourcePort(source: IpAddress, protocol: 'tcp' | 'udp'): PortReservation {
  try {
    return reservePort(source, protocol);
  } catch {
    // --source may name an address this host does not hold; then reserve the port on the wildcard address.
    return reservePort(source.family === 4 ? IpAddress.V4_ANY : IpAddress.V6_ANY, protocol);
  }
}

/** How the probe reached the real server, for the status line: its MAC, or the tunnel. */
export function describeHop(target: TargetOptions, path: VipPath): string {
  return `via ${target.rs} (${path.tunnel ? `${path.tunnel.type} tunnel` : path.rsMac})`;
}

/**
 * Why a real server may have said nothing, for a timeout's summary: in DR the VIP on its loopback; in tunnel mode
 * also the decapsulation and rp_filter, which arp-audit checks on the real server. `also` is one more question.
 */
export function silenceHint(path: Pick<VipPath, 'tunnel'>, also = ''): string {
  return path.tunnel
    ? `(is the VIP on the real server's loopback, its ${path.tunnel.type} decapsulation up, rp_filter relaxed${also}? vipcheck arp-audit --local --forwarding tun there says)`
    : `(is the VIP configured on the real server's loopback${also}?)`;
}

/** The facts of a VIP-path run that every check reports in --json. */
export function vipPathFacts(target: TargetOptions, path: VipPath, reason: string): Record<string, unknown> {
  return {
    vip: target.vip.toString(),
    rs: target.rs.toString(),
    port: target.port,
    mac: path.rsMac.toString(),
    macOrigin: path.macOrigin,
    interface: path.interfaceName,
    source: path.source.toString(),
    sourcePort: path.localPort,
    forwarding: path.tunnel ? 'tun' : 'dr',
    ...(path.tunnel ? {tunType: path.tunnel.type, ...(path.tunnel.port ? {tunPort: path.tunnel.port} : {})} : {}),
    role: reason,
  };
}
