/**
 * Reserves an ephemeral source port for a hand-built flow by holding a kernel listening socket on it, so the
 * kernel does not hand the same port to another connection during the check (what the original C checkers did).
 * The socket comes from the native addon: Node's net.Server would load its cluster, child_process, dgram and
 * dns modules on listen() (~2-3 ms of every check, measured).
 */
import {EnvironmentError} from '../errors.js';
import {LinkError} from '../link/link.js';
import {nativeAddon} from '../link/native.js';
import type {IpAddress} from '../wire/address.js';

export interface PortReservation {
  readonly port: number;
  /** Closes the socket; idempotent. */
  release(): void;
}

/**
 * Throws EnvironmentError with the system's reason (an address this host does not hold, no ports left). A UDP
 * reservation is a bound UDP socket: besides keeping the port from others, it stops this host's kernel from
 * answering the server's replies with ICMP port unreachable (to the VIP) while the userspace flow reads them.
 */
export function reservePort(address: IpAddress, protocol: 'tcp' | 'udp' = 'tcp'): PortReservation {
  const addon = nativeAddon();
  let reserved: {fd: number; port: number};
  try {
    reserved = addon.reservePort(address.bytes, 0, protocol === 'udp');
  } catch (error) {
    if (error instanceof LinkError) throw error;
    const reason = (error as Error).message.replace(/^E[A-Z]+: /, '');
    throw new EnvironmentError(`cannot reserve a source port on ${address}: ${reason}`);
  }
  let released = false;
  return {
    port: reserved.port,
    release: () => {
      if (released) return;
      released = true;
      addon.releasePort(reserved.fd);
    },
  };
}
