/**
 * A sans-IO TCP client connection (RFC 9293, active open only), in smoltcp's style: the driver feeds in the
 * current time and the flow's inbound segments and sends whatever segments come out; `pollAt()` says when the
 * next timer falls due. The application writes, reads, shuts down or aborts through methods, then the driver
 * polls to let the result go out, and the application drains `takeEvents()`.
 *
 * Split by concern like gVisor's netstack: this file is the state machine and the segment-arrival procedure of
 * RFC 9293 3.10.7; `sender.ts` owns the send queue, windows, congestion control and retransmission timer;
 * `receiver.ts` owns RCV.NXT, reassembly, the advertised window and ACK timing; `rtt.ts` the RTO (RFC 6298).
 *
 * Negotiated in the handshake: MSS (ours offered, the peer's honoured when cutting our writes), window scale
 * and timestamps (RFC 7323; timestamps give exact RTT samples even across retransmissions), SACK-permitted
 * (RFC 2018: we send SACK blocks for out-of-order data; the peer's blocks are not used to pick what to resend).
 *
 * Everything is bounded by `deadline`: at that time the connection ends with a `timeout` error (and a RST if
 * it was synchronized) whatever its state, so no server can hold a check past its time budget.
 */
import type {Millis} from '../time.js';
import type {BulkHandoff, BulkReceiveFields} from '../bulk-receive.js';
import {TcpFlags, type TcpOptions, type TcpSegment} from '../wire/tcp.js';
import {seqAdd, seqGt, seqLe, seqLt, seqSub} from '../wire/seq.js';
import type {TcpErrorReason, TcpEvent, TcpState} from './events.js';
import {Receiver} from './receiver.js';
import {EMPTY_PAYLOAD, outgoing, type OutgoingSegment, type SansIoTcp} from './segment.js';
import {Sender, type DataSegment} from './sender.js';

export type {TcpErrorReason, TcpEvent, TcpState} from './events.js';

export interface TcpConnectionConfig {
  readonly localPort: number;
  readonly remotePort: number;
  /** Initial sequence number: random in production (RFC 6528), chosen in tests. */
  readonly isn: number;
  /** Our MSS: the egress MTU minus IP and TCP headers. Also caps the segments we send. */
  readonly mss: number;
  /** Absolute time at which the connection is given up (error `timeout`, RST if synchronized). */
  readonly deadline: Millis;
  /** RTO before the first RTT sample. Default 1000 (RFC 6298); a LAN check wants less. */
  readonly initialRtoMs?: Millis;
  /** Default 200 (Linux's TCP_RTO_MIN). */
  readonly minRtoMs?: Millis;
  /** Cap for the backed-off RTO and the persist interval. Default 60000. */
  readonly maxRtoMs?: Millis;
  /** Window scale shift offered; undefined offers none. Default 7 (what Linux offers). */
  readonly windowScale?: number | undefined;
  /** Offer SACK-permitted. Default true. */
  readonly sack?: boolean;
  /** Offer timestamps. Default true. */
  readonly timestamps?: boolean;
  /** Base of our timestamp clock (random per connection like Linux, so TSval leaks no uptime). Default 1. */
  readonly timestampBase?: number;
  /** Receive buffer: bytes delivered but not read, and thus the largest window. Default 256 KiB. */
  readonly receiveBufferSize?: number;
  /** Send buffer: bytes queued and not acknowledged. Default 256 KiB. */
  readonly sendBufferSize?: number;
  /** More in-order bytes than this from the peer is a `receive-limit` error and a RST. Default unlimited. */
  readonly maxReceiveBytes?: number;
  /** Delayed ACK for a lone in-order segment; 0 acknowledges every segment. Default 40 (Linux's minimum). */
  readonly delayedAckMs?: Millis;
  /** In-order segments acknowledged at once at the start, before ACKs are delayed (Linux: 16). Default 16. */
  readonly quickAcks?: number;
  /** TIME-WAIT length (never past the deadline). Default 1000: enough to re-ACK a lost last ACK on a LAN. */
  readonly timeWaitMs?: Millis;
  /** Peer MSS assumed when the SYN-ACK has none (RFC 9293: 536 for IPv4; 1220 suits IPv6). */
  readonly defaultPeerMss?: number;
  /** Most out-of-order segments (or pieces of them) held at once; bounds objects, the window bounds bytes. Default 1024. */
  readonly maxOutOfOrderSegments?: number;
}

/** What the handshake settled. */
export interface NegotiatedOptions {
  /** The peer's MSS option (or the default when it sent none). */
  readonly peerMss: number;
  /** Payload limit for our segments before options: min(peer MSS, ours). */
  readonly sendMss: number;
  /** Shifts for our and the peer's window fields; both 0 unless both sides sent the option. */
  readonly receiveWindowScale: number;
  readonly sendWindowScale: number;
  readonly sack: boolean;
  readonly timestamps: boolean;
}

