/**
 * BPF filter text built only from validated values (IpAddress objects and integer ports), never from raw
 * user strings, so nothing a user types can change the meaning of the filter.
 */
import type {IpAddress} from '../wire/address.js';

export type BpfExpression = string & {readonly __bpf: unique symbol};

function expr(text: string): BpfExpression {
  return text as BpfExpression;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
  return port;
}

export function arpFrames(): BpfExpression {
  return expr('arp');
}

/** TCP segments of one flow as seen from the local end: from remote ip:port to our port. */
export function tcpFromPeer(remote: IpAddress, remotePort: number, localPort: number): BpfExpression {
  const family = remote.family === 4 ? 'ip' : 'ip6';
  return expr(
    `(${family} and tcp and src host ${remote.toString()} and src port ${checkPort(remotePort)} and dst port ${checkPort(localPort)})`,
  );
}

/** ICMPv6 (for NDP), any. */
export function icmp6(): BpfExpression {
  return expr('(icmp6)');
}

export function anyOf(...parts: BpfExpression[]): BpfExpression {
  return expr(parts.map((p) => `(${p})`).join(' or '));
}
