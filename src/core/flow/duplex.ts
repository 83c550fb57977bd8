/**
 * A TcpConnection presented as a net.Socket-like `stream.Duplex`, so Node's own HTTP client
 * (`http.request({createConnection})`) and TLS (`tls.connect({socket})`) run over the userspace TCP unchanged:
 * vipcheck never parses HTTP or speaks TLS by hand.
 *
 * What Node's clients rely on (node-stack.md, "Reusing Node's HTTP and TLS over your own transport"):
 * - `connecting` is true until the handshake completes, then `'connect'` (and `'ready'`) is emitted. Writes made
 *   before that are accepted: they wait in the connection's send queue and leave with the handshake's ACK.
 * - `setTimeout(ms, cb)` arms an idle timer that emits `'timeout'` (it does not close anything, as in net);
 *   `setNoDelay` and `setKeepAlive` exist and do nothing: we never delay writes (no Nagle; writes of one tick
 *   are coalesced) and a check's connection is too short-lived for keep-alive probes.
 * - `end()` sends a FIN after the queued data; `destroy()` before both directions have finished sends a RST.
 * - Errors are Error objects with net's codes: ECONNREFUSED, ECONNRESET, ETIMEDOUT, and
 *   ERR_TCP_RECEIVE_LIMIT when the peer sent more than the connection's maxReceiveBytes.
 *
 * Backpressure: data moves from the connection to the stream only while the stream wants it (`_read` called
 * and `push()` returned true). Data the stream did not take stays in the connection's receive buffer, whose
 * free space is the window we advertise, so a slow reader closes the peer's window instead of growing memory.
 */
import {Duplex} from 'node:stream';
import type {FrameLink} from '../link/link.js';
import type {TcpConnection, TcpErrorReason} from '../tcp/connection.js';
import {realClock, startDriving, type DriveClock, type DriveHandle, type DriveOptions, type ScheduledTimer} from './drive.js';
import type {TcpFlow} from './tcp-flow.js';

export interface TcpDuplexOptions extends Omit<DriveOptions, 'afterStep' | 'startAtEndOfTurn'> {
  readonly link: FrameLink;
  readonly flow: TcpFlow;
  /** A connection not started yet; the duplex starts it at the end of the current event-loop turn. */
  readonly connection: TcpConnection;
  /** As net.Socket: false (the default) ends our side when the peer's FIN has been read. */
  readonly allowHalfOpen?: boolean;
  readonly readableHighWaterMark?: number;
  readonly writableHighWaterMark?: number;
}

/** net-style codes for the connection's failure reasons. */
export const TCP_ERROR_CODES: Readonly<Record<TcpErrorReason, string>> = {
  refused: 'ECONNREFUSED',
  reset: 'ECONNRESET',
  timeout: 'ETIMEDOUT',
  'receive-limit': 'ERR_TCP_RECEIVE_LIMIT',
};

/** The error a TcpDuplex is destroyed with when its connection fails. */
export class TcpConnectionError extends Error {
  override readonly name = 'TcpConnectionError';

  constructor(
    message: string,
    /** net's code (ECONNREFUSED, ECONNRESET, ETIMEDOUT) or ERR_TCP_RECEIVE_LIMIT. */
    readonly code: string,
    readonly reason: TcpErrorReason,
    /** As in net errors: `connect` while the handshake was under way, else `read`. */
    readonly syscall: 'connect' | 'read',
    readonly address: string,
    readonly port: number,
  ) {
    super(message);
  }
}

type WriteCallback = (error?: Error | null) => void;

export class TcpDuplex extends Duplex {
  /** True until the handshake completes (net.Socket's flag; Node's HTTP client waits on it). */
  connecting = true;
  /** Application bytes handed to the stream's reader. */
  bytesRead = 0;
  /** Settles when the connection's driver has stopped (after any TIME-WAIT); never rejects. */
  readonly settled: Promise<void>;
  private readonly connection: TcpConnection;
  private readonly flow: TcpFlow;
  private readonly clock: DriveClock;
  private readonly driver: DriveHandle;
  private written = 0;
  /** The stream asked for data (`_read`) and has not refused a push since. */
  private wantsData = false;
  private endPushed = false;
  /** The rest of a write the send buffer could not take yet. */
  private pendingWrite: {data: Buffer; callback: WriteCallback} | undefined;
  private idleMs = 0;
  private idleTimer: ScheduledTimer | undefined;
  private referenced = true;