export interface TcpCounters {
  readonly segmentsSent: number;
  readonly segmentsReceived: number;
  readonly dataSegmentsSent: number;
  readonly retransmittedSegments: number;
  readonly timeouts: number;
  readonly fastRetransmits: number;
  readonly windowProbes: number;
  readonly outOfOrderSegments: number;
  readonly duplicateSegments: number;
  /** Segments dropped by the acceptability, RST or ACK checks. */
  readonly rejectedSegments: number;
  /** In-order bytes received from the peer (the cap applies to this). */
  readonly bytesReceived: number;
}

type ResolvedConfig = Required<Omit<TcpConnectionConfig, 'windowScale'>> & {readonly windowScale: number | undefined};

const DEFAULTS: Omit<ResolvedConfig, 'localPort' | 'remotePort' | 'isn' | 'mss' | 'deadline'> = {
  initialRtoMs: 1000,
  minRtoMs: 200,
  maxRtoMs: 60_000,
  windowScale: 7,
  sack: true,
  timestamps: true,
  timestampBase: 1,
  receiveBufferSize: 256 * 1024,
  sendBufferSize: 256 * 1024,
  maxReceiveBytes: Infinity,
  delayedAckMs: 40,
  quickAcks: 16,
  timeWaitMs: 1000,
  defaultPeerMss: 536,
  maxOutOfOrderSegments: 1024,
};

/**
 * The config with its defaults, as one object literal: every connection's config then has the same shape, so
 * the many `this.config.x` loads stay monomorphic. (A spread or a keyed loop over the given keys made shapes,
 * or a dictionary, that depended on which options a caller set: megamorphic loads on every segment, and
 * entries/filter/fromEntries cost ~10 µs per connection.) An explicit `windowScale: undefined` means "offer
 * none"; every other undefined field takes its default.
 */
function resolveConfig(c: TcpConnectionConfig): ResolvedConfig {
  return {
    localPort: c.localPort,
    remotePort: c.remotePort,
    isn: c.isn,
    mss: c.mss,
    deadline: c.deadline,
    initialRtoMs: c.initialRtoMs ?? DEFAULTS.initialRtoMs,
    minRtoMs: c.minRtoMs ?? DEFAULTS.minRtoMs,
    maxRtoMs: c.maxRtoMs ?? DEFAULTS.maxRtoMs,
    windowScale: 'windowScale' in c ? c.windowScale : DEFAULTS.windowScale,
    sack: c.sack ?? DEFAULTS.sack,
    timestamps: c.timestamps ?? DEFAULTS.timestamps,
    timestampBase: c.timestampBase ?? DEFAULTS.timestampBase,
    receiveBufferSize: c.receiveBufferSize ?? DEFAULTS.receiveBufferSize,
    sendBufferSize: c.sendBufferSize ?? DEFAULTS.sendBufferSize,
    maxReceiveBytes: c.maxReceiveBytes ?? DEFAULTS.maxReceiveBytes,
    delayedAckMs: c.delayedAckMs ?? DEFAULTS.delayedAckMs,
    quickAcks: c.quickAcks ?? DEFAULTS.quickAcks,
    timeWaitMs: c.timeWaitMs ?? DEFAULTS.timeWaitMs,
    defaultPeerMss: c.defaultPeerMss ?? DEFAULTS.defaultPeerMss,
    maxOutOfOrderSegments: c.maxOutOfOrderSegments ?? DEFAULTS.maxOutOfOrderSegments,
  };
}

/** Most notes kept: a hostile peer must not grow them without bound. */
const MAX_NOTES = 32;

/** Bytes of the timestamp option as emitted (NOP NOP or SACK-permitted, then 10 bytes). */
const TIMESTAMP_OPTION_BYTES = 12;
/** RFC 7323 2.3: a shift above 14 is treated as 14. */
const MAX_WINDOW_SCALE = 14;
/** Below this a peer's MSS is hostile or broken; Linux clamps at 48 for the same reason. */
const MIN_SEND_MSS = 64;

const {FIN, SYN, RST, PSH, ACK} = TcpFlags;

/** States in which the peer's sequence numbers are known (RFC 9293 "synchronized states"). */
const SYNCHRONIZED: ReadonlySet<TcpState> = new Set<TcpState>([
  'established',
  'fin-wait-1',
  'fin-wait-2',
  'close-wait',
  'closing',
  'last-ack',
  'time-wait',
]);

/** States in which the application may still write. */
const WRITABLE: ReadonlySet<TcpState> = new Set<TcpState>(['syn-sent', 'established', 'close-wait']);

/** States in which the peer has sent its FIN and we have sent ours: a RST there ends nothing the app needs. */
const BOTH_CLOSED: ReadonlySet<TcpState> = new Set<TcpState>(['closing', 'last-ack', 'time-wait']);

