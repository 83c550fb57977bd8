/**
 * Helpers for scripting TCP exchanges in tests: build a server segment as real bytes and parse it back, so
 * the code under test always sees what it would see from the wire.
 */
import {IpAddress} from '../../src/core/wire/address.js';
import {TcpFlags, TcpSegment, buildTcp, type TcpOptions} from '../../src/core/wire/tcp.js';

export const CLIENT_IP = IpAddress.parse('198.51.100.2')!;
export const VIP = IpAddress.parse('198.51.100.100')!;

export interface SegmentSpec {
  from?: number;
  to?: number;
  seq?: number;
  ack?: number;
  flags: number;
  window?: number;
  options?: TcpOptions;
  payload?: Buffer;
}

export function serverSegment(spec: SegmentSpec, ports = {client: 40000, server: 80}): TcpSegment {
  const bytes = buildTcp(
    {
      sourcePort: spec.from ?? ports.server,
      destinationPort: spec.to ?? ports.client,
      sequenceNumber: spec.seq ?? 0,
      acknowledgmentNumber: spec.ack ?? 0,
      flags: spec.flags,
      window: spec.window ?? 65160,
      ...(spec.options ? {options: spec.options} : {}),
    },
    spec.payload ?? Buffer.alloc(0),
    VIP,
    CLIENT_IP,
  );
  const parsed = TcpSegment.parse(bytes);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

export const {SYN, ACK, RST, FIN, PSH, ECE} = TcpFlags;
