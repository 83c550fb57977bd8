/**
 * The receive half of a connection (gVisor's rcv.go): RCV.NXT, the window we advertise, in-order delivery to
 * the application's queue, out-of-order reassembly, the peer's FIN, when to acknowledge, and the cap on bytes
 * received.
 *
 * Sequence numbers are converted to stream offsets (data bytes since IRS + 1) at the entry, with wrap-safe
 * arithmetic relative to RCV.NXT; nothing further in needs to think about wrap-around.
 *
 * Window: free space in the application's queue (data delivered but not read yet). The right edge we advertise
 * never moves left (RFC 9293 3.8.6: do not shrink the window) and moves right only in steps of at least
 * min(buffer / 2, MSS) (receiver-side silly window syndrome avoidance, RFC 9293 3.8.6.2.2). Out-of-order data is
 * accepted only inside the advertised window, so all received data together stays within the buffer size.
 */
import type {Millis} from '../time.js';
import {seqAdd, seqGe, seqInRange, seqLe, seqSub} from '../wire/seq.js';
import {ByteQueue} from './byte-queue.js';
import {Reassembler, type StreamRange} from './reassembly.js';

export interface ReceiverConfig {
  /** Receive buffer: the most data held for the application, and so the largest window advertised. */
  readonly bufferSize: number;
  /** More in-order data than this ends the connection (a hostile or runaway server). */
  readonly maxReceiveBytes: number;
  /** Our MSS, for the window-update step size. */
  readonly mss: number;
  /** Delay for acknowledging a lone in-order segment; 0 acknowledges every segment at once. */
  readonly delayedAckMs: Millis;
  /** In-order segments acknowledged at once at the start of the connection (Linux's quick-ACK mode). */
  readonly quickAcks: number;
  /** Most out-of-order segments (pieces of them) held at once. */
  readonly maxOutOfOrderSegments: number;
}

/** What one segment's data did, for the connection's events and counters. */
export interface ReceiveOutcome {
  /** In-order bytes newly made readable. */
  readonly delivered: number;
  /** The peer's FIN was reached (in order) by this segment. */
  readonly finReached: boolean;
  readonly kind: 'in-order' | 'out-of-order' | 'duplicate' | 'beyond-window' | 'none';
  /** Delivery stopped at maxReceiveBytes: the connection must end. */
  readonly limitExceeded: boolean;
}

/** A segment's ACK fields as we would send them now. */
export interface AckFields {
  readonly ack: number;
  /** The 16-bit window field (already shifted by our window scale). */
  readonly window: number;
}

export class Receiver {
  private irs = 0;
  /** Data bytes delivered in order: the stream offset of the next byte we expect. */
  private delivered = 0;
  private finOffset: number | undefined;
  private finSeen = false;
  private readonly unread = new ByteQueue();
  private readonly outOfOrder: Reassembler;
  /** Stream offset of the window's right edge as last advertised. */
  private advertisedEdge = 0;
  private scale = 0;
  /** In-order bytes received since our last ACK. */
  private unackedBytes = 0;
  /** The largest segment the peer has sent: its idea of a full-sized segment (Linux's rcv_mss). */
  private peerSegmentSize = 0;
  private quickAcksLeft: number;
  /** When the delayed ACK falls due (Infinity: none pending). */
  ackDue: Millis = Infinity;
  /** Something requires an ACK now (out-of-order data, a duplicate, a FIN, a window update). */
  private ackImmediately = false;
  /**
   * Data that arrived again, to report once as the first SACK block of the next ACK (D-SACK, RFC 2883): bytes
   * below RCV.NXT, or out-of-order bytes already held. It tells the sender that its retransmission was
   * spurious (the original was reordered, or our ACK was late): Linux then undoes the window cut of that
   * recovery and widens its reordering window (RACK), where without it the cut stays. Stream offsets.
   */
  private duplicate: StreamRange | undefined;

  constructor(private readonly config: ReceiverConfig) {
    this.outOfOrder = new Reassembler(config.maxOutOfOrderSegments);
    this.quickAcksLeft = config.quickAcks;
    this.advertisedEdge = this.synWindow();
  }

  /** The window field for our SYN, which is never scaled (RFC 7323 2.2). */
  synWindow(): number {
    return Math.min(this.config.bufferSize, 0xffff);
  }

