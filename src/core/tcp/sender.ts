/**
 * The send half of a connection (gVisor's snd.go): the send queue, SND.UNA / SND.NXT / SND.MAX, the peer's
 * window, congestion control (RFC 5681 with NewReno recovery, RFC 6582; with the peer's SACK blocks, RFC 6675
 * loss recovery), the retransmission timer (RFC 6298) and the persist timer for a zero window.
 *
 * The queue holds every byte from the first unacknowledged one on; a byte's queue offset is its sequence number
 * minus `sendBase` (the sequence number of queue[0]), computed with wrap-safe arithmetic. SND.NXT is the next
 * sequence number to transmit and SND.MAX the highest ever transmitted: after a retransmission timeout
 * SND.NXT goes back to SND.UNA (go-back-N, as smoltcp does) while ACKs up to SND.MAX stay acceptable.
 *
 * The SYN is the connection's business; this class only knows that it occupies ISS, so data starts at ISS + 1.
 */
import type {Millis} from '../time.js';
import {seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub} from '../wire/seq.js';
import {ByteQueue} from './byte-queue.js';
import {RttEstimator, type RttConfig} from './rtt.js';
import {SackScoreboard} from './sack-scoreboard.js';

export interface SenderConfig extends RttConfig {
  /** Most bytes queued (unacknowledged plus unsent); write() accepts less when full. */
  readonly bufferSize: number;
  /** Initial congestion window in segments (RFC 6928: 10). */
  readonly initialWindowSegments: number;
}

/** A data (and/or FIN) segment to transmit; the connection adds the ACK fields and options. */
export interface DataSegment {
  readonly seq: number;
  readonly payload: Buffer;
  readonly fin: boolean;
  /** The last queued byte goes out in it (sets PSH, as stacks do when the send queue empties). */
  readonly push: boolean;
  readonly retransmission: boolean;
}

export interface SenderCounters {
  dataSegments: number;
  retransmittedSegments: number;
  timeouts: number;
  fastRetransmits: number;
  windowProbes: number;
}

/** What an ACK did, for the connection's state machine. */
export interface AckOutcome {
  readonly kind: 'new' | 'duplicate' | 'old';
  /** Sequence space newly acknowledged (data bytes, plus one for a FIN). */
  readonly acked: number;
}

export class Sender {
  readonly queue = new ByteQueue();
  readonly rtt: RttEstimator;
  readonly counters: SenderCounters = {dataSegments: 0, retransmittedSegments: 0, timeouts: 0, fastRetransmits: 0, windowProbes: 0};

  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  /** Sequence number of queue[0]. */
  private sendBase = 0;
  /** The peer's window in bytes (scaled) and the segment that last updated it (SND.WL1/WL2). */
  sndWnd = 0;
  private wl1 = 0;
  private wl2 = 0;
  maxSndWnd = 0;
  /** Shift for the peer's window fields (its window scale option; 0 without). */
  peerScale = 0;
  /** Most payload bytes per segment before options: min(peer MSS, ours). */
  mss = 536;
  private finQueued = false;

  cwnd = 0;
  ssthresh = Infinity;
  private dupAcks = 0;
  private inRecovery = false;
  /**
   * NewReno's "recover" (RFC 6582): ISS at the start (3.2 step 1), SND.MAX when fast recovery or a
   * retransmission timeout began (step 2, section 4). A third duplicate ACK starts fast retransmit only when
   * SND.UNA is beyond it. Left at 0 it would block fast retransmit for every ISN in the upper half of the
   * sequence space, where 0 is "ahead" of SND.UNA.
   */
  private recover = 0;
  /** SND.UNA before the latest ACK that moved it (RFC 6582 4.1's prev_highest_ack). */
  private previousUna = 0;
  /** A fast retransmission of SND.UNA's segment is due (NewReno). */
  retransmitDue = false;
  /** The peer agreed to SACK (RFC 2018): its blocks feed the scoreboard, and loss recovery uses them. */
  private sack = false;
  readonly scoreboard = new SackScoreboard();
  /**
   * In recovery with SACK information (RFC 6675): the holes below the highest SACKed byte are presumed lost and
   * resent as the pipe allows, several per round trip, instead of NewReno's one per partial ACK.
   */
  private sackRecovery = false;
  /** Queue offset up to which holes were resent in this recovery (RFC 6675 HighRxt). */
  private highRxt = 0;
  /** Recovery just began: the first hole goes out whatever the pipe says (RFC 6675 5, step 4.3). */
  private firstHoleDue = false;

