/**
 * TEST-ONLY: a minimal passive-open TCP server on the in-memory wire, standing where a real server's kernel
 * would. It is written independently of src/core/tcp (it shares only the wire codecs and sequence arithmetic),
 * so that the engine is tested against a second implementation rather than against itself.
 *
 * Deliberately simple, and deliberately unlike the engine where that makes the engine work harder:
 * - receives in order only by default: out-of-order segments are dropped and answered with a duplicate ACK,
 *   so the client's retransmission (timeouts, fast retransmit) must recover every loss (`keepOutOfOrder`
 *   holds them and sends SACK blocks instead, like a kernel);
 * - sends without congestion control up to the client's window, cut at the client's MSS (or at
 *   `segmentSize`, which may exceed the MSS to imitate GRO-merged captures), retransmits every range the
 *   client's SACK blocks do not cover after a fixed RTO, and probes a zero window with one byte of new data
 *   (BSD style, where the engine itself probes Linux style);
 * - offers MSS, SACK, timestamps and window scale as configured, and follows what the client offered.
 *
 * Each accepted connection is a PeerConnection with a small application API (write, end, reset, onData, onEnd)
 * that tests use directly or wrap in a Duplex (peer-socket.ts) to feed Node's http/tls servers.
 */
import type {MemoryWire} from '../../src/core/link/memory-link.js';
import type {DriveClock, ScheduledTimer} from '../../src/core/flow/drive.js';
import {IpAddress, MacAddress} from '../../src/core/wire/address.js';
import {seqAdd, seqSub} from '../../src/core/wire/seq.js';
import {TcpFlags, type TcpOptions, type TcpRepr, type TcpSegment} from '../../src/core/wire/tcp.js';
import {FakeRealServer, type TcpEndpoint} from './fake-real-server.js';

export const PEER_MAC = MacAddress.parse('02:00:00:00:00:11')!;
export const PEER_RIP = IpAddress.parse('198.51.100.11')!;
export const PEER_VIP = IpAddress.parse('198.51.100.100')!;

export interface TestPeerOptions {
  readonly wire: MemoryWire;
  readonly clock: DriveClock;
  readonly port?: number;
  readonly isn?: number;
  /** MSS option announced (default 1460). */
  readonly mss?: number;
  /** Window scale offered; null offers none (default 7). */
  readonly windowScale?: number | null;
  readonly sack?: boolean;
  readonly timestamps?: boolean;
  /** Receive window in bytes (default 256 KiB; capped at 65535 without window scaling). */
  readonly receiveWindow?: number;
  /** Payload bytes per segment sent; default the client's MSS less the timestamp option. */
  readonly segmentSize?: number;
  /** Fixed retransmission timeout (default 30 ms). */
  readonly rtoMs?: number;
  /**
   * Keep out-of-order segments and report them in SACK blocks, as real kernels do. Default false: drop
   * them (the worst case for the client's retransmission).
   */
  readonly keepOutOfOrder?: boolean;
  /** Called when a connection is established (the client's ACK of our SYN-ACK arrived). */
  readonly onConnection?: (connection: PeerConnection) => void;
}

export interface PeerStats {
  segmentsSent: number;
  dataSegmentsSent: number;
  retransmittedSegments: number;
  windowProbes: number;
  /** ACKs from the client advertising a zero window. */
  zeroWindowAcks: number;
  outOfOrderDropped: number;
  segmentsReceived: number;
}

export class TestPeer {
  readonly server: FakeRealServer;
  readonly connections: PeerConnection[] = [];
  private readonly byClient = new Map<string, PeerConnection>();

  constructor(readonly options: TestPeerOptions) {
    this.server = new FakeRealServer(options.wire, PEER_MAC, PEER_RIP, [PEER_RIP, PEER_VIP], (segment, _reply, from) => this.receive(segment, from));
  }

  get link() {
    return this.server.link;
  }

  private receive(segment: TcpSegment, from: TcpEndpoint): void {
    if (segment.destinationPort !== (this.options.port ?? 80)) return;
    const key = `${from.ip}:${from.port}`;
    let connection = this.byClient.get(key);
    if (!connection || (connection.state === 'closed' && segment.has(TcpFlags.SYN) && !segment.has(TcpFlags.ACK))) {
      if (!segment.has(TcpFlags.SYN) || segment.has(TcpFlags.ACK)) return; // no listener state for it: ignore
      connection = new PeerConnection(this.options, this.server, from, segment);
      this.byClient.set(key, connection);
      this.connections.push(connection);
      return;
    }
    connection.receive(segment);
  }
}

type PeerState = 'syn-received' | 'established' | 'closed';

