/**
 * One request at a time over a netlink socket: send it, collect its replies (a dump's many parts until
 * NLMSG_DONE, or the acknowledgement), within a deadline. The transport is the addon's AF_NETLINK socket, or any
 * NetlinkTransport (tests use an in-memory kernel).
 */
import {EnvironmentError} from '../errors.js';
import {nativeAddon} from '../link/native.js';
import {
  describeErrno,
  encodeMessage,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  parseErrorReply,
  parseMessages,
  type NetlinkMessage,
} from './message.js';

export const NETLINK_GENERIC = 16;
const DEFAULT_DEADLINE_MS = 5000;

/** The kernel refused a request; `errno` is positive (1 EPERM, 2 ENOENT, ...). */
export class NetlinkError extends EnvironmentError {
  override readonly name = 'NetlinkError';
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

export interface NetlinkTransport {
  readonly portId: number;
  send(message: Buffer): void;
  close(): void;
}

/** Opens a transport whose incoming datagrams and errors go to the two callbacks. */
export type NetlinkTransportFactory = (onDatagram: (datagram: Buffer) => void, onError: (message: string) => void) => NetlinkTransport;

export function addonTransport(protocol: number): NetlinkTransportFactory {
  return (onDatagram, onError) => {
    const addon = nativeAddon();
    let opened: {handle: unknown; portId: number};
    try {
      opened = addon.netlinkOpen(protocol, onDatagram, onError);
    } catch (error) {
      throw new EnvironmentError(`cannot open a netlink socket: ${(error as Error).message}`);
    }
    return {
      portId: opened.portId,
      send: (message) => addon.netlinkSend(opened.handle, message),
      close: () => addon.netlinkClose(opened.handle),
    };
  };
}

interface Pending {
  readonly sequence: number;
  readonly dump: boolean;
  readonly replies: NetlinkMessage[];
  readonly resolve: (replies: NetlinkMessage[]) => void;
  readonly reject: (error: Error) => void;
}

export interface RequestOptions {
  /** NLM_F_DUMP: every entry, until NLMSG_DONE. Otherwise the kernel is asked for an acknowledgement. */
  readonly dump?: boolean;
  readonly deadlineMs?: number;
  /** Names the request in errors: "IPVS GET_DEST". */
  readonly what: string;
}

export class NetlinkConnection {
  private readonly transport: NetlinkTransport;
  private sequence = Math.floor(Math.random() * 0x7fffffff);
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: string | undefined;

  constructor(factory: NetlinkTransportFactory) {
    this.transport = factory(
      (datagram) => this.onDatagram(datagram),
      (message) => this.onError(message),
    );
  }

  /** Sends one request (after any in flight) and resolves with its replies (not the DONE or the ack). */
  request(type: number, payload: Buffer, options: RequestOptions): Promise<NetlinkMessage[]> {
    const run = this.queue.then(() => this.send(type, payload, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.failure ??= 'the netlink socket is closed';
    this.pending?.reject(new EnvironmentError(`netlink: ${this.failure}`));
    this.pending = undefined;
    this.transport.close();
  }

  private send(type: number, payload: Buffer, options: RequestOptions): Promise<NetlinkMessage[]> {
    if (this.failure !== undefined) return Promise.reject(new EnvironmentError(`${options.what}: ${this.failure}`));
    const sequence = (this.sequence = (this.sequence + 1) >>> 0);
    const dump = options.dump === true;
    const flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
    const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    return new Promise<NetlinkMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new EnvironmentError(`${options.what}: no complete reply from the kernel within ${deadlineMs} ms`));
      }, deadlineMs);
      const settle = <T>(done: (value: T) => void) => (value: T): void => {
        clearTimeout(timer);
        this.pending = undefined;
        done(value);
      };
      const what = options.what;
      this.pending = {
        sequence,
        dump,
        replies: [],
        resolve: settle(resolve),
        reject: settle((error: Error) => reject(error.message.startsWith(what) ? error : rename(error, what))),
      };
      try {
        this.transport.send(encodeMessage({type, flags, sequence, portId: this.transport.portId}, payload));
      } catch (error) {
        this.pending.reject(new EnvironmentError(`netlink send: ${(error as Error).message}`));
      }
    });
  }

  private onDatagram(datagram: Buffer): void {
    const pending = this.pending;
    if (pending === undefined) return; // a late reply to a request that ran into its deadline
    const parsed = parseMessages(datagram);
    if (!parsed.ok) return pending.reject(new EnvironmentError(parsed.error));
    for (const message of parsed.value) {
      if (message.sequence !== pending.sequence || message.type === NLMSG_NOOP) continue;
      if (message.type === NLMSG_ERROR) {
        const reply = parseErrorReply(message);
        if (!reply.ok) return pending.reject(new EnvironmentError(reply.error));
        if (reply.value.errno === 0) return pending.resolve(pending.replies);
        const reason = reply.value.kernelMessage ? `: ${reply.value.kernelMessage}` : '';
        return pending.reject(new NetlinkError(reply.value.errno, `the kernel says ${describeErrno(reply.value.errno)}${reason}`));
      }
      if (message.type === NLMSG_DONE) return pending.resolve(pending.replies);
      pending.replies.push(message);
      // A reply to a non-dump request comes before its acknowledgement; a dump's parts come until DONE.
    }
  }

  private onError(message: string): void {
    this.failure = message;
    this.pending?.reject(new EnvironmentError(`netlink: ${message}`));
  }
}

function rename(error: Error, what: string): Error {
  const renamed = error instanceof NetlinkError ? new NetlinkError(error.errno, `${what}: ${error.message}`) : new EnvironmentError(`${what}: ${error.message}`);
  return renamed;
}
