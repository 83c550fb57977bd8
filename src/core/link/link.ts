/**
 * The one small interface every frame channel implements: the packet socket on a real interface and the
 * in-memory channel used by deterministic tests. Frames are whole Ethernet frames (destination MAC first).
 *
 * Received buffers are owned by the handler: implementations copy out of any shared capture buffer before
 * delivering, so a handler may keep a frame across asynchronous work.
 */
import {EnvironmentError} from '../errors.js';
import type {MacAddress} from '../wire/address.js';
import type {ChecksumTrust, FrameIntegrity} from './frame-integrity.js';

import type {Millis} from '../time.js';
import type {BulkHandoff, BulkReceiveFields} from '../bulk-receive.js';

export type {Millis} from '../time.js';

/** `trust` says why the frame's checksums are believed (frame-integrity.ts); frames that fail never arrive. */
export type FrameHandler = (frame: Buffer, receivedAt: Millis, trust: ChecksumTrust) => void;

export interface FrameLink {
  /** Interface name (for messages), e.g. `eth0` or `mem0`. */
  readonly name: string;
  /** The MAC address frames sent on this link should carry as their Ethernet source. */
  readonly mac: MacAddress;
  /** Sends one whole Ethernet frame; throws LinkError when the frame cannot be handed to the interface. */
  send(frame: Uint8Array): void;
  /** Registers the receiver; frames the link itself sent are not delivered back. */
  onFrame(handler: FrameHandler): void;
  /** The checksum gate every received frame passes before the handler sees it, with its counts. */
  readonly integrity: FrameIntegrity;
  /** Stops delivery and releases the interface. Idempotent. */
  close(): void;
  /** The link's bulk receive offload (core/bulk-receive.ts), where it has one: the packet socket's. */
  readonly bulkReceive?: BulkReceiveOffload;
}

/** Bulk receive offload slots, one per flow. */
export interface BulkReceiveOffload {
  /** A slot for one flow; taken data goes to `onData`, in order with the flow's frames. */
  open(onData: (handoff: BulkHandoff) => void): BulkReceiveSlot;
  /** Segments taken and ACKs sent by the offload over the link's life, and flows it could not be armed for. */
  readonly counters: {readonly frames: number; readonly acks: number; readonly refused: number};
  /** Why it last refused to be armed for a flow (never expected: a bug to report). */
  readonly lastRefusal: string | undefined;
}

export interface BulkReceiveSlot {
  /**
   * Starts (or goes on) taking the flow's segments with these fields and this pure ACK frame to patch and send;
   * false when the link has no slot free (the flow then runs without the offload).
   */
  arm(ackFrame: Buffer, fields: BulkReceiveFields): boolean;
  /** Stops taking until armed again; data already taken is still handed off. */
  pause(): void;
  /** The flow is over: frees the slot. Idempotent. */
  release(): void;
}

/** The interface cannot be used (privileges, missing device, addon not built): UNKNOWN with the reason. */
export class LinkError extends EnvironmentError {
  override readonly name = 'LinkError';
}