export class TcpConnection implements SansIoTcp {
  private current: TcpState = 'closed';
  private started = false;
  private readonly config: ResolvedConfig;
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private events: TcpEvent[] = [];
  private output: OutgoingSegment[] = [];
  /** The latest time given to any entry point. */
  private now: Millis = 0;
  private startedAt: Millis = 0;
  private negotiatedOptions: NegotiatedOptions | undefined;
  private sendMss = 536;
  /** TS.Recent and Last.ACK.sent of RFC 7323 4.3. */
  private tsRecent = 0;
  private lastAckSent = 0;
  private synSentAt: Millis = 0;
  private synRetransmitted = false;
  private abortRequested = false;
  private timeWaitUntil: Millis = Infinity;
  private writeBlocked = false;
  private closedEventSent = false;
  private failure: TcpErrorReason | undefined;
  private received = {segments: 0, outOfOrder: 0, duplicate: 0, rejected: 0};
  private sentSegments = 0;
  /** The window field of the last acceptable segment: the bulk receive offload requires it unchanged. */
  private peerWindowField = 0;
  /**
   * A full-sized in-order segment has arrived: a bulk transfer, worth the offload. Before one, it is armed only
   * while our request is answered by nothing yet (bulkReceiveArm).
   */
  private bulkSeen = false;
  /** The edge (stream offset) the offload was last armed to advertise. */
  private bulkEdge = 0;
  /** Anomalies worth a verbose line (ignored RSTs, challenge ACKs, odd options, ...). */
  readonly notes: string[] = [];

  constructor(config: TcpConnectionConfig) {
    this.config = resolveConfig(config);
    this.sender = new Sender({
      bufferSize: this.config.sendBufferSize,
      initialRtoMs: this.config.initialRtoMs,
      minRtoMs: this.config.minRtoMs,
      maxRtoMs: this.config.maxRtoMs,
      initialWindowSegments: 10,
    });
    this.receiver = new Receiver({
      bufferSize: this.config.receiveBufferSize,
      maxReceiveBytes: this.config.maxReceiveBytes,
      mss: this.config.mss,
      delayedAckMs: this.config.delayedAckMs,
      quickAcks: this.config.quickAcks,
      maxOutOfOrderSegments: this.config.maxOutOfOrderSegments,
    });
  }

  // ---- Application side ------------------------------------------------------------------------------------

  get state(): TcpState {
    return this.current;
  }

  /** Why the connection failed, once it has. */
  get error(): TcpErrorReason | undefined {
    return this.failure;
  }

  /** Set once the SYN-ACK has been processed. */
  get negotiated(): NegotiatedOptions | undefined {
    return this.negotiatedOptions;
  }

  /** Smoothed RTT (undefined before a valid sample) and the current RTO, for perfdata and traces. */
  get srttMs(): Millis | undefined {
    return this.sender.rtt.srttMs;
  }

  get rtoMs(): Millis {
    return this.sender.rtt.rtoMs;
  }

  /** Bytes received in order and not read yet. */
  get readableLength(): number {
    return this.receiver.readableLength;
  }

  /** The peer's FIN has arrived: once readableLength is 0, the inbound stream has ended. */
  get remoteFinished(): boolean {
    return this.receiver.finReceived;
  }

  /** Room in the send buffer: how much write() accepts now. */
  get writableSpace(): number {
    return this.canWrite ? this.sender.freeSpace : 0;
  }

  /** Bytes written and not acknowledged by the peer yet. */
  get unacknowledgedBytes(): number {
    return this.sender.bufferedBytes;
  }

  /** write() is allowed: not shut down, not aborted, not closed (before start() it is). */
  get canWrite(): boolean {
    if (this.sender.shutdownQueued || this.abortRequested) return false;
    return this.started ? WRITABLE.has(this.current) : true;
  }

  get counters(): TcpCounters {
    const s = this.sender.counters;
    return {
      segmentsSent: this.sentSegments,
      segmentsReceived: this.received.segments,
      dataSegmentsSent: s.dataSegments,
      retransmittedSegments: s.retransmittedSegments,
      timeouts: s.timeouts,
      fastRetransmits: s.fastRetransmits,
      windowProbes: s.windowProbes,
      outOfOrderSegments: this.received.outOfOrder,
      duplicateSegments: this.received.duplicate,
      rejectedSegments: this.received.rejected,
      bytesReceived: this.receiver.bytesReceived,
    };
  }

  /**
   * Queues bytes to send (copied); returns how many were taken, fewer than offered when the send buffer is
   * full (a `writable` event follows when room returns). Data written before the handshake completes leaves
   * with the handshake's ACK. Throws after shutdown(), abort() or once the connection is closed.
   */
  write(data: Uint8Array): number {
    if (!this.canWrite) throw new Error(`cannot write: the connection is ${this.sender.shutdownQueued ? 'shut down' : this.current}`);
    const taken = this.sender.write(data);
    if (taken < data.length) this.writeBlocked = true;
    return taken;
  }

  /**
   * Takes up to `max` received bytes, in order (one stored chunk or part of it); undefined when none are
   * waiting. Reading opens the receive window again, which may queue a window update for the next poll.
   */
  read(max = Infinity): Buffer | undefined {
    return this.receiver.read(max);
  }

