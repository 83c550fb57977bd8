/**
 * The TCP handshake probe behind `vipcheck tcp`, sans-IO in smoltcp's style: the caller feeds in the current
 * time and the segments of our flow, and sends whatever segments come out; `pollAt()` says when to call
 * `poll()` next. No sockets or timers here, so tests script every exchange exactly.
 *
 * Verdict rules (RFC 9293 SYN-SENT processing, kept deliberately tolerant of real servers):
 * - SYN-ACK (any extra flags, e.g. ECE) acknowledging exactly ISN+1: the port is open.
 * - RST carrying an ACK of ISN+1: refused. A RST without an acceptable ACK is ignored (RFC 9293 3.10.7.3),
 *   so a forged or stale RST cannot fake a verdict.
 * - a SYN-ACK with any other ACK number is a stale/half-open answer: we reset it (seq = its ACK) and keep waiting.
 * - nothing: the SYN is retransmitted with exponential backoff until the deadline.
 * Retransmitted SYNs carry distinct timestamp values, so the echoed TSecr tells which attempt was answered and
 * the round-trip time stays exact despite retransmission (Karn's problem).
 */
import {TcpFlags, type TcpOptions, type TcpSegment} from '../wire/tcp.js';
import {seqAdd} from '../wire/seq.js';
import {outgoing, type OutgoingSegment} from './segment.js';

export type Millis = number;

export interface SynProbeConfig {
  readonly localPort: number;
  readonly remotePort: number;
  /** Initial sequence number; random in production (RFC 6528), fixed in tests. */
  readonly isn: number;
  /** Our advertised MSS (the egress MTU minus IP and TCP headers). */
  readonly mss: number;
  /** `rst` aborts after the SYN-ACK (cheapest for the server); `fin` completes the handshake and closes. */
  readonly close: 'rst' | 'fin';
  /** First SYN retransmission after this many ms, doubling each time. */
  readonly initialRtoMs: number;
  /** Absolute time after which no more segments are sent and the probe times out. */
  readonly deadline: Millis;
  /** Window scale shift to offer (Linux offers 7). */
  readonly windowScale?: number;
  /** Base of our TCP timestamp clock (random per connection, like Linux). */
  readonly timestampBase?: number;
}

export type SynProbeOutcome =
  | {readonly kind: 'open'; readonly rttMs: Millis; readonly attempts: number; readonly peerOptions: TcpOptions; readonly closedCleanly?: boolean}
  | {readonly kind: 'refused'; readonly rttMs: Millis; readonly attempts: number}
  | {readonly kind: 'timeout'; readonly attempts: number};

export type {OutgoingSegment} from './segment.js';

type Phase = 'idle' | 'syn-sent' | 'closing' | 'done';

const OUR_WINDOW = 64_240;

export class SynProbe {
  private phase: Phase = 'idle';
  private attempts = 0;
  /** Send time of each attempt, indexed by attempt number (also its timestamp offset). */
  private readonly sentAt: Millis[] = [];
  private nextRetransmit: Millis = Infinity;
  private rto: number;
  private serverIsn = 0;
  private result: SynProbeOutcome | undefined;
  private openOutcome: Extract<SynProbeOutcome, {kind: 'open'}> | undefined;
  /** Anomalies worth a verbose line (stale SYN-ACKs, ignored RSTs, ...). */
  readonly notes: string[] = [];

  constructor(private readonly config: SynProbeConfig) {
    this.rto = config.initialRtoMs;
  }

  get outcome(): SynProbeOutcome | undefined {
    return this.result;
  }

  get finished(): boolean {
    return this.phase === 'done';
  }

  start(now: Millis): OutgoingSegment[] {
    if (this.phase !== 'idle') throw new Error('SynProbe.start called twice');
    this.phase = 'syn-sent';
    return [this.syn(now)];
  }

  /** When `poll` must be called next; Infinity when nothing is pending. */
  pollAt(): Millis {
    if (this.phase === 'done') return Infinity;
    return Math.min(this.nextRetransmit, this.config.deadline);
  }

  poll(now: Millis): OutgoingSegment[] {
    if (this.phase === 'done') return [];
    if (now >= this.config.deadline) {
      if (this.phase === 'closing' && this.openOutcome) {
        // The port answered; only the orderly close did not finish. Abort it and keep the verdict.
        this.finish(Object.assign({}, this.openOutcome, {closedCleanly: false}));
        return [this.reset(seqAdd(this.config.isn, 2), seqAdd(this.serverIsn, 1))];
      }
      this.finish({kind: 'timeout', attempts: this.attempts});
      return [];
    }
    if (this.phase === 'syn-sent' && now >= this.nextRetransmit) return [this.syn(now)];
    return [];
  }

  /** Feeds one segment of our flow (the caller has already matched addresses and ports). */
  receive(now: Millis, segment: TcpSegment): OutgoingSegment[] {
    if (segment.sourcePort !== this.config.remotePort || segment.destinationPort !== this.config.localPort) return [];
    switch (this.phase) {
      case 'syn-sent':
        return this.receiveInSynSent(now, segment);
      case 'closing':
        return this.receiveWhileClosing(segment);
      default:
        return [];
    }
  }

