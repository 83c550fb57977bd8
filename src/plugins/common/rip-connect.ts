/**
 * The backup-role path: an ordinary kernel TCP connect to RIP:port, bounded by the same deadline as the VIP
 * path (the original checkers' fallback had no timeout at all).
 */
import type * as Net from 'node:net';
import {nodeRequire} from '../../core/node-require.js';
import {chooseEgress} from '../../core/neighbor/route.js';
import type {IpAddress} from '../../core/wire/address.js';
import type {TargetOptions} from './target.js';

export type RipConnectOutcome =
  | {readonly kind: 'open'; readonly ms: number}
  | {readonly kind: 'refused'; readonly ms: number}
  | {readonly kind: 'timeout'}
  | {readonly kind: 'error'; readonly code: string; readonly ms: number};

export function ripConnect(
  rs: IpAddress,
  port: number,
  deadline: number,
  options: {source?: IpAddress; cleanClose?: boolean} = {},
): Promise<RipConnectOutcome> {
  const started = performance.now();
  // Loaded here, not at the top: the VIP path never needs node:net (with stream, ~2 ms of every run).
  const {connect} = nodeRequire()('node:net') as typeof Net;
  return new Promise((resolve) => {
    const socket = connect({
      host: rs.toString(),
      port,
      family: rs.family,
      ...(options.source && options.source.family === rs.family ? {localAddress: options.source.toString()} : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({kind: 'timeout'});
    }, Math.max(0, deadline - started));
    socket.once('connect', () => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (options.cleanClose) socket.end();
      else socket.resetAndDestroy();
      resolve({kind: 'open', ms});
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      socket.destroy();
      resolve(error.code === 'ECONNREFUSED' ? {kind: 'refused', ms} : {kind: 'error', code: error.code ?? error.message, ms});
    });
  });
}

/**
 * The source for a kernel connect to RIP:port. Left to itself, Linux prefers a /128 IPv6 VIP on the director's
 * interface as the source (its longest-match score is capped by the address's own prefix), and the real
 * server, which holds the VIP itself, then answers itself: a healthy server times out and one without the VIP
 * passes. So bind the subnet address the VIP path would use, when there is one.
 */
export function ripSource(target: TargetOptions): IpAddress | undefined {
  if (target.source) return target.source;
  try {
    return chooseEgress(target.rs, target.interfaceName, undefined, target.tunnel !== undefined).source;
  } catch {
    return undefined; // not on-link or no route: let the kernel choose; the connect itself reports
  }
}