  /** Retransmission and persist timer deadlines (Infinity: not armed). */
  private rtoDeadline: Millis = Infinity;
  private persistDeadline: Millis = Infinity;
  private persistInterval: Millis = 0;
  /** Karn's rule without timestamps: one segment timed at a time, forgotten when anything is retransmitted. */
  private timed: {readonly end: number; readonly at: Millis} | undefined;
  /** Timestamps were negotiated: every ACK's echo gives an exact sample and `timed` is unused. */
  private timestamps = false;

  constructor(private readonly config: SenderConfig) {
    this.rtt = new RttEstimator(config);
  }

  /** When the retransmission timer expires (Infinity: not armed). */
  get rtoAt(): Millis {
    return this.rtoDeadline;
  }

  /** When the zero-window probe is due (Infinity: not armed). */
  get persistAt(): Millis {
    return this.persistDeadline;
  }

  get timestampsInUse(): boolean {
    return this.timestamps;
  }

  get sackEnabled(): boolean {
    return this.sack;
  }

  /** What the handshake agreed on: timestamps give RTT samples, SACK feeds loss recovery. */
  useNegotiated(options: {readonly timestamps: boolean; readonly sack: boolean}): void {
    this.timestamps = options.timestamps;
    this.sack = options.sack;
  }

  /** The connection is over (TIME-WAIT or CLOSED): neither timer may fire again. */
  stopTimers(): void {
    this.rtoDeadline = Infinity;
    this.persistDeadline = Infinity;
  }

  /** Our first SYN left with sequence number `iss`: its retransmission timer starts. */
  begin(now: Millis, iss: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = seqAdd(iss, 1);
    this.sndMax = this.sndNxt;
    this.sendBase = this.sndNxt;
    this.recover = iss;
    this.previousUna = iss;
    this.rtoDeadline = now + this.rtt.rtoMs;
  }

  /** The SYN's retransmission timer expired and the SYN goes out again (RFC 6298 5.5 backoff applies too). */
  onSynTimeout(now: Millis): void {
    this.counters.timeouts++;
    this.counters.retransmittedSegments++;
    this.rtt.backoff();
    this.rtoDeadline = now + this.rtt.rtoMs;
  }

  /** The SYN-ACK arrived: the SYN is acknowledged and the peer's first window (never scaled) is known. */
  synchronized(now: Millis, seq: number, ack: number, window: number, mss: number, peerScale: number): void {
    this.sndUna = ack;
    this.sndWnd = window;
    this.maxSndWnd = window;
    this.wl1 = seq;
    this.wl2 = ack;
    this.mss = mss;
    this.peerScale = peerScale;
    this.cwnd = this.config.initialWindowSegments * mss;
    this.rtoDeadline = Infinity;
    this.updatePersistTimer(now);
  }

  get bufferedBytes(): number {
    return this.queue.length;
  }

  get freeSpace(): number {
    return Math.max(0, this.config.bufferSize - this.queue.length);
  }

  get bytesInFlight(): number {
    return seqSub(this.sndNxt, this.sndUna);
  }

  get shutdownQueued(): boolean {
    return this.finQueued;
  }

  /** The FIN's sequence number once shutdown() has been called. */
  private get finSeq(): number {
    return seqAdd(this.sendBase, this.queue.length);
  }

  get finSent(): boolean {
    return this.finQueued && seqGt(this.sndMax, this.finSeq);
  }

  get finAcked(): boolean {
    return this.finQueued && seqGt(this.sndUna, this.finSeq);
  }

  /** Queues as much of `data` as fits; returns the number of bytes taken (copied). */
  write(data: Uint8Array): number {
    if (this.finQueued) throw new Error('write after shutdown');
    const take = Math.min(data.length, this.freeSpace);
    if (take > 0) this.queue.pushCopy(data.subarray(0, take));
    return take;
  }

  /** A FIN follows the queued data. */
  shutdown(): void {
    this.finQueued = true;
  }

  /** Whether transmit() would send something now (used by the connection's pollAt, so it must agree). */
  canTransmit(maxPayload: number): boolean {
    if (this.sackRecovery && this.nextHoleDue(maxPayload)) return true;
    const next = this.nextSegment(maxPayload);
    return next.length > 0 || next.fin;
  }