  /** Half-close: a FIN follows the queued data (RFC 9293 CLOSE). Idempotent. */
  shutdown(): void {
    if (this.sender.shutdownQueued || this.abortRequested) return;
    switch (this.current) {
      case 'closed':
        if (this.started) return;
        this.sender.shutdown(); // before start: the FIN follows the handshake
        return;
      case 'syn-sent':
        this.sender.shutdown(); // FIN-WAIT-1 once established
        return;
      case 'established':
        this.sender.shutdown();
        this.current = 'fin-wait-1';
        return;
      case 'close-wait':
        this.sender.shutdown();
        this.current = 'last-ack';
        return;
      default:
        return;
    }
  }

  /** Abort (RFC 9293 ABORT): a RST goes out at the next poll if the connection is synchronized; `closed` follows. */
  abort(): void {
    if (this.current === 'closed' && this.started) return;
    this.abortRequested = true;
  }

  /** The events since the last call, oldest first. */
  takeEvents(): TcpEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  // ---- Driver side (SansIoTcp) -----------------------------------------------------------------------------

  /** The data of a full-sized segment the peer sends us: our MSS less the timestamp option when in use. */
  get receiveMss(): number {
    return this.config.mss - (this.negotiatedOptions?.timestamps ? TIMESTAMP_OPTION_BYTES : 0);
  }

  get finished(): boolean {
    return this.started && this.current === 'closed';
  }

  start(now: Millis): OutgoingSegment[] {
    if (this.started) throw new Error('TcpConnection.start called twice');
    this.started = true;
    this.now = now;
    this.startedAt = now;
    if (this.abortRequested) {
      this.abortRequested = false;
      this.enterClosed();
      return [];
    }
    this.current = 'syn-sent';
    this.sender.begin(now, this.config.isn);
    this.synSentAt = now;
    this.sendSyn();
    return this.takeOutput();
  }

  pollAt(): Millis {
    if (!this.started || this.current === 'closed') return Infinity;
    if (this.hasImmediateWork()) return this.now;
    let at: Millis = this.config.deadline;
    if (this.current === 'time-wait') return Math.min(at, this.timeWaitUntil, this.receiver.ackDue);
    at = Math.min(at, this.sender.rtoAt);
    if (this.current !== 'syn-sent') at = Math.min(at, this.sender.persistAt, this.receiver.ackDue);
    return at;
  }

  poll(now: Millis): OutgoingSegment[] {
    this.advanceClock(now);
    if (!this.started || this.current === 'closed') return [];
    if (this.abortRequested) return this.performAbort();
    if (now >= this.config.deadline) return this.onDeadline();
    if (this.current === 'time-wait' && now >= this.timeWaitUntil) {
      this.enterClosed();
      return [];
    }
    if (this.current === 'syn-sent') {
      if (now >= this.sender.rtoAt) {
        this.sender.onSynTimeout(now);
        this.synRetransmitted = true;
        this.sendSyn();
      }
      return this.takeOutput();
    }
    if (this.current !== 'time-wait') {
      if (now >= this.sender.rtoAt) this.sender.onRetransmitTimeout();
      if (now >= this.sender.persistAt) this.emit(this.sender.onPersistTimeout(now), ACK, EMPTY_PAYLOAD);
    }
    this.receiver.onAckTimer(now);
    this.flush();
    return this.takeOutput();
  }

  receive(now: Millis, segment: TcpSegment): OutgoingSegment[] {
    this.advanceClock(now);
    if (segment.sourcePort !== this.config.remotePort || segment.destinationPort !== this.config.localPort) return [];
    if (!this.started || this.current === 'closed') return [];
    if (this.abortRequested) return this.performAbort();
    if (now >= this.config.deadline) return this.onDeadline(); // nothing is answered past the deadline
    this.received.segments++;
    if (this.current === 'syn-sent') this.receiveInSynSent(segment);
    else this.receiveSynchronized(segment);
    if (SYNCHRONIZED.has(this.current)) this.flush();
    return this.takeOutput();
  }

