/**
 * DNS over TCP through the VIP path, for a reply that came back truncated (TC) over UDP (RFC 7766 section 5):
 * the userspace TCP to VIP:port at the real server's MAC, the query behind its 2-byte length, one reply read
 * the same way. Its own source port and flow: the UDP exchange's is done.
 */
import type {RunContext} from '../../plugin-api/plugin.js';
import type {TargetOptions} from '../common/target.js';
import {openVipConnector} from '../common/vip-connector.js';
import {frameForTcp, messageFromTcp} from './message.js';

/** A reply over TCP is at most 65535 bytes behind its length. */
const MAX_TCP_MESSAGE = 2 + 65535;

export type TcpExchangeOutcome =
  | {readonly kind: 'message'; readonly message: Buffer; readonly elapsedMs: number}
  | {readonly kind: 'refused' | 'reset' | 'closed' | 'timeout' | 'error'; readonly message?: string};

export async function queryOverTcp(target: TargetOptions, context: RunContext, query: Buffer): Promise<TcpExchangeOutcome> {
  const connector = await openVipConnector(target, context, 'DNS over TCP after a truncated UDP reply', {maxReceiveBytes: MAX_TCP_MESSAGE});
  const started = performance.now();
  const socket = connector.connect();
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (outcome: TcpExchangeOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({kind: 'timeout'}), Math.max(0, context.deadline - performance.now()));
    socket.once('connect', () => socket.write(frameForTcp(query)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const message = messageFromTcp(received);
      if (message) finish({kind: 'message', message, elapsedMs: performance.now() - started});
    });
    socket.on('end', () => finish({kind: 'closed'}));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const kind = error.code === 'ECONNREFUSED' ? 'refused' : error.code === 'ECONNRESET' ? 'reset' : error.code === 'ETIMEDOUT' ? 'timeout' : 'error';
      finish({kind, message: error.message});
    });
  });
}