  private receiveInSynSent(now: Millis, segment: TcpSegment): OutgoingSegment[] {
    const expectedAck = seqAdd(this.config.isn, 1);
    const hasAck = segment.has(TcpFlags.ACK);
    if (segment.has(TcpFlags.RST)) {
      if (!hasAck || segment.acknowledgmentNumber !== expectedAck) {
        this.notes.push(`ignored RST without an acceptable ACK (ack ${segment.acknowledgmentNumber})`);
        return [];
      }
      this.finish({kind: 'refused', rttMs: this.rttFor(now, segment), attempts: this.attempts});
      return [];
    }
    if (!segment.has(TcpFlags.SYN) || !hasAck) return [];
    if (segment.acknowledgmentNumber !== expectedAck) {
      this.notes.push(`reset a SYN-ACK acknowledging ${segment.acknowledgmentNumber}, expected ${expectedAck}`);
      return [this.reset(segment.acknowledgmentNumber, undefined)];
    }
    this.serverIsn = segment.sequenceNumber;
    const open = {
      kind: 'open' as const,
      rttMs: this.rttFor(now, segment),
      attempts: this.attempts,
      peerOptions: segment.options,
    };
    const serverNext = seqAdd(segment.sequenceNumber, 1);
    if (this.config.close === 'rst') {
      this.finish(open);
      return [this.reset(expectedAck, serverNext)];
    }
    this.openOutcome = open;
    this.phase = 'closing';
    this.nextRetransmit = Infinity;
    return [
      this.segment(expectedAck, serverNext, TcpFlags.ACK),
      this.segment(expectedAck, serverNext, TcpFlags.FIN | TcpFlags.ACK),
    ];
  }

  /** After our FIN: wait for the server's FIN (acking ours), ACK it, done. Re-ACK a duplicated SYN-ACK. */
  private receiveWhileClosing(segment: TcpSegment): OutgoingSegment[] {
    const ourNext = seqAdd(this.config.isn, 1);
    const serverNext = seqAdd(this.serverIsn, 1);
    if (segment.has(TcpFlags.RST)) {
      this.notes.push('server reset the connection during the orderly close');
      this.finish(Object.assign({}, this.openOutcome!, {closedCleanly: false}));
      return [];
    }
    if (segment.has(TcpFlags.SYN)) {
      return [this.segment(ourNext, serverNext, TcpFlags.ACK), this.segment(ourNext, serverNext, TcpFlags.FIN | TcpFlags.ACK)];
    }
    if (segment.has(TcpFlags.FIN)) {
      // Data before the FIN (a banner) advances the sequence; we accept and acknowledge it all.
      const finSeq = seqAdd(segment.sequenceNumber, segment.payload.length);
      this.finish(Object.assign({}, this.openOutcome!, {closedCleanly: true}));
      return [this.segment(seqAdd(ourNext, 1), seqAdd(finSeq, 1), TcpFlags.ACK)];
    }
    return [];
  }

  private rttFor(now: Millis, segment: TcpSegment): Millis {
    const echo = segment.options.timestamp?.echo;
    const base = this.config.timestampBase ?? 0;
    if (echo !== undefined) {
      const attempt = (echo - base) >>> 0;
      const sent = this.sentAt[attempt];
      if (sent !== undefined) return now - sent;
    }
    return now - (this.sentAt[this.sentAt.length - 1] ?? now);
  }

  private syn(now: Millis): OutgoingSegment {
    const attempt = this.attempts++;
    this.sentAt[attempt] = now;
    if (attempt > 0) this.rto *= 2;
    this.nextRetransmit = now + this.rto;
    const options: TcpOptions = {
      mss: this.config.mss,
      sackPermitted: true,
      // TSval encodes the attempt number so the echo identifies which SYN was answered.
      timestamp: {value: ((this.config.timestampBase ?? 0) + attempt) >>> 0, echo: 0},
      windowScale: this.config.windowScale ?? 7,
    };
    return outgoing(this.config, {sequenceNumber: this.config.isn, acknowledgmentNumber: 0, flags: TcpFlags.SYN, window: OUR_WINDOW, options});
  }

  private segment(seq: number, ack: number, flags: number): OutgoingSegment {
    return outgoing(this.config, {sequenceNumber: seq, acknowledgmentNumber: ack, flags, window: OUR_WINDOW >> (this.config.windowScale ?? 7)});
  }

  /** RST|ACK when we know the peer's sequence, bare RST (seq = their ACK) for stale SYN-ACKs (RFC 9293). */
  private reset(seq: number, ack: number | undefined): OutgoingSegment {
    return ack === undefined
      ? outgoing(this.config, {sequenceNumber: seq, acknowledgmentNumber: 0, flags: TcpFlags.RST, window: 0})
      : outgoing(this.config, {sequenceNumber: seq, acknowledgmentNumber: ack, flags: TcpFlags.RST | TcpFlags.ACK, window: 0});
  }

  private finish(outcome: SynProbeOutcome): void {
    this.result = outcome;
    this.phase = 'done';
    this.nextRetransmit = Infinity;
  }
}