export class PeerConnection {
  state: PeerState = 'syn-received';
  readonly stats: PeerStats = {segmentsSent: 0, dataSegmentsSent: 0, retransmittedSegments: 0, windowProbes: 0, zeroWindowAcks: 0, outOfOrderDropped: 0, segmentsReceived: 0};
  /** In-order data received from the client. */
  private readonly inbound: Buffer[] = [];
  finReceived = false;
  resetReceived = false;
  onData: ((chunk: Buffer) => void) | undefined;
  onEnd: (() => void) | undefined;
  onReset: (() => void) | undefined;

  private readonly local: TcpEndpoint;
  private readonly iss: number;
  private rcvNxt: number;
  private tsRecent = 0;
  private readonly useTimestamps: boolean;
  private readonly useSack: boolean;
  private readonly scaling: boolean;
  private readonly ourScale: number;
  private readonly peerScale: number;
  private readonly peerMss: number;
  private peerWindow: number;
  /** Everything the application wrote; offsets below are into it. The FIN sits at offset data.length. */
  private data = Buffer.alloc(0);
  private finQueued = false;
  /** Stream offsets: -1 is the SYN, data starts at 0. */
  private una = -1;
  private nxt = 0;
  private max = 0;
  private dupAcks = 0;
  /** Offsets the client reported holding (SACK), merged, within [una, max). */
  private sacked: Array<[number, number]> = [];
  /** Out-of-order segments held with keepOutOfOrder. */
  private held: Array<{seq: number; payload: Buffer; fin: boolean}> = [];
  private rtoTimer: ScheduledTimer | undefined;
  private persistTimer: ScheduledTimer | undefined;

  constructor(
    private readonly options: TestPeerOptions,
    private readonly server: FakeRealServer,
    readonly remote: TcpEndpoint,
    syn: TcpSegment,
  ) {
    this.local = {mac: server.mac, ip: PEER_VIP, port: options.port ?? 80};
    this.iss = options.isn ?? 0x0100_0000;
    this.rcvNxt = seqAdd(syn.sequenceNumber, 1);
    const offered = syn.options;
    this.useTimestamps = (options.timestamps ?? true) && offered.timestamp !== undefined;
    this.useSack = (options.sack ?? true) && offered.sackPermitted === true;
    this.scaling = options.windowScale !== null && offered.windowScale !== undefined;
    this.ourScale = this.scaling ? (options.windowScale ?? 7) : 0;
    this.peerScale = this.scaling ? offered.windowScale! : 0;
    this.peerMss = offered.mss ?? 536;
    this.peerWindow = syn.window; // never scaled in a SYN
    if (offered.timestamp) this.tsRecent = offered.timestamp.value;
    this.sendSynAck();
  }

  /** Everything received in order so far. */
  receivedData(): Buffer {
    return Buffer.concat(this.inbound);
  }

  /** Queues data to send. */
  write(data: Buffer | string): void {
    if (this.finQueued) throw new Error('test peer: write after end');
    this.data = Buffer.concat([this.data, typeof data === 'string' ? Buffer.from(data) : data]);
    this.trySend();
  }

  /** FIN after the queued data; with `data`, the FIN rides on that data's last segment (as a server's last GSO frame does). */
  end(data?: Buffer | string): void {
    if (data !== undefined) {
      if (this.finQueued) throw new Error('test peer: write after end');
      this.data = Buffer.concat([this.data, typeof data === 'string' ? Buffer.from(data) : data]);
    }
    this.finQueued = true;
    this.trySend();
  }

  /** Aborts with a RST carrying the sequence number the client expects. */
  reset(): void {
    if (this.state === 'closed') return;
    this.send({sequenceNumber: this.seqOf(this.max), acknowledgmentNumber: this.rcvNxt, flags: TcpFlags.RST | TcpFlags.ACK, window: 0});
    this.close();
  }

  get ended(): boolean {
    return this.finQueued;
  }

  /** All our data and FIN acknowledged. */
  get allAcknowledged(): boolean {
    return this.finQueued && this.una === this.data.length + 1;
  }

  receive(segment: TcpSegment): void {
    this.stats.segmentsReceived++;
    if (this.state === 'closed') return;
    if (segment.has(TcpFlags.RST)) {
      this.resetReceived = true;
      this.close();
      this.onReset?.();
      return;
    }
    if (segment.options.timestamp && this.useTimestamps) this.tsRecent = segment.options.timestamp.value;
    if (segment.has(TcpFlags.SYN)) {
      if (this.state === 'syn-received') this.sendSynAck(); // the client's SYN again: our SYN-ACK was lost
      return;
    }
    if (!segment.has(TcpFlags.ACK)) return;
    if (this.state === 'syn-received') {
      if (segment.acknowledgmentNumber !== seqAdd(this.iss, 1)) return;
      this.state = 'established';
      this.una = 0;
      this.cancelRto();
      this.options.onConnection?.(this);
      if (this.state !== 'established') return;
    }
    this.processAck(segment);
    this.processData(segment);
    this.trySend();
  }

