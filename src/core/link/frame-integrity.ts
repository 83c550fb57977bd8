/**
 * Which received frames may be believed: the checksum gate every frame link applies before a frame reaches
 * any user (the SYN probe, the TCP engine, ARP/NDP resolution, the audits' observers).
 *
 * A capture shows many frames with checksums that are wrong on the wire only in appearance: frames that a
 * local kernel handed to veth (or to any device with transmit offload) carry a checksum that is still to be
 * finished. Accepting every bad checksum as "offload" would let anyone on the segment inject data into a check's
 * flow with a forged segment. The kernel knows which frames are which and says so per frame (tpacket_auxdata's
 * tp_status, read by the addon):
 * - TP_STATUS_CSUMNOTREADY: the checksum is to be completed later (CHECKSUM_PARTIAL: veth, locally sent);
 * - TP_STATUS_CSUM_VALID: the device verified it (CHECKSUM_UNNECESSARY).
 * Only those frames are accepted unverified. Every other frame has its IPv4 header, TCP, UDP, ICMP and ICMPv6
 * checksums verified here, and is dropped and counted when one is wrong, as the kernel's own stack would drop it.
 */
import {internetChecksum, verifyTransportChecksum} from '../wire/checksum.js';
import {EtherType, EthernetFrame} from '../wire/ethernet.js';
import {IpProtocol, parseIpPacket} from '../wire/ip.js';

/** tp_status bits from <linux/if_packet.h>. */
export const KernelFrameStatus = {
  /** Nothing known about the checksums: verify them. */
  None: 0,
  CsumNotReady: 1 << 3,
  CsumValid: 1 << 7,
} as const;

/** Why a delivered frame's checksums are believed: what the -vvv trace marks each frame with. */
export type ChecksumTrust = 'kernel-pending' | 'device-verified' | 'verified';

/** Why a frame was dropped. */
export type ChecksumFault =
  | 'bad IPv4 header checksum'
  | 'bad TCP checksum'
  | 'bad UDP checksum'
  | 'bad ICMP checksum'
  | 'bad ICMPv6 checksum';

export type DropListener = (frame: Buffer, fault: ChecksumFault) => void;

/**
 * The first wrong checksum in `frame`, or undefined when every checksum it carries is right or cannot be
 * judged. What cannot be judged passes, for its users to treat as they already do: a frame that does not parse
 * (they ignore it), a fragment (its transport checksum covers bytes that are not here), and ARP (no checksum).
 */
export function checksumFault(frame: Buffer): ChecksumFault | undefined {
  const ethernet = EthernetFrame.parse(frame);
  if (!ethernet.ok) return undefined;
  const {etherType, payload} = ethernet.value;
  if (etherType !== EtherType.IPv4 && etherType !== EtherType.IPv6) return undefined;
  if (etherType === EtherType.IPv4 && payload.length >= 20) {
    const headerLength = (payload[0]! & 0x0f) * 4;
    if (headerLength >= 20 && headerLength <= payload.length && internetChecksum(payload.subarray(0, headerLength)) !== 0) {
      return 'bad IPv4 header checksum';
    }
  }
  const parsed = parseIpPacket(etherType, payload);
  if (!parsed.ok || parsed.value.isFragment) return undefined;
  const ip = parsed.value;
  switch (ip.protocol) {
    case IpProtocol.TCP:
      return verifyTransportChecksum(ip.source, ip.destination, IpProtocol.TCP, ip.payload) ? undefined : 'bad TCP checksum';
    case IpProtocol.UDP:
      // Over IPv4 a zero checksum means "none" (RFC 768); over IPv6 it is always required (RFC 8200 8.1).
      if (ip.family === 4 && ip.payload.length >= 8 && ip.payload.readUInt16BE(6) === 0) return undefined;
      return verifyTransportChecksum(ip.source, ip.destination, IpProtocol.UDP, ip.payload) ? undefined : 'bad UDP checksum';
    case IpProtocol.ICMP:
      return ip.family === 4 && internetChecksum(ip.payload) !== 0 ? 'bad ICMP checksum' : undefined;
    case IpProtocol.ICMPv6:
      return verifyTransportChecksum(ip.source, ip.destination, IpProtocol.ICMPv6, ip.payload) ? undefined : 'bad ICMPv6 checksum';
    default:
      return undefined;
  }
}

/** The gate of one link, with its counts: what -vv reports at the end of a check. */
export class FrameIntegrity {
  readonly accepted: Record<ChecksumTrust, number> = {'kernel-pending': 0, 'device-verified': 0, verified: 0};
  readonly dropped = new Map<ChecksumFault, number>();
  private readonly listeners: DropListener[] = [];

  /** How the frame's checksums are believed, or undefined when it must be dropped (counted, listeners told). */
  admit(frame: Buffer, status: number): ChecksumTrust | undefined {
    // Each count by its own name, not accepted[trust]: a keyed access with three names is a megamorphic load
    // and store on every frame.
    if (status & KernelFrameStatus.CsumNotReady) {
      this.accepted['kernel-pending']++;
      return 'kernel-pending';
    }
    if (status & KernelFrameStatus.CsumValid) {
      this.accepted['device-verified']++;
      return 'device-verified';
    }
    const fault = checksumFault(frame);
    if (fault !== undefined) {
      this.dropped.set(fault, (this.dropped.get(fault) ?? 0) + 1);
      for (const listener of this.listeners) listener(frame, fault);
      return undefined;
    }
    this.accepted.verified++;
    return 'verified';
  }

  /** Tells `listener` of every frame dropped from now on (for the packet trace). */
  onDrop(listener: DropListener): void {
    this.listeners.push(listener);
  }

  get droppedTotal(): number {
    let total = 0;
    for (const count of this.dropped.values()) total += count;
    return total;
  }

  /** One line for -vv, e.g. `checksums on eth0: 812 left to the kernel, 0 verified by the device, 2 verified here; 37 frames dropped (bad TCP checksum 37)`. */
  describe(linkName: string): string {
    const {accepted} = this;
    const kept =
      `checksums on ${linkName}: ${accepted['kernel-pending']} left to the kernel (veth/local), ` +
      `${accepted['device-verified']} verified by the device, ${accepted.verified} verified here`;
    const total = this.droppedTotal;
    if (total === 0) return `${kept}; no frame dropped`;
    const reasons = [...this.dropped].map(([fault, count]) => `${fault} ${count}`).join(', ');
    return `${kept}; ${total} frame(s) dropped (${reasons})`;
  }
}
