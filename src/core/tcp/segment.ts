/**
 * The contract between the sans-IO TCP machines here (the handshake probe, the full connection) and their
 * driver: time and the flow's segments in, TCP segments out (header fields and payload; TcpFlow adds IP and
 * Ethernet), and the time the machine next needs a poll. The machines never see a socket, a link or a clock.
 */
import type {Millis} from '../time.js';
import type {BulkHandoff, BulkReceiveFields} from '../bulk-receive.js';
import type {TcpRepr, TcpSegment} from '../wire/tcp.js';

export interface OutgoingSegment {
  readonly repr: TcpRepr;
  readonly payload: Buffer;
}

export interface SansIoTcp {
  /** Opens the connection (sends the SYN). Called once. */
  start(now: Millis): OutgoingSegment[];
  /** One inbound segment of the flow (the driver has matched addresses). */
  receive(now: Millis, segment: TcpSegment): OutgoingSegment[];
  /** Timers and anything the application queued since the last call. */
  poll(now: Millis): OutgoingSegment[];
  /** When poll() is needed next: a time at or before now means at once, Infinity means never. */
  pollAt(): Millis;
  /** Nothing more will be sent or accepted; the driver can stop. */
  readonly finished: boolean;
  /**
   * The data of a full-sized segment the peer may send (our MSS less the options every segment carries), when
   * the machine receives data: a pure ACK of a shorter segment may wait for the end of the event-loop turn
   * (drive.ts).
   */
  readonly receiveMss?: number;
  /**
   * What a bulk receive offload (core/bulk-receive.ts) may be armed with now, and the pure ACK it patches;
   * undefined when the machine's state does not allow it. Asked after every step by a driver whose link has one.
   */
  bulkReceiveArm?(): {readonly fields: BulkReceiveFields; readonly ack: OutgoingSegment} | undefined;
  /** In-order data the offload took and acknowledged, handed over (in order with the flow's segments). */
  receiveBulk?(now: Millis, handoff: BulkHandoff): OutgoingSegment[];
}

export const EMPTY_PAYLOAD: Buffer = Buffer.alloc(0);

/** The two ports of a flow as the client sees them. */
export interface FlowPorts {
  readonly localPort: number;
  readonly remotePort: number;
}

/** A segment of the flow `ports`: header fields other than the ports, and the payload (none by default). */
export function outgoing(ports: FlowPorts, fields: Omit<TcpRepr, 'sourcePort' | 'destinationPort'>, payload: Buffer = EMPTY_PAYLOAD): OutgoingSegment {
  return {repr: {sourcePort: ports.localPort, destinationPort: ports.remotePort, ...fields}, payload};
}
