/**
 * The IPv6 counterpart of ArpObserver: captured Neighbor Discovery frames and their time stamps go in, a
 * record of who said what about an IPv6 VIP comes out, in the same shape, so the same classifiers judge it.
 *
 * Every NS or NA that a receiving kernel would accept (RFC 4861 7.1: hop limit 255, code 0, checksum, no
 * solicited flag to a multicast address) is sorted into one of:
 * - a response to one of our solicitations: a solicited advertisement for the VIP addressed to our probe
 *   source (or our MAC), while probes are out. Its MAC is the target link-layer address option;
 * - a VIP claim: any other advertisement for the VIP (solicited to someone else: `reply`; unsolicited, e.g. an
 *   address move or a duplicate-detection defence to ff02::1: `gratuitous`), and any solicitation sent *from*
 *   the VIP (`request`): its source link-layer option writes the VIP's MAC into the cache of the host asked;
 * - a duplicate address detection probe for the VIP (NS from ::) by another host: it is configuring the VIP;
 * - a sighting of a real server: an advertisement for, or a solicitation from, a --rs address names its MAC.
 * Frames a kernel would discard are counted as malformed: capture input is hostile, and a host that discards
 * them learns nothing from them either.
 */
import type {Millis} from '../../core/time.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import {EthernetFrame, EtherType} from '../../core/wire/ethernet.js';
import {ndpValidationError, NeighborAdvertisement, parseNeighborMessage} from '../../core/wire/icmpv6.js';
import {IpProtocol} from '../../core/wire/ip.js';
import {Ipv6Packet} from '../../core/wire/ipv6.js';
import {NeighborObserver, type ObserverConfig} from './observer.js';

export interface NdpObserverConfig extends ObserverConfig {
  /** The source address of our solicitations: solicited answers come back to it. */
  readonly ownIp: IpAddress;
}

export class NdpObserver extends NeighborObserver {
  readonly protocol = 'NDP';

  constructor(override readonly config: NdpObserverConfig) {
    super(config);
  }

  observe(frame: Buffer, at: Millis): void {
    this.frames++;
    const ethernet = EthernetFrame.parse(frame);
    const ip = ethernet.ok && ethernet.value.etherType === EtherType.IPv6 ? Ipv6Packet.parse(ethernet.value.payload) : undefined;
    const message = ip?.ok && ip.value.protocol === IpProtocol.ICMPv6 ? parseNeighborMessage(ip.value.payload) : undefined;
    if (!ethernet.ok || !ip?.ok || !message?.ok || ndpValidationError(ip.value, message.value) !== undefined) {
      this.malformed++;
      return;
    }
    const eth = ethernet.value;
    const packet = ip.value;
    const ndp = message.value;
    const {vip, ownMac, rips, ownIp} = this.config;
    if (ndp instanceof NeighborAdvertisement) {
      const mac = ndp.targetLinkLayerAddress ?? eth.source;
      if (rips.some((r) => r.equals(ndp.target))) this.knowRealServer(ndp.target, mac);
      if (!ndp.target.equals(vip)) return;
      const toUs = packet.destination.equals(ownIp) || eth.destination.equals(ownMac);
      if (ndp.solicited && toUs && this.probeTimes.length > 0) {
        this.responses.push({at, round: this.roundAt(at), senderMac: mac, ethernetSource: eth.source});
        return;
      }
      this.claims.push({at, kind: ndp.solicited ? 'reply' : 'gratuitous', senderMac: mac, ethernetSource: eth.source, targetIp: packet.destination});
      return;
    }
    // A solicitation.
    const senderMac = ndp.sourceLinkLayerAddress ?? eth.source;
    if (rips.some((r) => r.equals(packet.source))) this.knowRealServer(packet.source, senderMac);
    if (packet.source.isUnspecified) {
      if (ndp.target.equals(vip) && !eth.source.equals(ownMac)) {
        this.foreignProbeFrom(eth.source);
      }
      return;
    }
    if (packet.source.equals(vip)) {
      this.claims.push({at, kind: 'request', senderMac, ethernetSource: eth.source, targetIp: ndp.target});
    }
  }
}