  /**
   * The bulk receive offload may take the peer's next segments while this holds: ESTABLISHED with a bulk transfer
   * under way, nothing of ours queued or in flight (so a taken segment's ACK field changes nothing), no
   * out-of-order data or D-SACK to report (those ACKs carry SACK blocks), and no ACK owed now. Any segment that
   * does not fit reaches receive() as before, and the state is asked again after it.
   *
   * It is armed once a bulk transfer is under way, and also while our request (data we sent, all acknowledged)
   * has no answer yet: the answer's first frames are then acknowledged as they are read, instead of after
   * JavaScript has parsed them. In a 1 MiB transfer that first ACK waited 240-440 µs and held the server's slow
   * start back by as much (docs/benchmarks.md). A short answer does not qualify and pauses the flow; a check that
   * sends nothing (a TCP connect) never arms.
   */
  bulkReceiveArm(): {fields: BulkReceiveFields; ack: OutgoingSegment} | undefined {
    const negotiated = this.negotiatedOptions;
    if (this.current !== 'established' || this.abortRequested || !negotiated || this.now >= this.config.deadline) return undefined;
    const sender = this.sender;
    if (!this.bulkSeen && (this.receiver.bytesReceived > 0 || sender.sndMax === seqAdd(this.config.isn, 1))) return undefined;
    if (sender.bufferedBytes > 0 || sender.shutdownQueued || sender.retransmitDue || sender.sndUna !== sender.sndMax) return undefined;
    const receiver = this.receiver;
    if (receiver.hasOutOfOrderData || receiver.hasDuplicateToReport || receiver.finReceived || receiver.wantsAck) return undefined;
    const {edge, acceptUntil} = receiver.offloadWindow();
    this.bulkEdge = edge;
    const tsval = this.tsValue();
    const fields: BulkReceiveFields = {
      rcvNxt: receiver.nextSeq,
      edge: receiver.seqAt(edge),
      acceptUntil: receiver.seqAt(acceptUntil),
      scale: negotiated.receiveWindowScale,
      peerAck: sender.sndMax,
      peerWindow: this.peerWindowField,
      minPayload: this.receiveMss,
      timestamps: negotiated.timestamps,
      tsRecent: this.tsRecent,
      tsval,
      lastAckSent: this.lastAckSent,
    };
    // The offload patches the ACK number, window and timestamps; the rest of this segment stays as built.
    const options: TcpOptions = negotiated.timestamps ? {timestamp: {value: tsval, echo: this.tsRecent}} : {};
    const ack = outgoing(this.config, {sequenceNumber: sender.sndMax, acknowledgmentNumber: fields.rcvNxt, flags: ACK, window: 0, options});
    return {fields, ack};
  }

  /** In-order data the offload took and acknowledged (see bulkReceiveArm), handed over in order. */
  receiveBulk(now: Millis, handoff: BulkHandoff): OutgoingSegment[] {
    this.advanceClock(now);
    if (this.current !== 'established' || this.abortRequested) return this.poll(now);
    if (handoff.firstSeq !== this.receiver.nextSeq) {
      // Never expected: the offload only takes RCV.NXT as armed, and hands off before any other frame.
      throw new Error(`bulk receive handed over data at ${handoff.firstSeq} while RCV.NXT is ${this.receiver.nextSeq} (bug)`);
    }
    // The offload takes full-sized segments only: this is a bulk transfer (when it was armed for an answer).
    this.bulkSeen = true;
    this.received.segments += handoff.frames;
    this.sentSegments += handoff.acks;
    this.tsRecent = handoff.tsRecent;
    this.lastAckSent = handoff.lastAckSent;
    const outcome = this.receiver.takeAcknowledged(this.now, handoff.chunks, handoff.lastAckSent, handoff.acks > 0 ? this.bulkEdge : undefined);
    if (outcome.delivered > 0) this.events.push({type: 'data', bytes: outcome.delivered});
    if (outcome.limitExceeded) {
      this.fail('receive-limit', `the peer sent more than ${this.config.maxReceiveBytes} bytes`, true);
      return this.takeOutput();
    }
    if (now >= this.config.deadline) return this.onDeadline();
    this.flush();
    return this.takeOutput();
  }

  // ---- Segment arrival (RFC 9293 3.10.7) -------------------------------------------------------------------

  private receiveInSynSent(segment: TcpSegment): void {
    const iss = this.config.isn;
    const hasAck = segment.has(ACK);
    const ack = segment.acknowledgmentNumber;
    // First: an ACK of anything but our SYN is from an old connection; reset it (unless it is a RST).
    if (hasAck && (seqLe(ack, iss) || seqGt(ack, this.sender.sndMax))) {
      this.reject(`unacceptable ACK ${ack} in SYN-SENT (expected ${seqAdd(iss, 1)})`);
      if (!segment.has(RST)) this.output.push(this.resetSegment(ack, undefined));
      return;
    }
    if (segment.has(RST)) {
      if (!hasAck) {
        this.reject('ignored a RST without an ACK in SYN-SENT');
        return;
      }
      this.fail('refused', 'connection refused: the peer answered the SYN with RST', false);
      return;
    }
    if (!segment.has(SYN)) {
      this.reject(`ignored a ${segment.flagsText()} segment in SYN-SENT`);
      return;
    }
    if (!hasAck) {
      // Simultaneous open (a bare SYN from VIP:port to our ephemeral port) is not a thing a server does.
      this.reject('ignored a SYN without ACK (simultaneous open is not supported)');
      return;
    }
    this.negotiate(segment);
    const rtt = this.handshakeRtt(segment);
    if (rtt !== undefined) this.sender.rtt.sample(rtt);
    this.sender.synchronized(this.now, segment.sequenceNumber, ack, segment.window, this.sendMss, this.negotiatedOptions!.sendWindowScale);
    this.receiver.synchronize(segment.sequenceNumber, this.negotiatedOptions!.receiveWindowScale);
    this.current = this.sender.shutdownQueued ? 'fin-wait-1' : 'established';
    this.events.push({type: 'established'});
    this.receiver.requestAck(); // the handshake's third segment (carrying queued data if any)
    // A SYN-ACK may carry data, even a FIN (RFC 9293 3.10.7.3 processes them "as in the ESTABLISHED state").
    if (segment.payload.length > 0 || segment.has(FIN)) {
      this.receiveText(seqAdd(segment.sequenceNumber, 1), segment.payload, segment.has(FIN));
    }
  }