  private processAck(segment: TcpSegment): void {
    const ackOffset = this.una + seqSub(segment.acknowledgmentNumber, this.seqOf(this.una));
    const window = segment.window * 2 ** this.peerScale;
    if (window === 0) this.stats.zeroWindowAcks++;
    if (ackOffset > this.una && ackOffset <= this.max) {
      this.una = ackOffset;
      this.dupAcks = 0;
      if (this.nxt < this.una) this.nxt = this.una;
      this.cancelRto();
      if (this.una < this.max) this.armRto();
    } else if (ackOffset === this.una && segment.payload.length === 0 && this.una < this.max && window === this.peerWindow) {
      if (++this.dupAcks === 3) this.retransmit(true);
    }
    this.peerWindow = window;
    if (window > 0) this.cancelPersist();
    for (const [left, right] of segment.options.sackBlocks ?? []) {
      const start = this.una + seqSub(left, this.seqOf(this.una));
      const end = this.una + seqSub(right, this.seqOf(this.una));
      if (end > start) this.sacked.push([Math.max(start, this.una), Math.min(end, this.max)]);
    }
    this.sacked = mergeRanges(this.sacked.filter(([, end]) => end > this.una));
  }

  private processData(segment: TcpSegment): void {
    const payload = segment.payload;
    const fin = segment.has(TcpFlags.FIN);
    if (payload.length === 0 && !fin) {
      // A probe with an old sequence number (the engine's zero-window probe) must be answered.
      if (seqSub(segment.sequenceNumber, this.rcvNxt) < 0) this.sendAck();
      return;
    }
    if (seqSub(this.rcvNxt, segment.sequenceNumber) < 0) {
      if (this.options.keepOutOfOrder) this.held.push({seq: segment.sequenceNumber, payload: Buffer.from(payload), fin});
      else this.stats.outOfOrderDropped++; // in-order only: drop it, the duplicate ACK tells the client
    } else {
      this.takeInOrder(segment.sequenceNumber, payload, fin);
      // Held segments that now continue the stream.
      for (let progress = true; progress && this.held.length > 0; ) {
        progress = false;
        for (const piece of this.held) {
          if (seqSub(this.rcvNxt, piece.seq) >= 0) {
            this.held = this.held.filter((other) => other !== piece);
            this.takeInOrder(piece.seq, piece.payload, piece.fin);
            progress = true;
            break;
          }
        }
      }
    }
    this.sendAck();
  }

  private takeInOrder(seq: number, payload: Buffer, fin: boolean): void {
    if (this.finReceived) return;
    const fresh = payload.subarray(Math.min(seqSub(this.rcvNxt, seq), payload.length));
    if (fresh.length > 0) {
      this.inbound.push(Buffer.from(fresh));
      this.rcvNxt = seqAdd(this.rcvNxt, fresh.length);
      this.onData?.(Buffer.from(fresh));
    }
    if (fin && seqAdd(seq, payload.length) === this.rcvNxt) {
      this.finReceived = true;
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.held = [];
      this.onEnd?.();
    }
  }

  private trySend(): void {
    if (this.state !== 'established') return;
    const length = this.data.length;
    for (;;) {
      const limit = this.una + this.peerWindow;
      if (this.nxt < length && this.nxt < limit) {
        const take = Math.min(this.segmentSize(), length - this.nxt, limit - this.nxt);
        const fin = this.finQueued && this.nxt + take === length;
        this.sendData(this.nxt, take, fin, false);
        this.nxt += take + (fin ? 1 : 0);
      } else if (this.finQueued && this.nxt === length) {
        this.sendData(length, 0, true, false);
        this.nxt = length + 1;
      } else {
        break;
      }
      this.max = Math.max(this.max, this.nxt);
    }
    if (this.una < this.max && !this.rtoTimer) this.armRto();
    if (this.peerWindow === 0 && this.nxt < length && this.una === this.nxt && !this.persistTimer) this.armPersist();
  }

  /** Resends what the client has not acknowledged or SACKed: only the first hole when `firstOnly`. */
  private retransmit(firstOnly: boolean): void {
    const length = this.data.length;
    let offset = this.una;
    while (offset < this.max) {
      const covering = this.sacked.find(([start, end]) => start <= offset && offset < end);
      if (covering) {
        offset = covering[1];
        continue;
      }
      if (offset >= length) {
        this.sendData(length, 0, true, true); // the FIN alone
        break;
      }
      const nextSacked = this.sacked.find(([start]) => start > offset)?.[0] ?? Infinity;
      const take = Math.min(this.segmentSize(), length - offset, nextSacked - offset, this.max - offset);
      const fin = this.finQueued && offset + take === length && this.max > length;
      this.sendData(offset, take, fin, true);
      offset += take + (fin ? 1 : 0);
      if (firstOnly) break;
    }
  }

