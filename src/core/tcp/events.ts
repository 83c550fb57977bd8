/**
 * What a TcpConnection tells its application. Events are queued inside the sans-IO machine and drained with
 * `takeEvents()` after each call into it, in the order they happened (e.g. `data` before `remote-fin` when a
 * segment carries the last bytes and the FIN).
 */

/** RFC 9293 states of an active opener; there is no LISTEN or SYN-RECEIVED (see docs/tcp-engine.md). */
export type TcpState =
  | 'closed'
  | 'syn-sent'
  | 'established'
  | 'fin-wait-1'
  | 'fin-wait-2'
  | 'close-wait'
  | 'closing'
  | 'last-ack'
  | 'time-wait';

/**
 * Why a connection failed:
 * - `refused`: RST in reply to our SYN (the VIP is there, nothing listens);
 * - `reset`: the peer reset an established connection (an acceptable RST);
 * - `timeout`: the absolute deadline passed before the connection closed;
 * - `receive-limit`: the peer sent more than `maxReceiveBytes` (we reset the connection).
 */
export type TcpErrorReason = 'refused' | 'reset' | 'timeout' | 'receive-limit';

export type TcpEvent =
  /** The handshake completed; writes queued before it are on their way. */
  | {readonly type: 'established'}
  /** `bytes` more in-order bytes can be read with `read()`. */
  | {readonly type: 'data'; readonly bytes: number}
  /** The send queue was full and has room again. */
  | {readonly type: 'writable'}
  /** The peer's FIN arrived in order: after the readable bytes, the stream has ended. */
  | {readonly type: 'remote-fin'}
  /** The connection failed; `closed` follows. */
  | {readonly type: 'error'; readonly reason: TcpErrorReason; readonly message: string}
  /**
   * The conversation is over: both FINs exchanged (TIME-WAIT or CLOSED), reset, aborted, failed. The machine
   * may still run a short TIME-WAIT afterwards (see `finished`).
   */
  | {readonly type: 'closed'};
