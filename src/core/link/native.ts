/**
 * vipcheck's native addon (native/packet_socket.c, built by node-gyp into build/Release at the package root):
 * the packet socket, and source-port reservation. Loaded once, on first use.
 */
import {join} from 'node:path';
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
    onFrame: (frame: Buffer) => void,
    onError: (message: string) => void,
  ): {handle: unknown; hardwareType: number};
  send(handle: unknown, frame: Buffer): void;
  close(handle: unknown): void;
  /** A listening TCP socket on an ephemeral port of a local address (4 or 16 bytes). */
  reservePort(address: Buffer): {fd: number; port: number};
  releasePort(fd: number): void;
}

let addon: NativeAddon | undefined;

function addonPath(): string {
  // The check runs from a CommonJS bundle in dist/ (where __dirname exists and import.meta does not); the ES
  // module build (dist/core/link/) and the tests (src/core/link/) have only import.meta, three levels down.
  if (typeof __dirname === 'string') return join(__dirname, '..', 'build', 'Release', 'packet_socket.node');
  return fileURLToPath(new URL('../../../build/Release/packet_socket.node', import.meta.url));
}

export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  try {
    addon = nodeRequire()(addonPath()) as NativeAddon;
  } catch (error) {
    throw new LinkError(
      `vipcheck's native addon is not built (${(error as Error).message.split('\n')[0]}): ` +
        'install make and g++, then run npm ci (or npm run build:native)',
    );
  }
  return addon;
}