  private sendData(offset: number, take: number, fin: boolean, retransmission: boolean): void {
    this.stats.dataSegmentsSent++;
    if (retransmission) this.stats.retransmittedSegments++;
    const last = offset + take === this.data.length;
    this.send(
      {
        sequenceNumber: this.seqOf(offset),
        acknowledgmentNumber: this.rcvNxt,
        flags: TcpFlags.ACK | (fin ? TcpFlags.FIN : 0) | (last && take > 0 ? TcpFlags.PSH : 0),
        window: this.windowField(),
      },
      this.data.subarray(offset, offset + take),
    );
  }

  private sendAck(): void {
    this.send({sequenceNumber: this.seqOf(this.max), acknowledgmentNumber: this.rcvNxt, flags: TcpFlags.ACK, window: this.windowField()}, undefined, false, this.sackBlocks());
  }

  /** Up to three SACK blocks for the held segments (offsets from RCV.NXT merged into ranges). */
  private sackBlocks(): Array<[number, number]> | undefined {
    if (!this.useSack || this.held.length === 0) return undefined;
    const ranges = mergeRanges(this.held.map(({seq, payload}) => [seqSub(seq, this.rcvNxt), seqSub(seq, this.rcvNxt) + payload.length]));
    return ranges.slice(-3).map(([start, end]) => [seqAdd(this.rcvNxt, start), seqAdd(this.rcvNxt, end)]);
  }

  private sendSynAck(): void {
    const options: TcpOptions = {mss: this.options.mss ?? 1460};
    if (this.useSack) options.sackPermitted = true;
    if (this.useTimestamps) options.timestamp = {value: this.tsValue(), echo: this.tsRecent};
    if (this.scaling) options.windowScale = this.ourScale;
    this.send({sequenceNumber: this.iss, acknowledgmentNumber: this.rcvNxt, flags: TcpFlags.SYN | TcpFlags.ACK, window: Math.min(0xffff, this.receiveWindow()), options}, undefined, true);
    this.armRto();
  }

  private send(repr: Omit<TcpRepr, 'sourcePort' | 'destinationPort'>, payload?: Buffer, raw = false, sackBlocks?: Array<[number, number]>): void {
    this.stats.segmentsSent++;
    const options: TcpOptions | undefined = raw
      ? repr.options
      : this.useTimestamps || sackBlocks
        ? {...(this.useTimestamps ? {timestamp: {value: this.tsValue(), echo: this.tsRecent}} : {}), ...(sackBlocks ? {sackBlocks} : {})}
        : undefined;
    this.server.sendTcp(this.local, this.remote, {...repr, ...(options ? {options} : {})}, payload);
  }

  private armRto(): void {
    this.cancelRto();
    const clock = this.options.clock;
    this.rtoTimer = clock.schedule(clock.now() + (this.options.rtoMs ?? 30), () => {
      this.rtoTimer = undefined;
      if (this.state === 'closed') return;
      if (this.state === 'syn-received') {
        this.sendSynAck();
        return;
      }
      if (this.una < this.max) {
        this.retransmit(false);
        this.armRto();
      }
    });
  }

  private cancelRto(): void {
    this.rtoTimer?.cancel();
    this.rtoTimer = undefined;
  }

  private armPersist(): void {
    const clock = this.options.clock;
    this.persistTimer = clock.schedule(clock.now() + (this.options.rtoMs ?? 30), () => {
      this.persistTimer = undefined;
      if (this.state !== 'established' || this.peerWindow > 0 || this.nxt >= this.data.length) return;
      this.stats.windowProbes++;
      this.sendData(this.nxt, 1, false, false); // one byte of new data past the window (BSD's probe)
      this.armPersist();
    });
  }

  private cancelPersist(): void {
    this.persistTimer?.cancel();
    this.persistTimer = undefined;
  }

  private close(): void {
    this.state = 'closed';
    this.cancelRto();
    this.cancelPersist();
  }

  private segmentSize(): number {
    return this.options.segmentSize ?? this.peerMss - (this.useTimestamps ? 12 : 0);
  }

  private receiveWindow(): number {
    const window = this.options.receiveWindow ?? 256 * 1024;
    return this.ourScale > 0 ? window : Math.min(window, 0xffff);
  }

  private windowField(): number {
    return Math.min(0xffff, Math.floor(this.receiveWindow() / 2 ** this.ourScale));
  }

  private tsValue(): number {
    return (Math.floor(this.options.clock.now()) + 424242) >>> 0;
  }

  private seqOf(offset: number): number {
    return seqAdd(this.iss, 1 + offset);
  }
}

function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = ranges.filter(([start, end]) => end > start).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [start, end] of sorted) {
    const last = out[out.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}