  constructor(options: TcpDuplexOptions) {
    super({
      allowHalfOpen: options.allowHalfOpen ?? false,
      ...(options.readableHighWaterMark !== undefined ? {readableHighWaterMark: options.readableHighWaterMark} : {}),
      ...(options.writableHighWaterMark !== undefined ? {writableHighWaterMark: options.writableHighWaterMark} : {}),
    });
    this.connection = options.connection;
    this.flow = options.flow;
    this.clock = options.clock ?? realClock;
    const {link, trace} = options;
    this.driver = startDriving(link, this.flow, this.connection, {
      clock: this.clock,
      ...(trace ? {trace} : {}),
      // The stream's user (an HTTP client) sets itself up after creating us: let the SYN leave after that.
      startAtEndOfTurn: true,
      afterStep: () => this.onStep(),
    });
    this.settled = this.driver.done.then(
      () => undefined,
      (error: unknown) => {
        this.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** The engine underneath: state, counters, negotiated options, RTT. */
  get tcp(): TcpConnection {
    return this.connection;
  }

  get pending(): boolean {
    return this.connecting;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  get bytesWritten(): number {
    return this.written;
  }

  get remoteAddress(): string {
    return this.flow.endpoints.remoteIp.toString();
  }

  get remotePort(): number {
    return this.flow.endpoints.remotePort;
  }

  get remoteFamily(): 'IPv4' | 'IPv6' {
    return this.flow.endpoints.remoteIp.family === 4 ? 'IPv4' : 'IPv6';
  }

  get localAddress(): string {
    return this.flow.endpoints.localIp.toString();
  }

  get localPort(): number {
    return this.flow.endpoints.localPort;
  }

  get localFamily(): 'IPv4' | 'IPv6' {
    return this.flow.endpoints.localIp.family === 4 ? 'IPv4' : 'IPv6';
  }

  /** The idle timeout set by setTimeout (0: none). */
  get timeout(): number {
    return this.idleMs;
  }

  address(): {address: string; family: string; port: number} {
    return {address: this.localAddress, family: this.localFamily, port: this.localPort};
  }

  /** As net.Socket: emit 'timeout' after `ms` without activity (0 disables); `callback` listens once. */
  setTimeout(ms: number, callback?: () => void): this {
    this.idleMs = ms;
    if (callback) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.touch();
    return this;
  }

  /** Accepted for net.Socket compatibility (the arguments are ignored): writes are never delayed (no Nagle). */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** Accepted for net.Socket compatibility (the arguments are ignored): a check's connection is too short-lived for keep-alive probes. */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  /** The connection's timers keep the process alive (the default). */
  ref(): this {
    this.referenced = true;
    this.driver.ref();
    this.idleTimer?.ref?.();
    return this;
  }

  /** The connection's timers do not keep the process alive. */
  unref(): this {
    this.referenced = false;
    this.driver.unref();
    this.idleTimer?.unref?.();
    return this;
  }

  override _read(): void {
    this.wantsData = true;
    this.pump();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    if (!this.connection.canWrite) {
      callback(this.writeClosedError());
      return;
    }
    this.written += chunk.length;
    this.touch();
    this.offer(chunk, callback);
  }

  override _final(callback: WriteCallback): void {
    this.connection.shutdown();
    this.driver.wake();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    if (this.pendingWrite) {
      const {callback: writeCallback} = this.pendingWrite;
      this.pendingWrite = undefined;
      writeCallback(error ?? this.writeClosedError());
    }
    if (!this.connection.finished) {
      // After both directions finished, let the connection complete its close (LAST-ACK, TIME-WAIT) on its
      // own; any other destroy is an abort, and the peer must hear of it (RST).
      const graceful = !error && this.writableFinished && this.connection.remoteFinished;
      if (!graceful) this.connection.abort();
      this.driver.wake();
    }
    callback(error);
  }

  /** Hands bytes to the send buffer; the write completes when all of them are in (backpressure otherwise). */
  private offer(data: Buffer, callback: WriteCallback): void {
    const taken = this.connection.write(data);
    this.driver.wake();
    if (taken === data.length) callback();
    else this.pendingWrite = {data: data.subarray(taken), callback};
  }

  /** Drains the connection's events after each step of the driver. */
  private onStep(): void {
    for (const event of this.connection.takeEvents()) {
      if (this.destroyed) continue;
      switch (event.type) {
        case 'established':
          this.connecting = false;
          this.touch();
          this.emit('connect');
          this.emit('ready');
          break;
        case 'data':
          this.touch();
          this.pump();
          break;
        case 'remote-fin':
          this.pump();
          break;
        case 'writable':
          if (this.pendingWrite && this.connection.canWrite) {
            const {data, callback} = this.pendingWrite;
            this.pendingWrite = undefined;
            this.offer(data, callback);
          }
          break;
        case 'error':
          this.destroy(this.toError(event.reason, event.message));
          break;
        case 'closed':
          break;
      }
    }
  }

  /** Moves received bytes into the stream while it wants them; ends it after the peer's FIN. */
  private pump(): void {
    let read = false;
    while (this.wantsData) {
      const chunk = this.connection.read();
      if (!chunk) break;
      read = true;
      this.bytesRead += chunk.length;
      this.wantsData = this.push(chunk);
    }
    if (!this.endPushed && this.connection.remoteFinished && this.connection.readableLength === 0) {
      this.endPushed = true;
      this.push(null);
    }
    if (read) this.driver.wake(); // reading may have opened the window enough for an update
  }

  private touch(): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    if (this.idleMs <= 0 || this.destroyed) return;
    this.idleTimer = this.clock.schedule(this.clock.now() + this.idleMs, () => {
      this.idleTimer = undefined;
      if (!this.destroyed) this.emit('timeout');
    });
    if (!this.referenced) this.idleTimer.unref?.();
  }

  private toError(reason: TcpErrorReason, message: string): TcpConnectionError {
    const code = TCP_ERROR_CODES[reason];
    const syscall = this.connecting ? 'connect' : 'read';
    const target = this.remoteFamily === 'IPv6' ? `[${this.remoteAddress}]:${this.remotePort}` : `${this.remoteAddress}:${this.remotePort}`;
    return new TcpConnectionError(`${syscall} ${code} ${target} (${message})`, code, reason, syscall, this.remoteAddress, this.remotePort);
  }

  private writeClosedError(): Error {
    return Object.assign(new Error('This socket has been ended by the other party or closed'), {code: 'EPIPE'});
  }
}
