/**
 * The backup-role path: an ordinary kernel TCP connect to RIP:port, bounded by the same deadline as the VIP
 * path (the original checkers' fallback had no timeout at all).
 */
import {connect} from 'node:net';
import type {IpAddress} from '../../core/wire/address.js';

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
