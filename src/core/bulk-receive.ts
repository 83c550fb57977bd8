/**
 * What the TCP engine and a link's bulk receive offload tell each other (the offload: native/bulk_receive.c,
 * behind PacketSocketLink; the go-between: core/flow/drive.ts). Plain data, so that neither layer needs the other.
 *
 * The offload runs the plainest case of a TCP receiver where the frames are read, before any JavaScript: the next
 * in-order, full-sized segment of an armed flow is taken, acknowledged there, and its data handed over once per
 * read batch. Everything else reaches the engine as a frame, as without it.
 */

/** What the engine arms the offload with. Sequence numbers are 32-bit and wrap; the engine decides eligibility. */
export interface BulkReceiveFields {
  /** RCV.NXT: the only sequence number a taken segment may start at. */
  readonly rcvNxt: number;
  /** The right edge (a sequence number) the offload's ACKs advertise. */
  readonly edge: number;
  /** A segment ending beyond this (at or before `edge`) is left to the engine: the receive limit. */
  readonly acceptUntil: number;
  /** Our window scale shift. */
  readonly scale: number;
  /** The ACK field a taken segment must carry: SND.MAX, with none of our data in flight. */
  readonly peerAck: number;
  /** The window field it must carry: the send side's view then stays exactly as the engine has it. */
  readonly peerWindow: number;
  /** Shorter payloads are left to the engine (the end of a response, whose ACK may wait or ride on a FIN). */
  readonly minPayload: number;
  readonly timestamps: boolean;
  /** TS.Recent and Last.ACK.sent (RFC 7323 4.3), and our TSval now (later ACKs add the time since). */
  readonly tsRecent: number;
  readonly tsval: number;
  readonly lastAckSent: number;
}

/** What the offload took since the last hand-off, in order. */
export interface BulkHandoff {
  /** The payloads taken, in order (one per segment: small allocations reuse warm memory). */
  readonly chunks: readonly Buffer[];
  /** The sequence number of the first byte: the engine's RCV.NXT if nothing went wrong. */
  readonly firstSeq: number;
  /** The ACK number of the offload's last ACK (Last.ACK.sent), and TS.Recent after the data. */
  readonly lastAckSent: number;
  readonly tsRecent: number;
  /** Segments (frames) taken, and ACKs sent. */
  readonly frames: number;
  readonly acks: number;
}