  /** Called with the SYN-ACK: the peer's ISN and the shift our window fields use from now on. */
  synchronize(irs: number, scale: number): void {
    this.irs = irs;
    this.scale = scale;
  }

  /** RCV.NXT: the next sequence number expected (after the FIN once it has arrived). */
  get nextSeq(): number {
    return seqAdd(this.irs, 1 + this.delivered + (this.finSeen ? 1 : 0));
  }

  get bytesReceived(): number {
    return this.delivered;
  }

  get finReceived(): boolean {
    return this.finSeen;
  }

  /** Bytes delivered in order but not read by the application yet. */
  get readableLength(): number {
    return this.unread.length;
  }

  get hasOutOfOrderData(): boolean {
    return !this.outOfOrder.isEmpty;
  }

  /** The window the peer currently believes in (RCV.WND of RFC 9293). */
  get advertisedWindow(): number {
    return Math.max(0, this.advertisedEdge - this.delivered);
  }

  /**
   * The acceptability test of RFC 9293 3.10.7.4 in Linux's form (tcp_sequence): the segment must not end before
   * RCV.NXT and must not start beyond the advertised right edge. It is slightly more lenient than the RFC's
   * table at the edges, on purpose: a zero-window probe starting exactly at RCV.NXT, or a segment that exactly
   * repeats the last one, is accepted so its ACK field is processed; its data is then dropped (no room, or
   * already held) and answered with an ACK like any other.
   */
  acceptable(seq: number, length: number): boolean {
    const next = this.nextSeq;
    return seqGe(seqAdd(seq, length), next) && seqLe(seq, seqAdd(next, this.advertisedWindow));
  }

  /** Whether `seq` lies in the advertised window (RST and SYN checks of RFC 5961). */
  inWindow(seq: number): boolean {
    return seqInRange(seq, this.nextSeq, seqAdd(this.nextSeq, Math.max(1, this.advertisedWindow)));
  }

  /** Takes the payload and FIN of an acceptable segment. */
  receive(now: Millis, seq: number, payload: Buffer, fin: boolean): ReceiveOutcome {
    if (this.finSeen) {
      // Everything up to the FIN is already here; this can only be a retransmission. Acknowledge it again.
      if (payload.length > 0 || fin) this.ackImmediately = true;
      this.noteDuplicate(seq, payload.length);
      return {delivered: 0, finReached: false, kind: payload.length > 0 || fin ? 'duplicate' : 'none', limitExceeded: false};
    }
    const start = this.offsetOf(seq);
    const end = start + payload.length;
    if (start < this.delivered && payload.length > 0) this.duplicate = {start: Math.max(0, start), end: Math.min(end, this.delivered)};
    // Nothing is accepted past a FIN already seen out of order (the peer cannot send beyond its own FIN).
    const edge = Math.min(Math.max(this.advertisedEdge, this.delivered), this.finOffset ?? Infinity);
    const lo = Math.max(start, this.delivered);
    const hi = Math.min(end, edge);
    let kind: ReceiveOutcome['kind'] = payload.length === 0 ? 'none' : 'duplicate';
    let delivered = 0;
    let limitExceeded = false;

    if (end > edge) {
      kind = 'beyond-window';
      this.ackImmediately = true; // tell the peer where our window really ends
    }
    // A FIN past the window is dropped with the data before it; it comes again.
    if (fin && end <= edge && this.finOffset === undefined) this.finOffset = end;

    if (hi > lo && lo === this.delivered) {
      kind = 'in-order';
      const pieces = [payload.subarray(lo - start, hi - start)];
      if (this.hasOutOfOrderData) {
        pieces.push(...this.outOfOrder.takeFrom(hi));
        this.ackImmediately = true; // a hole filled: acknowledge at once so the sender leaves recovery (RFC 5681 4.2)
      }
      for (const piece of pieces) {
        const take = Math.min(this.config.maxReceiveBytes - this.delivered, piece.length);
        if (take > 0) {
          // The payload is a view into a whole captured frame. Where it is most of that frame (a GRO-merged
          // capture of 64 KiB), keeping the view costs nothing and saves a copy of every byte of a bulk transfer
          // (the garbage that made the agent collect every few probes); a small piece is copied, so it does not
          // keep a large frame alive.
          const view = piece.subarray(0, take);
          if (view.length >= view.buffer.byteLength / 2) this.unread.push(view);
          else this.unread.pushCopy(view);
          this.delivered += take;
          delivered += take;
        }
        if (take < piece.length) {
          limitExceeded = true;
          break;
        }
      }
      this.countInOrderSegment(now, hi - lo);
    } else if (hi > lo) {
      // Refused (too many pieces) counts as out of order too: it is simply not stored, and comes again.
      kind = this.outOfOrder.insert(lo, payload.subarray(lo - start, hi - start)) === 'duplicate' ? 'duplicate' : 'out-of-order';
      if (kind === 'duplicate') this.duplicate = {start: lo, end: hi};
      this.ackImmediately = true; // duplicate ACK with SACK blocks: the sender's loss signal (RFC 5681 4.2)
    } else if (payload.length > 0) {
      this.ackImmediately = true; // an old duplicate: our ACK for it was probably lost
    }

    let finReached = false;
    if (!limitExceeded && this.finOffset !== undefined && this.delivered === this.finOffset) {
      this.finSeen = true;
      finReached = true;
      this.ackImmediately = true;
    }
    return {delivered, finReached, kind, limitExceeded};
  }

