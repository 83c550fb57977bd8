/**
 * Resolves an on-link IPv4 address to a MAC by broadcasting ARP requests on our own link, retried within the
 * check's deadline. The kernel's neighbour cache is deliberately not used: a STALE entry for a real server whose
 * NIC changed would send the probe into the void and raise a false alarm, and one ARP round trip on a LAN costs
 * well under a millisecond.
 */
import type {FrameLink} from '../link/link.js';
import {IpAddress, MacAddress} from '../wire/address.js';
import {ArpOperation, ArpPacket, buildArp} from '../wire/arp.js';
import {EtherType, EthernetFrame, buildEthernet} from '../wire/ethernet.js';
import {NeighborTimeoutError, solicitNeighbor, type NeighborResolution, type NeighborResolveOptions} from './solicit.js';

export type ArpResolveOptions = NeighborResolveOptions;

export type ArpResolution = NeighborResolution;

export function buildArpRequest(senderMac: MacAddress, senderIp: IpAddress, targetIp: IpAddress): Buffer {
  const arp = buildArp({
    operation: ArpOperation.Request,
    senderMac,
    senderIp,
    targetMac: MacAddress.ZERO,
    targetIp,
  });
  return buildEthernet({destination: MacAddress.BROADCAST, source: senderMac, etherType: EtherType.ARP}, arp);
}

/**
 * Extracts "ip is-at mac" from an ARP frame if it is a reply (or a gratuitous announcement) from `target`.
 * Returns undefined for anything else; never throws on hostile bytes.
 */
export function arpAnswerFrom(frame: Buffer, target: IpAddress): MacAddress | undefined {
  const eth = EthernetFrame.parse(frame);
  if (!eth.ok || eth.value.etherType !== EtherType.ARP) return undefined;
  const arp = ArpPacket.parse(eth.value.payload);
  if (!arp.ok) return undefined;
  const p = arp.value;
  if (!p.senderIp.equals(target)) return undefined;
  if (p.senderMac.isZero || p.senderMac.isMulticast) return undefined;
  const isReply = p.operation === ArpOperation.Reply;
  const isAnnouncement = p.operation === ArpOperation.Request && p.targetIp.equals(target);
  return isReply || isAnnouncement ? p.senderMac : undefined;
}

export class ArpTimeoutError extends NeighborTimeoutError {
  override readonly name = 'ArpTimeoutError';

  constructor(message: string) {
    super(message, 'ARP');
  }
}

export function resolveArp(link: FrameLink, options: ArpResolveOptions): Promise<ArpResolution> {
  const {target, source} = options;
  return solicitNeighbor(link, options, {
    request: buildArpRequest(link.mac, source, target),
    describeRequest: (n) => `ARP who-has ${target} tell ${source} (request ${n})`,
    answerFrom: (frame) => {
      const mac = arpAnswerFrom(frame, target);
      return mac ? {mac, text: `ARP reply ${target} is-at ${mac}`} : undefined;
    },
    timeoutError: (requests) => new ArpTimeoutError(`no ARP reply from ${target} on ${link.name} after ${requests} requests`),
  });
}
