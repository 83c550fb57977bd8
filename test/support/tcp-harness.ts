/**
 * TEST-ONLY: the engine as a TcpDuplex on one end of an in-memory wire and a TestPeer on the other, with the
 * client's flow built the VIP-path way (dst MAC = the peer's, dst IP = the VIP). Virtual time by default, so
 * seeded loss makes every run identical; pass `clock: realClock` for tests that need real timers (TLS).
 */
import {MemoryWire, faults, seededRandom, type MemoryLink} from '../../src/core/link/memory-link.js';
import {TcpConnection, type TcpConnectionConfig} from '../../src/core/tcp/connection.js';
import {realClock, type DriveClock} from '../../src/core/flow/drive.js';
import {TcpDuplex, type TcpDuplexOptions} from '../../src/core/flow/duplex.js';
import {TcpFlow} from '../../src/core/flow/tcp-flow.js';
import {MacAddress} from '../../src/core/wire/address.js';
import {MemoryBulkReceiveLink} from './memory-bulk-receive.js';
import {CLIENT_IP} from './segments.js';
import {PEER_MAC, PEER_VIP, TestPeer, type TestPeerOptions} from './tcp-test-peer.js';
import {VirtualClock} from './virtual-clock.js';

export const CLIENT_MAC = MacAddress.parse('02:00:00:00:00:02')!;

export interface HarnessOptions {
  readonly clock?: DriveClock;
  readonly peer?: Omit<TestPeerOptions, 'wire' | 'clock'>;
  readonly connection?: Partial<TcpConnectionConfig>;
  readonly duplex?: Partial<Omit<TcpDuplexOptions, 'link' | 'flow' | 'connection' | 'clock'>>;
  /** Frame loss rate applied in both directions, with seeded PRNGs. */
  readonly loss?: number;
  readonly seed?: number;
  /** Give the client's link a bulk receive offload (memory-bulk-receive.ts). */
  readonly bulkReceive?: boolean;
}

export interface Harness {
  readonly wire: MemoryWire;
  readonly clock: DriveClock;
  readonly virtual: VirtualClock | undefined;
  readonly peer: TestPeer;
  /** The client's end of the wire. */
  readonly link: MemoryLink;
  readonly socket: TcpDuplex;
  readonly connection: TcpConnection;
  /** Frames the client sent. */
  readonly clientFrames: () => number;
  /** The client's offload, with `bulkReceive`. */
  readonly offload: MemoryBulkReceiveLink | undefined;
}

export function harness(options: HarnessOptions = {}): Harness {
  const virtual = options.clock ? undefined : new VirtualClock(1000);
  const clock = options.clock ?? virtual!;
  const wire = new MemoryWire();
  wire.now = () => clock.now();
  const link = wire.attach('eth0', CLIENT_MAC);
  const peer = new TestPeer({wire, clock, ...options.peer});
  if (options.loss) {
    const seed = options.seed ?? 1;
    link.faults = faults.lossy(options.loss, seededRandom(seed));
    peer.link.faults = faults.lossy(options.loss, seededRandom(seed * 7919 + 1));
  }
  const flow = new TcpFlow({localMac: CLIENT_MAC, remoteMac: PEER_MAC, localIp: CLIENT_IP, remoteIp: PEER_VIP, localPort: 40000, remotePort: 80}, 1);
  const connection = new TcpConnection({
    localPort: 40000,
    remotePort: 80,
    isn: 0x1234_5678,
    mss: 1460,
    deadline: clock.now() + 300_000,
    initialRtoMs: 200,
    timestampBase: 99,
    ...options.connection,
  });
  const offload = options.bulkReceive ? new MemoryBulkReceiveLink(link) : undefined;
  const socket = new TcpDuplex({link: offload ?? link, flow, connection, clock, ...options.duplex});
  return {wire, clock, virtual, peer, link, socket, connection, clientFrames: () => link.sent.length, offload};
}

/** Waits (in virtual time when the harness has it) until `done()`; real-clock harnesses poll every 5 ms. */
export async function until(h: Harness, done: () => boolean, limitMs = 600_000): Promise<void> {
  if (h.virtual) return h.virtual.run(done, h.virtual.now() + limitMs);
  const start = performance.now();
  while (!done()) {
    if (performance.now() - start > limitMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Collects what the socket reads until it ends or fails. */
export function collect(socket: TcpDuplex): {chunks: Buffer[]; ended: boolean; error: (Error & {code?: string}) | undefined; closed: boolean; data(): Buffer} {
  const state = {
    chunks: [] as Buffer[],
    ended: false,
    closed: false,
    error: undefined as (Error & {code?: string}) | undefined,
    data: () => Buffer.concat(state.chunks),
  };
  socket.on('data', (chunk: Buffer) => state.chunks.push(chunk));
  socket.on('end', () => (state.ended = true));
  socket.on('error', (error) => (state.error = error));
  socket.on('close', () => (state.closed = true));
  return state;
}

export {realClock};