  /**
   * The window for the bulk receive offload (drive.ts): the right edge its ACKs may advertise, and where its
   * taking must stop (the edge, or the receive limit before it), as stream offsets. The edge is the one our next
   * ACK would advertise; it becomes the advertised one once the offload has sent an ACK (`takeAcknowledged`).
   */
  offloadWindow(): {edge: number; acceptUntil: number} {
    const edge = this.edgeToAdvertise();
    return {edge, acceptUntil: Math.min(edge, Math.max(this.delivered, this.config.maxReceiveBytes))};
  }

  /** Stream offset to sequence number. */
  seqAt(offset: number): number {
    return seqAdd(this.irs, 1 + offset);
  }

  /**
   * In-order data the offload took and acknowledged itself, up to `lastAckSent`, advertising `edge` (a stream
   * offset; undefined when it sent no ACK). Whatever it left unacknowledged is owed as after any in-order
   * segment: at once beyond one full segment, else at the delayed-ACK time.
   */
  takeAcknowledged(now: Millis, chunks: readonly Buffer[], lastAckSent: number, edge: number | undefined): {delivered: number; limitExceeded: boolean} {
    let delivered = 0;
    let limitExceeded = false;
    for (const chunk of chunks) {
      const take = Math.max(0, Math.min(chunk.length, this.config.maxReceiveBytes - this.delivered));
      if (take > 0) this.unread.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.delivered += take;
      delivered += take;
      if (take < chunk.length) limitExceeded = true;
    }
    if (edge !== undefined) this.advertisedEdge = Math.max(this.advertisedEdge, edge);
    this.unackedBytes = Math.max(0, seqSub(this.nextSeq, lastAckSent));
    if (this.unackedBytes === 0) this.ackDue = Infinity;
    else this.scheduleAck(now);
    return {delivered, limitExceeded};
  }

  /** Reads up to `max` bytes the application has not read yet; may schedule a window update. */
  read(max = Infinity): Buffer | undefined {
    const chunk = this.unread.shift(max);
    if (chunk && this.windowUpdateWorthwhile()) this.ackImmediately = true;
    return chunk;
  }

  /** Delayed ACK timer expiry. */
  onAckTimer(now: Millis): void {
    if (now >= this.ackDue) this.ackImmediately = true;
  }

  /** Whether an ACK must go out now (when no data segment carries it). */
  get wantsAck(): boolean {
    return this.ackImmediately;
  }

  /**
   * A segment that ended at or before RCV.NXT (refused as unacceptable, answered with an ACK): its data bytes
   * are reported as a D-SACK in that ACK.
   */
  noteDuplicate(seq: number, payloadLength: number): void {
    if (payloadLength === 0) return;
    const start = this.offsetOf(seq);
    const end = Math.min(start + payloadLength, this.delivered);
    if (Math.max(0, start) < end) this.duplicate = {start: Math.max(0, start), end};
  }

  /** Whether the next ACK has a D-SACK block to carry. */
  get hasDuplicateToReport(): boolean {
    return this.duplicate !== undefined;
  }

  /** The connection needs an ACK sent now: the handshake's third segment, a challenge ACK, an unacceptable segment. */
  requestAck(): void {
    this.ackImmediately = true;
  }

