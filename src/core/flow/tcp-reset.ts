/**
 * The RST a closed port answers with (RFC 9293 3.10.7.1), for the agent's port block: a segment to one of its
 * ports that no flow owns any more (a SYN-ACK arriving after its probe gave up, a late data segment) would
 * otherwise be dropped in silence, and the real server would keep its half-open connection and retransmit into
 * the shared socket for half a minute.
 */
import {buildEthernet} from '../wire/ethernet.js';
import {decodeFrame} from '../wire/frame.js';
import {buildIpPacket, ipEtherType, IpProtocol} from '../wire/ip.js';
import {seqAdd} from '../wire/seq.js';
import {buildTcp, TcpFlags} from '../wire/tcp.js';

/** The reset for the TCP segment in `frame`, back to its sender; undefined when it must not be answered (a RST). */
export function resetFrameFor(frame: Buffer): Buffer | undefined {
  const decoded = decodeFrame(frame);
  if (!decoded.ok) return undefined;
  const {ethernet, ip, tcp} = decoded.value;
  if (!ip || !tcp || tcp.has(TcpFlags.RST)) return undefined;
  // With an ACK, the reset takes its sequence number from it; without, it acknowledges what the segment used.
  const repr = tcp.has(TcpFlags.ACK)
    ? {sequenceNumber: tcp.acknowledgmentNumber, acknowledgmentNumber: 0, flags: TcpFlags.RST}
    : {sequenceNumber: 0, acknowledgmentNumber: seqAdd(tcp.sequenceNumber, tcp.sequenceLength), flags: TcpFlags.RST | TcpFlags.ACK};
  const segment = buildTcp({sourcePort: tcp.destinationPort, destinationPort: tcp.sourcePort, window: 0, ...repr}, Buffer.alloc(0), ip.destination, ip.source);
  const packet = buildIpPacket({family: ip.family, source: ip.destination, destination: ip.source, protocol: IpProtocol.TCP}, segment);
  return buildEthernet({destination: ethernet.source, source: ethernet.destination, etherType: ipEtherType(ip.family)}, packet);
}
