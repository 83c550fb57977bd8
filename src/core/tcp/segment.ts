/**
 * What every sans-IO TCP machine here (the handshake probe, the full connection) hands to its driver: TCP header
 * fields and payload. The caller (TcpFlow) adds IP and Ethernet, so the machines never know the link.
 */
import type {TcpRepr} from '../wire/tcp.js';

export interface OutgoingSegment {
  readonly repr: TcpRepr;
  readonly payload: Buffer;
}

export const EMPTY_PAYLOAD: Buffer = Buffer.alloc(0);