  /**
   * New data, or data again after a timeout, that the windows allow now (in SACK recovery the holes first);
   * arms the retransmission timer.
   */
  transmit(now: Millis, maxPayload: number): DataSegment[] {
    const out: DataSegment[] = this.sackRecovery ? this.resendHoles(now, maxPayload) : [];
    for (;;) {
      const {offset, length, fin} = this.nextSegment(maxPayload);
      if (length === 0 && !fin) break;
      const seq = this.sndNxt;
      const retransmission = seqLt(seq, this.sndMax);
      out.push({seq, payload: this.queue.peek(offset, length), fin, push: length > 0 && offset + length === this.queue.length, retransmission});
      this.countSent(retransmission, now, seq, length + (fin ? 1 : 0));
      this.sndNxt = seqAdd(seq, length + (fin ? 1 : 0));
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      if (this.rtoDeadline === Infinity) this.rtoDeadline = now + this.rtt.rtoMs;
      if (fin) break;
    }
    this.updatePersistTimer(now);
    return out;
  }

  /** The segment at SND.UNA again (fast retransmit or a NewReno partial ACK); SND.NXT is left alone. */
  retransmitFirst(now: Millis, maxPayload: number): DataSegment | undefined {
    this.retransmitDue = false;
    const offset = seqSub(this.sndUna, this.sendBase);
    const outstanding = seqSub(this.sndMax, this.sndUna);
    if (outstanding <= 0 || offset < 0) return undefined;
    const length = Math.max(0, Math.min(maxPayload, this.queue.length - offset, outstanding));
    const fin = this.finSent && offset + length === this.queue.length;
    if (length === 0 && !fin) return undefined;
    this.countSent(true, now, this.sndUna, length + (fin ? 1 : 0));
    this.counters.fastRetransmits++;
    this.rtoDeadline = now + this.rtt.rtoMs;
    return {seq: this.sndUna, payload: this.queue.peek(offset, length), fin, push: offset + length === this.queue.length, retransmission: true};
  }

  /**
   * Processes an acceptable segment's ACK field and window (RFC 9293 3.10.7.4, fifth step). The caller has
   * already rejected ACKs of data never sent. `rttSample` is the timestamp echo's measurement, if any.
   */
  onAck(
    now: Millis,
    seq: number,
    ack: number,
    windowField: number,
    isPureAck: boolean,
    rttSample: Millis | undefined,
    sackBlocks?: ReadonlyArray<readonly [number, number]>,
  ): AckOutcome {
    if (seqLt(ack, this.sndUna)) return {kind: 'old', acked: 0};
    this.recordSacks(sackBlocks);
    const window = windowField * 2 ** this.peerScale;
    const windowChanged = window !== this.sndWnd;
    if (seqLt(this.wl1, seq) || (this.wl1 === seq && seqLe(this.wl2, ack))) {
      this.sndWnd = window;
      this.wl1 = seq;
      this.wl2 = ack;
      this.maxSndWnd = Math.max(this.maxSndWnd, window);
    }
    if (ack === this.sndUna) {
      // RFC 5681 2: a duplicate ACK acknowledges nothing new, carries no data, does not move the window, and
      // arrives while data is outstanding.
      if (isPureAck && !windowChanged && seqGt(this.sndMax, this.sndUna)) this.onDuplicateAck();
      this.updatePersistTimer(now);
      return {kind: 'duplicate', acked: 0};
    }

    const acked = seqSub(ack, this.sndUna);
    const dataAcked = Math.min(Math.max(0, seqSub(ack, this.sendBase)), this.queue.length);
    this.queue.drop(dataAcked);
    this.sendBase = seqAdd(this.sendBase, dataAcked);
    this.scoreboard.advance(dataAcked);
    this.highRxt = Math.max(0, this.highRxt - dataAcked);
    this.previousUna = this.sndUna;
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack; // data sent before a go-back-N arrived after all

    if (rttSample !== undefined) this.rtt.sample(rttSample);
    else if (this.timed && seqGe(ack, this.timed.end)) this.rtt.sample(now - this.timed.at);
    if (this.timed && seqGe(ack, this.timed.end)) this.timed = undefined;

    this.growWindow(ack, acked);
    this.dupAcks = 0;
    // RFC 6298 5.2 and 5.3: stop the timer when all is acknowledged, else restart it.
    this.rtoDeadline = this.sndUna === this.sndMax ? Infinity : now + this.rtt.rtoMs;
    this.persistInterval = 0;
    this.updatePersistTimer(now);
    return {kind: 'new', acked};
  }