  private receiveSynchronized(segment: TcpSegment): void {
    const seq = segment.sequenceNumber;
    const length = segment.sequenceLength;
    // RST first, so that nothing below answers a RST with an ACK. RFC 5961 3.2: only an exact RCV.NXT match
    // resets; in the window it earns a challenge ACK (a real peer then resets with the exact number);
    // outside it is ignored, so a blind attacker or a stale RST cannot end the check.
    if (segment.has(RST)) {
      if (seq === this.receiver.nextSeq) this.onReset();
      else if (this.receiver.inWindow(seq)) this.challenge(`RST at ${seq} inside the window, expected ${this.receiver.nextSeq}`);
      else this.reject(`ignored a RST at ${seq} outside the window`);
      return;
    }
    if (!this.receiver.acceptable(seq, length)) {
      if (seqLe(seqAdd(seq, length), this.receiver.nextSeq)) {
        this.received.duplicate++;
        this.receiver.noteDuplicate(seq, segment.payload.length);
      } else {
        this.received.rejected++;
      }
      this.receiver.requestAck(); // tells the peer where we are (RFC 9293: send an ACK, drop the segment)
      return;
    }
    this.updateTsRecent(segment);
    // RFC 5961 4: a SYN here (typically a retransmitted SYN-ACK whose ACK was lost) earns a challenge ACK,
    // which is exactly the ACK the peer is missing.
    if (segment.has(SYN)) {
      this.challenge('SYN in a synchronized state');
      return;
    }
    if (!segment.has(ACK)) {
      this.reject('dropped a segment without ACK');
      return;
    }
    const ack = segment.acknowledgmentNumber;
    if (seqGt(ack, this.sender.sndMax)) {
      this.challenge(`ACK ${ack} of data never sent (SND.MAX ${this.sender.sndMax})`);
      return;
    }
    // RFC 5961 5.2: an ACK further behind than the largest window the peer ever offered is a blind injection.
    if (seqLt(ack, this.sender.sndUna) && seqSub(this.sender.sndUna, ack) > this.sender.maxSndWnd) {
      this.challenge(`ACK ${ack} too old (SND.UNA ${this.sender.sndUna})`);
      return;
    }
    this.peerWindowField = segment.window;
    const isPureAck = segment.payload.length === 0 && !segment.has(FIN);
    const outcome = this.sender.onAck(this.now, seq, ack, segment.window, isPureAck, this.timestampRtt(segment, ack), segment.options.sackBlocks);
    if (outcome.kind === 'new') this.afterNewAck();
    if (this.current === 'closed') return;
    if (segment.payload.length > 0 || segment.has(FIN)) this.receiveText(seq, segment.payload, segment.has(FIN));
  }

  /** Our data (or FIN) was acknowledged: room for writes, and the FIN states advance. */
  private afterNewAck(): void {
    if (this.writeBlocked && this.sender.freeSpace > 0 && this.canWrite) {
      this.writeBlocked = false;
      this.events.push({type: 'writable'});
    }
    if (!this.sender.finAcked) return;
    switch (this.current) {
      case 'fin-wait-1':
        this.current = 'fin-wait-2';
        return;
      case 'closing':
        this.enterTimeWait();
        return;
      case 'last-ack':
        this.enterClosed();
        return;
      default:
        return;
    }
  }

  /** The segment text and FIN (RFC 9293 3.10.7.4, seventh and eighth steps). */
  private receiveText(seq: number, payload: Buffer, fin: boolean): void {
    const outcome = this.receiver.receive(this.now, seq, payload, fin);
    if (outcome.kind === 'out-of-order') this.received.outOfOrder++;
    if (outcome.kind === 'duplicate') this.received.duplicate++;
    if (outcome.delivered > 0) this.events.push({type: 'data', bytes: outcome.delivered});
    if (outcome.kind === 'in-order' && payload.length >= this.receiveMss) this.bulkSeen = true;
    if (outcome.limitExceeded) {
      this.fail('receive-limit', `the peer sent more than ${this.config.maxReceiveBytes} bytes`, true);
      return;
    }
    if (this.current === 'time-wait' && fin) this.timeWaitUntil = this.timeWaitEnd(); // a retransmitted FIN: stay a while
    if (!outcome.finReached) return;
    this.events.push({type: 'remote-fin'});
    switch (this.current) {
      case 'established':
        this.current = 'close-wait';
        return;
      case 'fin-wait-1':
        if (this.sender.finAcked) this.enterTimeWait();
        else this.current = 'closing';
        return;
      case 'fin-wait-2':
        this.enterTimeWait();
        return;
      default:
        return;
    }
  }

