/**
 * Resolves an on-link IPv6 address to a MAC with Neighbor Discovery (RFC 4861), the IPv6 counterpart of
 * arp-resolver.ts, for the same reasons: our own solicitations, retried within the check's deadline, never the
 * kernel's neighbour cache.
 *
 * The solicitation goes to the target's solicited-node multicast group (ff02::1:ffXX:XXXX, Ethernet
 * 33:33:ff:XX:XX:XX) with hop limit 255 and a Source Link-Layer Address option. The option is not optional:
 * Linux (ndisc_recv_ns) does not answer a multicast solicitation without it from a sender it has no neighbour
 * entry for yet, it stays silent (measured on 6.18; it does not resolve the sender first either).
 *
 * An advertisement is believed when it passes the checks a receiving kernel applies (RFC 4861 section 7.1.2,
 * see ndpValidationError): hop limit 255, code 0, no fragment header, a correct checksum (NDP is built by the
 * sender's kernel in software, unlike TCP whose checksum a capture on the sending host shows unfinished, so a
 * wrong one is a real fault), no solicited flag on a multicast destination. Its target must be ours. Solicited
 * or not: an unsolicited advertisement (to ff02::1, sent when an address moves) is accepted, as resolveArp
 * accepts a gratuitous ARP.
 *
 * The MAC comes from the Target Link-Layer Address option only. An advertisement without one is ignored,
 * solicited or not, rather than trusting its Ethernet source: RFC 4861 requires the option in answers to
 * multicast solicitations (section 7.2.4, all of ours are) and tells receivers to discard an advertisement
 * without it while resolution is pending (7.2.5); Linux does (ndisc_recv_na hands no address to neigh_update,
 * which refuses to complete an INCOMPLETE entry without one). The director's kernel, whose neighbour table
 * IPVS uses, would not resolve from such an advertisement either, so neither do we.
 *
 * Advertisements about the target that fail a check are reported through `trace` with the reason.
 */
import type {FrameLink} from '../link/link.js';
import type {IpAddress, MacAddress} from '../wire/address.js';
import {buildEthernet, EthernetFrame, EtherType} from '../wire/ethernet.js';
import {
  buildNeighborSolicitation,
  Icmpv6Type,
  multicastMac,
  NDP_HOP_LIMIT,
  ndpValidationError,
  NeighborAdvertisement,
  solicitedNodeMulticast,
} from '../wire/icmpv6.js';
import {IpProtocol} from '../wire/ip.js';
import {buildIpv6, Ipv6Packet} from '../wire/ipv6.js';
import {
  NeighborTimeoutError,
  solicitNeighbor,
  type NeighborAnswer,
  type NeighborResolution,
  type NeighborResolveOptions,
} from './solicit.js';

export type NdpResolveOptions = NeighborResolveOptions;

export type NdpResolution = NeighborResolution;

export class NdpTimeoutError extends NeighborTimeoutError {
  override readonly name = 'NdpTimeoutError';

  constructor(message: string) {
    super(message, 'NDP');
  }
}

/**
 * The whole Ethernet frame of a Neighbor Solicitation for `target` from `source` (our address on the link,
 * global or link-local), to the target's solicited-node group, with our MAC in the source link-layer option.
 */
export function buildNeighborSolicitationFrame(senderMac: MacAddress, source: IpAddress, target: IpAddress): Buffer {
  const group = solicitedNodeMulticast(target);
  const message = buildNeighborSolicitation({target, sourceLinkLayerAddress: senderMac}, source, group);
  const packet = buildIpv6(
    {source, destination: group, nextHeader: IpProtocol.ICMPv6, hopLimit: NDP_HOP_LIMIT},
    message,
  );
  return buildEthernet({destination: multicastMac(group), source: senderMac, etherType: EtherType.IPv6}, packet);
}

/**
 * What an Ethernet frame says about `target`: its MAC from a valid Neighbor Advertisement, the reason an
 * advertisement for it is not believed, or undefined for anything else (other targets, other traffic,
 * malformed frames). Never throws on hostile bytes.
 */
export function ndpAnswerFrom(frame: Buffer, target: IpAddress): NeighborAnswer | undefined {
  const ethernet = EthernetFrame.parse(frame);
  if (!ethernet.ok || ethernet.value.etherType !== EtherType.IPv6) return undefined;
  const ip = Ipv6Packet.parse(ethernet.value.payload);
  if (!ip.ok || ip.value.protocol !== IpProtocol.ICMPv6 || ip.value.payload[0] !== Icmpv6Type.NeighborAdvertisement) {
    return undefined;
  }
  const na = NeighborAdvertisement.parse(ip.value.payload);
  if (!na.ok || !na.value.target.equals(target)) return undefined;
  const advertisement = na.value;
  const from = `neighbor advertisement for ${target} from ${ip.value.source} (${ethernet.value.source})`;
  const invalid = ndpValidationError(ip.value, advertisement);
  if (invalid !== undefined) return {ignored: `ignored ${from}: ${invalid}`};
  const mac = advertisement.targetLinkLayerAddress;
  if (!mac) return {ignored: `ignored ${from}: no target link-layer address option`};
  if (mac.isMulticast || mac.isZero) return {ignored: `ignored ${from}: target link-layer address ${mac}`};
  return {mac, text: `NDP ${target} is-at ${mac} (Flags [${advertisement.flagsText()}], from ${ip.value.source})`};
}

export function resolveNdp(link: FrameLink, options: NdpResolveOptions): Promise<NdpResolution> {
  const {target, source} = options;
  return solicitNeighbor(link, options, {
    request: buildNeighborSolicitationFrame(link.mac, source, target),
    describeRequest: (n) => `NDP who-has ${target} tell ${source} (solicitation ${n})`,
    answerFrom: (frame) => ndpAnswerFrom(frame, target),
    timeoutError: (requests) =>
      new NdpTimeoutError(`no neighbor advertisement from ${target} on ${link.name} after ${requests} solicitations`),
  });
}