  /** Retransmission timer expiry (RFC 6298 5.4-5.6, RFC 5681 3.1 loss window): back off, go back to SND.UNA. */
  onRetransmitTimeout(): void {
    this.counters.timeouts++;
    this.rtt.backoff();
    this.ssthresh = Math.max(Math.floor(seqSub(this.sndMax, this.sndUna) / 2), 2 * this.mss);
    this.cwnd = this.mss;
    // RFC 6582 4: duplicate ACKs for data sent before the timeout must not start a fast retransmit again.
    this.recover = this.sndMax;
    this.inRecovery = false;
    this.sackRecovery = false;
    this.firstHoleDue = false;
    // Go-back-N resends everything from SND.UNA; the peer may have reneged on what it SACKed (RFC 2018 8).
    this.scoreboard.clear();
    this.highRxt = 0;
    this.dupAcks = 0;
    this.retransmitDue = false;
    this.timed = undefined;
    this.sndNxt = this.sndUna;
    this.rtoDeadline = Infinity; // re-armed by the retransmission itself, with the backed-off RTO
  }

  /**
   * Persist timer expiry: the peer's window is zero and data waits. Probe with an empty segment carrying an
   * old sequence number (SND.UNA - 1), which every receiver must answer with an ACK showing its window
   * (Linux's tcp_xmit_probe_skb); the interval backs off like the RTO.
   */
  onPersistTimeout(now: Millis): number {
    this.counters.windowProbes++;
    this.persistInterval = Math.min(this.persistInterval * 2, this.config.maxRtoMs);
    this.persistDeadline = now + this.persistInterval;
    return seqAdd(this.sndUna, -1);
  }

  /** Offset, length and FIN of the next segment transmit() would send. */
  private nextSegment(maxPayload: number): {offset: number; length: number; fin: boolean} {
    const offset = seqSub(this.sndNxt, this.sendBase);
    const unsent = this.queue.length - offset;
    if (unsent < 0) return {offset, length: 0, fin: false}; // the FIN is out already
    // Limited Transmit (RFC 3042): the first two duplicate ACKs each let one new segment out beyond cwnd, so a
    // small window still produces the three duplicates fast retransmit needs instead of waiting for the RTO.
    const limitedTransmit = this.inRecovery ? 0 : Math.min(this.dupAcks, 2) * this.mss;
    // The peer's window bounds what was sent; in SACK recovery the pipe, not everything sent, fills cwnd.
    const inNetwork = this.sackRecovery ? this.pipe : this.bytesInFlight;
    const room = Math.min(this.sndWnd - this.bytesInFlight, this.cwnd + limitedTransmit - inNetwork);
    let length = Math.max(0, Math.min(unsent, maxPayload, room));
    // Sender-side SWS avoidance (RFC 9293 3.8.6.2.1): while data is in flight, hold back a runt the window
    // cut short; the ACK of what is in flight will open the window for a full segment.
    if (length > 0 && length < unsent && length < maxPayload && this.bytesInFlight > 0) length = 0;
    const fin = this.finQueued && offset + length === this.queue.length;
    return {offset, length, fin};
  }

  private countSent(retransmission: boolean, now: Millis, seq: number, length: number): void {
    if (length === 0) return;
    this.counters.dataSegments++;
    if (retransmission) {
      this.counters.retransmittedSegments++;
      this.timed = undefined; // Karn: an ACK could now answer either transmission
    } else if (!this.timestamps && this.timed === undefined) {
      this.timed = {end: seqAdd(seq, length), at: now};
    }
  }

  private onDuplicateAck(): void {
    this.dupAcks++;
    if (this.inRecovery) {
      // RFC 6582 3.2 step 3: each dupack means a segment left the network. With SACK the pipe counts that.
      if (!this.sackRecovery) this.cwnd += this.mss;
      return;
    }
    // RFC 6582 3.2 step 2: a third dupack starts fast retransmit, unless it belongs to a loss already handled.
    if (this.dupAcks === 3 && (seqGt(this.sndUna, this.recover) || this.newLossAfterTimeout())) {
      this.ssthresh = Math.max(Math.floor(seqSub(this.sndMax, this.sndUna) / 2), 2 * this.mss);
      this.recover = this.sndMax;
      this.inRecovery = true;
      if (this.sack && !this.scoreboard.isEmpty) {
        // RFC 6675 5: cwnd = ssthresh, and the pipe decides; the first hole (at SND.UNA) goes out at once.
        this.sackRecovery = true;
        this.cwnd = this.ssthresh;
        this.highRxt = 0;
        this.firstHoleDue = true;
      } else {
        this.cwnd = this.ssthresh + 3 * this.mss;
        this.retransmitDue = true;
      }
    }
  }

