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
}

/** The interface cannot be used (privileges, missing device, addon not built): UNKNOWN with the reason. */
export class LinkError extends EnvironmentError {
  override readonly name = 'LinkError';
}
