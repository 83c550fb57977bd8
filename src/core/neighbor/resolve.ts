/**
 * One entry point for "which MAC answers for this on-link address": ARP for IPv4, NDP for IPv6. Both reject
 * with a NeighborTimeoutError (ArpTimeoutError or NdpTimeoutError) when the target stays silent until the
 * deadline, and say in `protocol` which one they used.
 */
import type {FrameLink} from '../link/link.js';
import {resolveArp} from './arp-resolver.js';
import {resolveNdp} from './ndp-resolver.js';
import type {NeighborProtocolName, NeighborResolution, NeighborResolveOptions} from './solicit.js';

export {NeighborTimeoutError, type NeighborProtocolName, type NeighborResolution, type NeighborResolveOptions} from './solicit.js';

export interface ResolvedNeighbor extends NeighborResolution {
  readonly protocol: NeighborProtocolName;
}

/**
 * Resolves `options.target` on `link`. `options.source` must be of the target's family (an address of ours on
 * that link, e.g. chooseSourceAddress(info.addresses, target)); a mismatch is a programming error and rejects
 * with a TypeError.
 */
export async function resolveNeighbor(link: FrameLink, options: NeighborResolveOptions): Promise<ResolvedNeighbor> {
  const {target, source} = options;
  if (source.family !== target.family) {
    throw new TypeError(`cannot resolve IPv${target.family} address ${target} from IPv${source.family} address ${source}`);
  }
  if (target.family === 4) return {protocol: 'ARP', ...(await resolveArp(link, options))};
  return {protocol: 'NDP', ...(await resolveNdp(link, options))};
}