  private onReset(): void {
    if (BOTH_CLOSED.has(this.current)) {
      // Both sides had finished sending; a RST now (RFC 1337's TIME-WAIT case among them) costs the app nothing.
      this.note(`the peer reset the connection in ${this.current.toUpperCase()}`);
      this.enterClosed();
      return;
    }
    this.fail('reset', 'connection reset by the peer', false);
  }

  // ---- Output ----------------------------------------------------------------------------------------------

  /** Sends what the windows and timers allow: a fast retransmission, new data, then a bare ACK if still owed. */
  private flush(): void {
    if (!SYNCHRONIZED.has(this.current)) return;
    const sack = this.sackBlocks();
    const maxPayload = this.maxPayload(sack.length);
    if (this.current !== 'time-wait') {
      if (this.sender.retransmitDue) {
        const again = this.sender.retransmitFirst(this.now, maxPayload);
        if (again) this.emitData(again);
      }
      for (const segment of this.sender.transmit(this.now, maxPayload)) this.emitData(segment);
    }
    if (this.receiver.wantsAck) this.emit(this.sender.sndMax, ACK, EMPTY_PAYLOAD);
  }

  private hasImmediateWork(): boolean {
    if (this.abortRequested) return true;
    if (!SYNCHRONIZED.has(this.current)) return false;
    if (this.receiver.wantsAck) return true;
    if (this.current === 'time-wait') return false;
    return this.sender.retransmitDue || this.sender.canTransmit(this.maxPayload(this.sackBlocks().length));
  }

  private sendSyn(): void {
    const options: TcpOptions = {mss: this.config.mss};
    if (this.config.sack) options.sackPermitted = true;
    if (this.config.timestamps) options.timestamp = {value: this.tsValue(), echo: 0};
    if (this.config.windowScale !== undefined) options.windowScale = this.config.windowScale;
    this.output.push(outgoing(this.config, {sequenceNumber: this.config.isn, acknowledgmentNumber: 0, flags: SYN, window: this.receiver.synWindow(), options}));
    this.sentSegments++;
  }

  private emitData(segment: DataSegment): void {
    this.emit(segment.seq, ACK | (segment.push ? PSH : 0) | (segment.fin ? FIN : 0), segment.payload);
  }

  /** One ACK-bearing segment: current ACK number and window, timestamps and SACK blocks as negotiated. */
  private emit(seq: number, flags: number, payload: Buffer): void {
    const sack = this.sackBlocks();
    const {ack, window} = this.receiver.ackFields();
    this.lastAckSent = ack;
    const options: TcpOptions = {};
    if (this.negotiatedOptions?.timestamps) options.timestamp = {value: this.tsValue(), echo: this.tsRecent};
    if (sack.length > 0) options.sackBlocks = sack;
    const withOptions = options.timestamp || options.sackBlocks ? {options} : {};
    this.output.push(outgoing(this.config, {sequenceNumber: seq, acknowledgmentNumber: ack, flags, window, ...withOptions}, payload));
    this.sentSegments++;
  }

  /** RST|ACK at SND.MAX when we know the peer's sequence; a bare RST at `seq` otherwise (RFC 9293 3.10.7). */
  private resetSegment(seq: number, ack: number | undefined): OutgoingSegment {
    this.sentSegments++;
    return outgoing(this.config, {sequenceNumber: seq, acknowledgmentNumber: ack ?? 0, flags: ack === undefined ? RST : RST | ACK, window: 0});
  }

  private takeOutput(): OutgoingSegment[] {
    const output = this.output;
    this.output = [];
    return output;
  }

  // ---- Handshake options -----------------------------------------------------------------------------------

  private negotiate(synAck: TcpSegment): void {
    const peer = synAck.options;
    const peerMss = peer.mss ?? this.config.defaultPeerMss;
    const windowScale = this.config.windowScale !== undefined && peer.windowScale !== undefined;
    if (peer.windowScale !== undefined && peer.windowScale > MAX_WINDOW_SCALE) {
      this.note(`the peer offered window scale ${peer.windowScale}; using ${MAX_WINDOW_SCALE} (RFC 7323)`);
    }
    this.negotiatedOptions = {
      peerMss,
      sendMss: Math.max(MIN_SEND_MSS, Math.min(peerMss, this.config.mss)),
      receiveWindowScale: windowScale ? this.config.windowScale! : 0,
      sendWindowScale: windowScale ? Math.min(peer.windowScale!, MAX_WINDOW_SCALE) : 0,
      sack: this.config.sack && peer.sackPermitted === true,
      timestamps: this.config.timestamps && peer.timestamp !== undefined,
    };
    this.sendMss = this.negotiatedOptions.sendMss;
    this.sender.useNegotiated(this.negotiatedOptions);
    if (peer.timestamp) this.tsRecent = peer.timestamp.value;
  }

