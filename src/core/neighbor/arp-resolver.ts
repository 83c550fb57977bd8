/**
 * Resolves an on-link IPv4 address to a MAC by broadcasting ARP requests on our own link, retried within the
 * check's deadline. The kernel's neighbour cache is deliberately not used: a STALE entry for a real server whose
 * NIC changed would send the probe into the void and raise a false alarm, and one ARP round trip on a LAN costs
 * well under a millisecond.
 */
import type {FrameLink, Millis} from '../link/link.js';
import {IpAddress, MacAddress} from '../wire/address.js';
import {ArpOperation, ArpPacket, buildArp} from '../wire/arp.js';
import {EtherType, EthernetFrame, buildEthernet} from '../wire/ethernet.js';

export interface ArpResolveOptions {
  readonly target: IpAddress;
  /** Sender protocol address in our requests: the address we will talk from (never the VIP). */
  readonly source: IpAddress;
  /** Absolute deadline on performance.now()'s clock. */
  readonly deadline: Millis;
  /** First retry after this long, doubling up to `maxIntervalMs`. */
  readonly intervalMs?: number;
  readonly maxIntervalMs?: number;
  /** Called for every request sent and reply seen (packet trace at -vvv). */
  readonly trace?: (text: string) => void;
}

export interface ArpResolution {
  readonly mac: MacAddress;
  readonly requests: number;
  readonly elapsedMs: number;
}

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

export class ArpTimeoutError extends Error {
  override readonly name = 'ArpTimeoutError';
}

export function resolveArp(link: FrameLink, options: ArpResolveOptions): Promise<ArpResolution> {
  const started = performance.now();
  const request = buildArpRequest(link.mac, options.source, options.target);
  let interval = options.intervalMs ?? 100;
  const maxInterval = options.maxIntervalMs ?? 1000;
  let requests = 0;
  return new Promise<ArpResolution>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: () => void) => {
      if (timer) clearTimeout(timer);
      link.onFrame(() => {});
      outcome();
    };
    link.onFrame((frame) => {
      const mac = arpAnswerFrom(frame, options.target);
      if (!mac) return;
      options.trace?.(`ARP reply ${options.target} is-at ${mac}`);
      finish(() => resolve({mac, requests, elapsedMs: performance.now() - started}));
    });
    const sendNext = () => {
      const remaining = options.deadline - performance.now();
      if (remaining <= 0) {
        finish(() =>
          reject(new ArpTimeoutError(`no ARP reply from ${options.target} on ${link.name} after ${requests} requests`)),
        );
        return;
      }
      try {
        link.send(request);
      } catch (error) {
        finish(() => reject(error));
        return;
      }
      requests++;
      options.trace?.(`ARP who-has ${options.target} tell ${options.source} (request ${requests})`);
      timer = setTimeout(sendNext, Math.min(interval, remaining));
      interval = Math.min(interval * 2, maxInterval);
    };
    sendNext();
  });
}