  /**
   * RFC 6582 4.1's ACK heuristic, for duplicate ACKs at or below "recover" after a timeout: the go-back-N
   * resend of segments the peer already holds moves SND.UNA by big jumps and draws duplicates that mean nothing;
   * a new loss among them shows as small steps (at most 4 segments) before the duplicates. Without it, a peer that
   * drops out-of-order segments costs one more timeout per loss in the resent flight.
   */
  private newLossAfterTimeout(): boolean {
    return this.cwnd > this.mss && seqSub(this.sndUna, this.previousUna) <= 4 * this.mss;
  }

  /** Adds the peer's SACK blocks that lie within what was sent; D-SACKs and bogus blocks are ignored. */
  private recordSacks(blocks: ReadonlyArray<readonly [number, number]> | undefined): void {
    if (!this.sack || !blocks) return;
    for (const [left, right] of blocks) {
      if (!seqLt(left, right) || seqLt(left, this.sndUna) || seqGt(right, this.sndMax)) continue;
      this.scoreboard.add(seqSub(left, this.sendBase), Math.min(seqSub(right, this.sendBase), this.queue.length));
    }
  }

  /**
   * RFC 6675's pipe: bytes presumed still in the network. Everything sent and not cumulatively acknowledged,
   * less what the peer SACKed, less the holes below the highest SACKed byte (presumed lost) that have not
   * been resent yet.
   */
  private get pipe(): number {
    const high = this.scoreboard.highest;
    const sacked = this.scoreboard.sackedIn(0, high);
    const resentUpTo = Math.min(this.highRxt, high);
    const lostNotResent = high - sacked - (resentUpTo - this.scoreboard.sackedIn(0, resentUpTo));
    return Math.max(0, seqSub(this.sndMax, this.sndUna) - sacked - lostNotResent);
  }

  /** The next hole to resend in SACK recovery, if the pipe has room for it (RFC 6675 NextSeg, rule 1). */
  private nextHoleDue(maxPayload: number): {start: number; end: number} | undefined {
    if (!this.firstHoleDue && this.cwnd - this.pipe < Math.min(maxPayload, this.mss)) return undefined;
    return this.scoreboard.nextHole(this.highRxt, this.scoreboard.highest);
  }

  private resendHoles(now: Millis, maxPayload: number): DataSegment[] {
    const out: DataSegment[] = [];
    for (let hole = this.nextHoleDue(maxPayload); hole; hole = this.nextHoleDue(maxPayload)) {
      const length = Math.min(maxPayload, hole.end - hole.start);
      const seq = seqAdd(this.sendBase, hole.start);
      out.push({seq, payload: this.queue.peek(hole.start, length), fin: false, push: false, retransmission: true});
      this.countSent(true, now, seq, length);
      this.counters.fastRetransmits++;
      this.highRxt = hole.start + length;
      this.firstHoleDue = false;
      if (this.rtoDeadline === Infinity) this.rtoDeadline = now + this.rtt.rtoMs;
    }
    return out;
  }

  private growWindow(ack: number, acked: number): void {
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        this.inRecovery = false; // full ACK: leave recovery (RFC 6582 3.2 step 4)
        this.sackRecovery = false;
        this.cwnd = this.ssthresh;
      } else if (!this.sackRecovery) {
        // Partial ACK: the next hole is lost too; resend it and deflate by what was acknowledged.
        this.retransmitDue = true;
        this.cwnd = Math.max(this.mss, this.cwnd - acked + this.mss);
      }
      return;
    }
    if (this.cwnd < this.ssthresh) this.cwnd += Math.min(acked, this.mss);
    else this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd));
  }

  /** Arms the persist timer while the peer's zero window blocks data and nothing is in flight to reopen it. */
  private updatePersistTimer(now: Millis): void {
    const blocked = this.sndWnd === 0 && this.bytesInFlight === 0 && (this.queue.length > seqSub(this.sndNxt, this.sendBase));
    if (!blocked) {
      this.persistDeadline = Infinity;
      return;
    }
    if (this.persistDeadline !== Infinity) return;
    if (this.persistInterval === 0) this.persistInterval = this.rtt.rtoMs;
    this.persistDeadline = now + this.persistInterval;
  }
}