  /** Handshake RTT: from the timestamp echo, or from the SYN's send time if it was sent only once (Karn). */
  private handshakeRtt(synAck: TcpSegment): Millis | undefined {
    const echo = this.config.timestamps ? synAck.options.timestamp?.echo : undefined;
    if (echo !== undefined && echo !== 0) return this.rttFromEcho(echo);
    return this.synRetransmitted ? undefined : this.now - this.synSentAt;
  }

  /** Payload room in one segment: the send MSS less the options it will carry (RFC 6691). */
  private maxPayload(sackBlocks: number): number {
    const timestamps = this.negotiatedOptions?.timestamps ? TIMESTAMP_OPTION_BYTES : 0;
    return this.sendMss - timestamps - (sackBlocks > 0 ? 4 + 8 * sackBlocks : 0);
  }

  private sackBlocks(): Array<[number, number]> {
    if (!this.negotiatedOptions?.sack || (!this.receiver.hasOutOfOrderData && !this.receiver.hasDuplicateToReport)) return [];
    // 40 option bytes: with timestamps (12) three blocks fit (4 + 24), without them four (4 + 32).
    return this.receiver.sackBlocks(this.negotiatedOptions.timestamps ? 3 : 4);
  }

  // ---- Timestamps (RFC 7323) -------------------------------------------------------------------------------

  /** Our TSval: a millisecond clock offset by a per-connection base. */
  private tsValue(): number {
    return (this.config.timestampBase + Math.floor(this.now)) >>> 0;
  }

  /** The time a TSval of ours was sent, from an echo; the sample only counts if it is plausible. */
  private rttFromEcho(echo: number): Millis | undefined {
    const sentAt = (echo - this.config.timestampBase) >>> 0;
    const rtt = this.now - sentAt;
    return rtt >= 0 && sentAt >= Math.floor(this.startedAt) ? rtt : undefined;
  }

  private timestampRtt(segment: TcpSegment, ack: number): Millis | undefined {
    if (!this.negotiatedOptions?.timestamps || !seqGt(ack, this.sender.sndUna)) return undefined;
    const echo = segment.options.timestamp?.echo;
    return echo === undefined || echo === 0 ? undefined : this.rttFromEcho(echo);
  }

  /** RFC 7323 4.3: remember the peer's TSval from a segment that starts at or before our last ACK. */
  private updateTsRecent(segment: TcpSegment): void {
    const ts = segment.options.timestamp;
    if (!ts || !this.negotiatedOptions?.timestamps) return;
    if (seqLe(segment.sequenceNumber, this.lastAckSent) && seqSub(ts.value, this.tsRecent) >= 0) this.tsRecent = ts.value;
  }

  // ---- Endings -----------------------------------------------------------------------------------------------

  private onDeadline(): OutgoingSegment[] {
    if (this.current === 'time-wait') {
      this.enterClosed();
      return [];
    }
    const what =
      this.current === 'syn-sent'
        ? `no answer to the SYN (${this.sender.counters.timeouts + 1} sent)`
        : `the connection was still ${this.current.toUpperCase()}`;
    this.fail('timeout', `deadline reached: ${what}`, true);
    return this.takeOutput();
  }

  private performAbort(): OutgoingSegment[] {
    this.abortRequested = false;
    if (SYNCHRONIZED.has(this.current) && this.current !== 'time-wait') {
      this.output.push(this.resetSegment(this.sender.sndMax, this.receiver.nextSeq));
    }
    this.enterClosed();
    return this.takeOutput();
  }

  /** Reports the error, resets the peer if asked and synchronized, and closes. */
  private fail(reason: TcpErrorReason, message: string, sendReset: boolean): void {
    if (sendReset && SYNCHRONIZED.has(this.current) && this.current !== 'time-wait') {
      this.output.push(this.resetSegment(this.sender.sndMax, this.receiver.nextSeq));
    }
    this.failure = reason;
    this.events.push({type: 'error', reason, message});
    this.enterClosed();
  }

  private enterTimeWait(): void {
    this.current = 'time-wait';
    this.timeWaitUntil = this.timeWaitEnd();
    this.sender.stopTimers();
    this.pushClosedEvent();
  }

  private timeWaitEnd(): Millis {
    return Math.min(this.now + this.config.timeWaitMs, this.config.deadline);
  }

  private enterClosed(): void {
    this.current = 'closed';
    this.sender.stopTimers();
    this.pushClosedEvent();
  }

  private pushClosedEvent(): void {
    if (this.closedEventSent) return;
    this.closedEventSent = true;
    this.events.push({type: 'closed'});
  }

  private challenge(note: string): void {
    this.reject(note);
    this.receiver.requestAck();
  }

  private reject(note: string): void {
    this.received.rejected++;
    this.note(note);
  }

  private note(text: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(text);
  }

  private advanceClock(now: Millis): void {
    if (now > this.now) this.now = now;
  }
}
