/**
 * One TCP flow through the VIP path, the recipe every VIP-path check shares: the path (interface, source, port,
 * the real server's MAC), the frames' endpoints (our MAC to the real server's, our address to VIP:port), the
 * MSS this interface allows, and, for a conversation from a host without the VIP, the guard against this
 * host's kernel RSTs (lvs-dr.md).
 */
import {randomUint32} from '../../core/random.js';
import {TcpFlow} from '../../core/flow/tcp-flow.js';
import {Ipv4Packet} from '../../core/wire/ipv4.js';
import {Ipv6Packet} from '../../core/wire/ipv6.js';
import {TcpSegment} from '../../core/wire/tcp.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {guardAgainstKernelRsts} from './rst-guard.js';
import type {TargetOptions} from './target.js';
import {openVipPath, type VipPath} from './vip-path.js';

export interface VipFlow {
  readonly path: VipPath;
  readonly flow: TcpFlow;
  /** The MSS to offer: the interface MTU less the IP and TCP headers. */
  readonly mss: number;
}

export interface VipFlowOptions {
  /**
   * A conversation needs the kernel's RSTs suppressed where this host does not hold the VIP: they can reach the
   * real server and reset it mid-stream. A handshake probe does not care.
   */
  readonly conversation: boolean;
}

export async function openVipFlow(target: TargetOptions, context: RunContext, options: VipFlowOptions): Promise<VipFlow> {
  const path = await openVipPath(target, context);
  if (!path.vipIsLocal && !path.kernelRstsSuppressed) {
    if (options.conversation) {
      context.note(1, `${target.vip} is not local here: this host's kernel would answer the server's segments with RSTs to the VIP`);
      guardAgainstKernelRsts(target.vip, path.localPort, context);
    } else {
      context.note(
        1,
        `${target.vip} is not local here: this host's kernel answers the server's SYN-ACK with a RST addressed to the VIP ` +
          '(harmless for a handshake check; see docs/lvs-dr-notes.md)',
      );
    }
  }
  const flow = new TcpFlow(
    {
      localMac: path.link.mac,
      remoteMac: path.rsMac,
      localIp: path.source,
      remoteIp: target.vip,
      localPort: path.localPort,
      remotePort: target.port,
    },
    randomUint32() & 0xffff,
  );
  const ipHeader = target.vip.family === 4 ? Ipv4Packet.MIN_HEADER_LENGTH : Ipv6Packet.HEADER_LENGTH;
  return {path, flow, mss: path.mtu - ipHeader - TcpSegment.MIN_HEADER_LENGTH};
}