  /**
   * ACK number and window field for an outgoing segment; records the advertised edge and clears ACK debts.
   *
   * The scaled field is rounded down, so the edge the peer believes in never lies beyond the one we committed
   * to: rounding up (as Linux does) would let a peer sending odd-sized segments push the edge a little further
   * on every ACK, past the buffer, without end. Rounding down can move the peer's idea of the edge left by less
   * than one scale unit (RFC 7323 2.4), which only makes it send less.
   */
  ackFields(): AckFields {
    const edge = this.edgeToAdvertise();
    const window = Math.min(0xffff, Math.floor((edge - this.delivered) / 2 ** this.scale));
    this.advertisedEdge = edge;
    this.ackImmediately = false;
    this.ackDue = Infinity;
    this.unackedBytes = 0;
    this.duplicate = undefined;
    return {ack: this.nextSeq, window};
  }

  /**
   * SACK blocks (sequence numbers, right edge exclusive): a D-SACK first when there is one, then the out-of-order
   * data, most recent first. A duplicate of held data has just touched its range, so the range that holds it
   * comes second, as RFC 2883 4 asks.
   */
  sackBlocks(max: number): Array<[number, number]> {
    const ranges = this.outOfOrder.ranges();
    const blocks = this.duplicate ? [this.duplicate, ...ranges] : ranges;
    return blocks.slice(0, max).map(({start, end}) => [seqAdd(this.irs, 1 + start), seqAdd(this.irs, 1 + end)]);
  }

  /** The stream offset of sequence number `seq`, taken relative to RCV.NXT so that wrap-around cannot mislead. */
  private offsetOf(seq: number): number {
    return this.delivered + seqSub(seq, seqAdd(this.irs, 1 + this.delivered));
  }

  /**
   * RFC 9293 3.8.6.3 / RFC 1122: acknowledge at least every second full-sized segment, else within the ACK
   * delay. Counted in bytes, as Linux does (more than one full segment unacknowledged: ACK now), because a
   * segment captured after GRO can hold dozens of the sender's segments: counted as one, it would wait for the
   * delayed-ACK timer while the sender, out of window, waits for us. A full-sized segment is the smaller of our
   * MSS and the largest segment the peer has sent.
   * The first segments are acknowledged at once, as Linux does: a server that sends its headers and body in
   * two small writes without TCP_NODELAY holds the body (Nagle) until the headers are acknowledged, and a
   * delayed ACK there would add its whole delay to the measured response time.
   */
  private countInOrderSegment(now: Millis, bytes: number): void {
    this.unackedBytes += bytes;
    this.peerSegmentSize = Math.max(this.peerSegmentSize, bytes);
    if (this.quickAcksLeft > 0) {
      this.quickAcksLeft--;
      this.ackImmediately = true;
    } else {
      this.scheduleAck(now);
    }
  }

  /** Data is unacknowledged: more than one full-sized segment of it is ACKed now, less at the delayed-ACK time. */
  private scheduleAck(now: Millis): void {
    if (this.config.delayedAckMs <= 0 || this.unackedBytes > Math.min(this.config.mss, this.peerSegmentSize)) {
      this.ackImmediately = true;
    } else if (this.ackDue === Infinity) {
      this.ackDue = now + this.config.delayedAckMs;
    }
  }

  private edgeToAdvertise(): number {
    const free = Math.max(0, this.config.bufferSize - this.unread.length);
    const candidate = this.delivered + Math.min(free, 0xffff * 2 ** this.scale);
    const current = Math.max(this.advertisedEdge, this.delivered);
    return candidate - current >= this.swsStep() ? candidate : current;
  }

  /**
   * A window update is worth a segment when it at least doubles the window the peer knows (as Linux does), and
   * never after the peer's FIN: it sends no more data, so no window can matter to it. An HTTP check that reads
   * the end of a large body after the FIN would otherwise send one pure ACK per chunk it reads (three to five
   * at the end of a 1 MiB body, measured), each a send() that also runs the server's side on a veth.
   */
  private windowUpdateWorthwhile(): boolean {
    if (this.finSeen) return false;
    const known = this.advertisedWindow;
    const fresh = this.edgeToAdvertise() - this.delivered;
    return fresh - known >= this.swsStep() && fresh >= 2 * known;
  }

  private swsStep(): number {
    return Math.min(Math.floor(this.config.bufferSize / 2), this.config.mss);
  }
}
