/**
 * Scripted exchanges with a sans-IO TcpConnection: the test plays the server segment by segment (real bytes,
 * parsed back, see segments.ts) and the clock by hand. After every call the script polls the connection while
 * it asks for an immediate poll, as a driver would, and fails if that never ends (a machine that spins).
 */
import type {BulkHandoff} from '../../src/core/bulk-receive.js';
import {TcpConnection, type TcpConnectionConfig, type TcpEvent} from '../../src/core/tcp/connection.js';
import type {OutgoingSegment} from '../../src/core/tcp/segment.js';
import {seqAdd} from '../../src/core/wire/seq.js';
import {TcpFlags, type TcpOptions} from '../../src/core/wire/tcp.js';
import {serverSegment, type SegmentSpec} from './segments.js';

export const CLIENT_ISN = 1000;
export const SERVER_ISN = 5000;
export const TS_BASE = 100_000;
/** The server's TSval in scripted SYN-ACKs. */
export const SERVER_TS = 777;

export const BASE_CONFIG: TcpConnectionConfig = {
  localPort: 40000,
  remotePort: 80,
  isn: CLIENT_ISN,
  mss: 1460,
  deadline: 10_000,
  initialRtoMs: 200,
  minRtoMs: 200,
  timestampBase: TS_BASE,
  delayedAckMs: 0,
  timeWaitMs: 500,
};

/** The options of a Linux SYN-ACK. */
export const LINUX_SYN_ACK_OPTIONS: TcpOptions = {mss: 1460, sackPermitted: true, windowScale: 7};

export class Script {
  readonly conn: TcpConnection;
  now = 0;
  /** Everything the connection sent, in order. */
  readonly sent: OutgoingSegment[] = [];
  /** Every event so far, in order. */
  readonly events: TcpEvent[] = [];
  readonly isn: number;
  serverIsn = SERVER_ISN;

  constructor(overrides: Partial<TcpConnectionConfig> = {}) {
    this.conn = new TcpConnection({...BASE_CONFIG, ...overrides});
    this.isn = overrides.isn ?? CLIENT_ISN;
  }

  start(): OutgoingSegment[] {
    return this.settle(this.conn.start(this.now));
  }

  /**
   * Sends the SYN and answers it with a SYN-ACK carrying `options`, plus a timestamp echoing the SYN's when
   * `echoTimestamp` (as Linux does when the client offers timestamps); returns the client's reply.
   */
  handshake(options: TcpOptions = LINUX_SYN_ACK_OPTIONS, extra: Partial<SegmentSpec> = {}, echoTimestamp = true): OutgoingSegment[] {
    const [syn] = this.start();
    const ts = syn!.repr.options?.timestamp;
    return this.receive({
      seq: this.serverIsn,
      ack: seqAdd(this.isn, 1),
      flags: TcpFlags.SYN | TcpFlags.ACK,
      options: {...options, ...(ts && echoTimestamp && !options.timestamp ? {timestamp: {value: SERVER_TS, echo: ts.value}} : {})},
      ...extra,
    });
  }

  /** Feeds one server segment at the current time. */
  receive(spec: SegmentSpec): OutgoingSegment[] {
    return this.settle(this.conn.receive(this.now, serverSegment(spec)));
  }

  /** Hands over what a bulk receive offload took (core/bulk-receive.ts) at the current time. */
  receiveBulk(handoff: BulkHandoff): OutgoingSegment[] {
    return this.settle(this.conn.receiveBulk(this.now, handoff));
  }

  /** Moves the clock to `at` and polls. */
  at(at: number): OutgoingSegment[] {
    this.now = at;
    return this.settle(this.conn.poll(at));
  }

  /** Polls at each timer the connection asks for, up to `until`; returns what was sent on the way. */
  runTimers(until: number): OutgoingSegment[] {
    const out: OutgoingSegment[] = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const next = this.conn.pollAt();
      if (!(next <= until) || this.conn.finished) return out;
      out.push(...this.at(Math.max(this.now, next)));
    }
    throw new Error('runTimers did not converge');
  }

  /** write(), then the poll a driver's wake() does after any application call. */
  write(data: Buffer | string): {taken: number; out: OutgoingSegment[]} {
    const taken = this.conn.write(typeof data === 'string' ? Buffer.from(data) : data);
    return {taken, out: this.wake()};
  }

  /** Reads everything readable, then polls (a window update may go out). */
  readAll(): {data: Buffer; out: OutgoingSegment[]} {
    const chunks: Buffer[] = [];
    for (let chunk = this.conn.read(); chunk; chunk = this.conn.read()) chunks.push(chunk);
    return {data: Buffer.concat(chunks), out: this.wake()};
  }

  shutdown(): OutgoingSegment[] {
    this.conn.shutdown();
    return this.wake();
  }

  abort(): OutgoingSegment[] {
    this.conn.abort();
    return this.wake();
  }

  /** The poll a driver makes after an application call (DriveHandle.wake). */
  wake(): OutgoingSegment[] {
    return this.settle(this.conn.poll(this.now));
  }

  /** The events since the last call. */
  takeEvents(): TcpEvent[] {
    const fresh = this.events.slice(this.eventsSeen);
    this.eventsSeen = this.events.length;
    return fresh;
  }

  private eventsSeen = 0;

  /** Server sequence number `offset` data bytes into its stream. */
  serverSeq(offset: number): number {
    return seqAdd(this.serverIsn, 1 + offset);
  }

  /** Client sequence number `offset` data bytes into its stream. */
  clientSeq(offset: number): number {
    return seqAdd(this.isn, 1 + offset);
  }

  private settle(first: OutgoingSegment[]): OutgoingSegment[] {
    const out = [...first];
    for (let round = 0; this.conn.pollAt() <= this.now; round++) {
      if (round >= 5) throw new Error(`pollAt() stays at ${this.conn.pollAt()} <= now ${this.now}: the machine would spin`);
      out.push(...this.conn.poll(this.now));
    }
    this.sent.push(...out);
    this.events.push(...this.conn.takeEvents());
    return out;
  }
}

const LETTERS: ReadonlyArray<[number, string]> = [
  [TcpFlags.FIN, 'F'],
  [TcpFlags.SYN, 'S'],
  [TcpFlags.RST, 'R'],
  [TcpFlags.PSH, 'P'],
  [TcpFlags.ACK, '.'],
];

/** tcpdump's flag letters for an outgoing segment, e.g. `S`, `.`, `P.`, `FP.`, `R.`. */
export function flags(segment: OutgoingSegment | undefined): string {
  if (!segment) return '(none)';
  return LETTERS.filter(([bit]) => segment.repr.flags & bit).map(([, letter]) => letter).join('');
}

/** Compact description for assertions: `P. seq=1001 len=10 ack=5001 win=2048`. */
export function describeSegment(segment: OutgoingSegment): string {
  const r = segment.repr;
  return `${flags(segment)} seq=${r.sequenceNumber} len=${segment.payload.length} ack=${r.acknowledgmentNumber} win=${r.window}`;
}

/** A deterministic payload: byte i of the stream is (i * 7 + 3) & 0xff, so misplaced bytes show. */
export function pattern(length: number, offset = 0): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = ((offset + i) * 7 + 3) & 0xff;
  return out;
}
