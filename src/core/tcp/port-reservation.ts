/**
 * Reserves an ephemeral source port for a hand-built flow by holding a kernel listening socket on it, so the
 * kernel does not hand the same port to another connection during the check (what the original C checkers did).
 */
import {createServer, type Server} from 'node:net';
import {EnvironmentError} from '../errors.js';
import type {IpAddress} from '../wire/address.js';

export interface PortReservation {
  readonly port: number;
  release(): void;
}

export function reservePort(address: IpAddress): Promise<PortReservation> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new EnvironmentError(`cannot reserve a source port on ${address}: ${error.code ?? error.message}`)),
    );
    server.listen({host: address.toString(), port: 0, exclusive: true, backlog: 1}, () => {
      const info = server.address();
      if (info === null || typeof info === 'string') {
        server.close();
        reject(new EnvironmentError('cannot reserve a source port: no address'));
        return;
      }
      resolve({port: info.port, release: () => server.close()});
    });
  });
}
