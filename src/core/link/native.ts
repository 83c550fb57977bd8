/**
 * vipcheck's native addon (native/packet_socket.c, built by node-gyp into build/Release at the package root):
 * the packet socket, source-port reservation, and a netlink socket (native/netlink_socket.c, for core/netlink).
 * Loaded once, on first use.
 */
import {existsSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {nodeRequire} from '../node-require.js';
import {LinkError} from './link.js';

export interface NativeAddon {
  /** Throws with the system's reason; see PacketSocketLink. */
  open(
    interfaceName: string,
    program: Buffer,
    snapLength: number,
    receiveBufferBytes: number,
    promiscuous: boolean,
    /** `status`: the kernel's tp_status for the frame (its checksum bits: frame-integrity.ts). */
    onFrame: (frame: Buffer, status: number) => void,
    onError: (message: string) => void,
    onWritable: () => void,
    /** The bulk receive offload's hand-off (native/bulk_receive.c). */
    onBulk: (slot: number, chunks: Buffer[], firstSeq: number, lastAckSent: number, tsRecent: number, frames: number, acks: number) => void,
    framesPerWakeup?: number,
  ): {handle: unknown; hardwareType: number};
  /** Arms slot `slot` (-1: a new one); returns the slot, -1 when none is free. `fields`: bulk_receive.h's order. */
  bulkArm(handle: unknown, slot: number, ackFrame: Buffer, fields: Uint32Array): number;
  bulkPause(handle: unknown, slot: number): void;
  bulkRelease(handle: unknown, slot: number): void;
  /** 0 sent; 1 EAGAIN (watchWritable tells when to retry); 2 ENOBUFS (retry shortly). Throws on other errors. */
  send(handle: unknown, frame: Buffer): 0 | 1 | 2;
  watchWritable(handle: unknown): void;
  close(handle: unknown): void;
  /**
   * A listening TCP socket on `port` (default: an ephemeral one) of a local address (4 or 16 bytes); with
   * `datagram`, a bound UDP socket instead.
   */
  reservePort(address: Buffer, port?: number, datagram?: boolean): {fd: number; port: number};
  releasePort(fd: number): void;
  /** An AF_NETLINK socket of `protocol` bound to a kernel-chosen port id; each datagram from the kernel goes to onMessage. */
  netlinkOpen(protocol: number, onMessage: (datagram: Buffer) => void, onError: (message: string) => void): {handle: unknown; portId: number};
  /** Sends one datagram to the kernel; throws with the system's reason. */
  netlinkSend(handle: unknown, message: Buffer): void;
  netlinkClose(handle: unknown): void;
}

let addon: NativeAddon | undefined;

function addonPath(): string {
  // The check runs from a CommonJS bundle in dist/ (where __dirname exists and import.meta does not); the ES
  // module build (dist/core/link/) and the tests (src/core/link/) have only import.meta, three levels down.
  // Mocha's tsx hook loads the sources as CommonJS too: there __dirname is src/core/link, three levels down.
  if (typeof __dirname === 'string') {
    const bundled = join(__dirname, '..', 'build', 'Release', 'packet_socket.node');
    const sources = join(__dirname, '..', '..', '..', 'build', 'Release', 'packet_socket.node');
    return !existsSync(bundled) && existsSync(sources) ? sources : bundled;
  }
  return fileURLToPath(new URL('../../../build/Release/packet_socket.node', import.meta.url));
}

export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  try {
    addon = nodeRequire()(addonPath()) as NativeAddon;
  } catch (error) {
    throw new LinkError(
      `vipcheck's native addon is not built (${(error as Error).message.split('\n')[0]}): ` +
        // An install whose scripts were skipped (npm --ignore-scripts, strict allowScripts) lands here too.
        `install python3, make and g++, then run npm run build:native in ${join(dirname(addonPath()), '..', '..')}`,
    );
  }
  return addon;
}
