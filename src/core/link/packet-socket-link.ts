/**
 * A frame channel on a real interface: a Linux AF_PACKET socket without a memory-mapped ring, from vipcheck's
 * small native addon (native/packet_socket.c), filtered in the kernel by BPF that bpf.ts compiles.
 *
 * Why not libpcap's capture (node_pcap), which this replaced: libpcap always sets up a TPACKET ring, and the
 * kernel waits for an RCU grace period when the ring is set up and again when it is torn down (10-20 ms each
 * here). Every check is a new process, so that was most of a check's cost above `node -e 0`
 * (docs/benchmarks.md measures both). Facts this file relies on:
 * - frames arrive one per callback as fresh Buffers; the handler may keep them;
 * - frames this socket sends are not delivered back to it by the kernel; frames this host's kernel sends on the
 *   interface are, and are dropped below by their Ethernet source, which keeps the FrameLink contract (nothing
 *   we sent comes back);
 * - every frame comes with the kernel's checksum status for it, and passes the checksum gate
 *   (frame-integrity.ts) before the handler sees it;
 * - an exception in the handler must not escape into the native callback (it would be fatal), so it is kept
 *   for the caller to report;
 * - the socket has a bulk receive offload (native/bulk_receive.c, core/bulk-receive.ts): segments it takes
 *   reach their flow as hand-offs instead of frames, and are not counted by the checksum gate (the kernel
 *   vouched for their checksums). VIPCHECK_BULK_RECEIVE=off turns it off, to rule it out when chasing a problem.
 */
import {performance} from 'node:perf_hooks';
import type {MacAddress} from '../wire/address.js';
import type {BpfFilter} from './bpf.js';
import {FrameIntegrity} from './frame-integrity.js';
import type {BulkHandoff, BulkReceiveFields} from '../bulk-receive.js';
import {LinkError, type BulkReceiveOffload, type BulkReceiveSlot, type FrameHandler, type FrameLink} from './link.js';
import {nativeAddon, type NativeAddon} from './native.js';

export interface PacketLinkOptions {
  readonly interfaceName: string;
  readonly mac: MacAddress;
  /** The kernel filter (bpf.ts builds them from validated values only). */
  readonly filter: Pick<BpfFilter, 'compile'>;
  /** Needed only to see unicast frames between other hosts (passive ARP audit). */
  readonly promiscuous?: boolean;
  /** Kernel receive buffer; a large transfer arrives faster than JavaScript reads it. Default 4 MiB. */
  readonly receiveBufferBytes?: number;
  /**
   * Frames handed to JavaScript per wakeup before the event loop runs its timers again (default 256, the
   * most). A shared socket keeps this small: one flow's burst of 64 KiB GRO frames must not hold up the others.
   */
  readonly framesPerWakeup?: number;
}

/**
 * Frames held while the socket or the device queue is full. A health check is never worth more: beyond this
 * the oldest are dropped (and counted), as a congested wire would, and TCP retransmits.
 */
const MAX_QUEUED_FRAMES = 4096;
/** ENOBUFS (the device queue is full) gives poll nothing to wait for: retry after this long. */
const DEVICE_QUEUE_RETRY_MS = 1;

/** GRO hands us segments far above the MSS (64 KiB and more): keep as much as tcpdump does. */
const SNAP_LENGTH = 262_144;
/** ARPHRD_ETHER and ARPHRD_LOOPBACK (<linux/if_arp.h>): both carry Ethernet headers on a packet socket. */
const ETHERNET_HARDWARE_TYPES = new Set([1, 772]);

export class PacketSocketLink implements FrameLink {
  readonly name: string;
  readonly mac: MacAddress;
  readonly integrity = new FrameIntegrity();
  private readonly addon: NativeAddon;
  private readonly handle: unknown;
  private readonly macBytes: Buffer;
  private handler: FrameHandler | undefined;
  private closed = false;
  /** First error thrown by the handler; kept so the caller can report it instead of crashing in native code. */
  handlerError: unknown;
  /** Why the socket stopped receiving (the interface went down or away), if it did. */
  receiveError: string | undefined;
  /** Frames waiting for room in the socket or the device queue (EAGAIN/ENOBUFS are back-pressure, not errors). */
  private readonly queued: Buffer[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  /** Frames dropped because the queue was full. */
  droppedOnSend = 0;
  /** Frames that had to wait for room (EAGAIN or ENOBUFS) before they went out. */
  deferredSends = 0;
  get bulkReceive(): BulkReceiveOffload | undefined {
    return this.nativeBulk;
  }
  private readonly nativeBulk: NativeBulkReceive | undefined;
  private readonly bulkHandlers = new Map<number, (handoff: BulkHandoff) => void>();

  constructor(options: PacketLinkOptions) {
    this.name = options.interfaceName;
    this.mac = options.mac;
    this.macBytes = options.mac.bytes;
    this.addon = nativeAddon();
    let opened: {handle: unknown; hardwareType: number};
    try {
      opened = this.addon.open(
        options.interfaceName,
        options.filter.compile(),
        SNAP_LENGTH,
        options.receiveBufferBytes ?? 4 * 1024 * 1024,
        options.promiscuous ?? false,
        (frame, status) => this.deliver(frame, status),
        (message) => (this.receiveError ??= message),
        () => this.flush(),
        (slot, chunks, firstSeq, lastAckSent, tsRecent, frames, acks) => this.handOff(slot, {chunks, firstSeq, lastAckSent, tsRecent, frames, acks}),
        options.framesPerWakeup,
      );
    } catch (error) {
      throw new LinkError(describeOpenError(options.interfaceName, (error as Error).message));
    }
    this.handle = opened.handle;
    if (!ETHERNET_HARDWARE_TYPES.has(opened.hardwareType)) {
      this.close();
      throw new LinkError(`interface ${options.interfaceName} is not Ethernet (hardware type ${opened.hardwareType})`);
    }
    this.nativeBulk = process.env.VIPCHECK_BULK_RECEIVE === 'off' ? undefined : new NativeBulkReceive(this.addon, this.handle, this.bulkHandlers);
  }

  private handOff(slot: number, handoff: BulkHandoff): void {
    if (this.closed || !this.nativeBulk) return;
    const counters = this.nativeBulk.counters;
    counters.frames += handoff.frames;
    counters.acks += handoff.acks;
    try {
      this.bulkHandlers.get(slot)?.(handoff);
    } catch (error) {
      this.handlerError ??= error;
    }
  }

  private deliver(frame: Buffer, status: number): void {
    if (this.closed || !this.handler) return;
    if (frame.length >= 12 && this.macBytes.equals(frame.subarray(6, 12))) return;
    try {
      const trust = this.integrity.admit(frame, status);
      if (trust !== undefined) this.handler(frame, performance.now(), trust);
    } catch (error) {
      this.handlerError ??= error;
    }
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw new LinkError(`link ${this.name} is closed`);
    const bytes = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    if (this.queued.length > 0) {
      this.enqueue(bytes);
      return;
    }
    if (this.trySend(bytes) !== 0) this.enqueue(bytes);
  }

  /** 0 sent, else the frame must wait: 1 until the socket is writable, 2 until the device queue drains. */
  private trySend(frame: Buffer): 0 | 1 | 2 {
    let outcome: 0 | 1 | 2;
    try {
      outcome = this.addon.send(this.handle, frame);
    } catch (error) {
      throw new LinkError(`cannot send on ${this.name}: ${(error as Error).message}`);
    }
    if (outcome === 1) this.addon.watchWritable(this.handle);
    else if (outcome === 2) this.retryTimer ??= setTimeout(() => ((this.retryTimer = undefined), this.flush()), DEVICE_QUEUE_RETRY_MS);
    return outcome;
  }

  private enqueue(frame: Buffer): void {
    this.deferredSends++;
    if (this.queued.length >= MAX_QUEUED_FRAMES) {
      this.queued.shift();
      this.droppedOnSend++;
    }
    this.queued.push(frame);
  }

  private flush(): void {
    while (!this.closed && this.queued.length > 0) {
      let outcome: 0 | 1 | 2;
      try {
        outcome = this.trySend(this.queued[0]!);
      } catch (error) {
        // The interface failed under queued frames: report it like a receive error; the flows time out.
        this.receiveError ??= (error as Error).message;
        this.queued.length = 0;
        return;
      }
      if (outcome !== 0) return;
      this.queued.shift();
    }
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.queued.length = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.addon.close(this.handle);
  }
}

/** The fields in bulk_receive.h's order. */
function packFields(fields: BulkReceiveFields, into: Uint32Array): Uint32Array {
  into[0] = fields.rcvNxt;
  into[1] = fields.edge;
  into[2] = fields.acceptUntil;
  into[3] = fields.scale;
  into[4] = fields.peerAck;
  into[5] = fields.peerWindow;
  into[6] = fields.minPayload;
  into[7] = fields.timestamps ? 1 : 0;
  into[8] = fields.tsRecent;
  into[9] = fields.tsval;
  into[10] = fields.lastAckSent;
  return into;
}

class NativeBulkReceive implements BulkReceiveOffload {
  readonly counters = {frames: 0, acks: 0, refused: 0};
  /** Why the offload last refused to arm a flow (a bug if it ever does). */
  lastRefusal: string | undefined;
  /** One array for every arm() call: the addon reads it before returning. */
  private readonly scratch = new Uint32Array(11);

  constructor(
    private readonly addon: NativeAddon,
    private readonly handle: unknown,
    private readonly handlers: Map<number, (handoff: BulkHandoff) => void>,
  ) {}

  open(onData: (handoff: BulkHandoff) => void): BulkReceiveSlot {
    let slot = -1;
    let released = false;
    return {
      arm: (ackFrame, fields) => {
        if (released) return false;
        let armed: number;
        try {
          armed = this.addon.bulkArm(this.handle, slot, ackFrame, packFields(fields, this.scratch));
        } catch (error) {
          // A frame or fields the offload cannot use: this flow runs without it (the engine does everything).
          this.counters.refused++;
          this.lastRefusal = (error as Error).message;
          released = true;
          if (slot >= 0) this.release(slot);
          return false;
        }
        if (armed < 0) return false;
        slot = armed;
        this.handlers.set(slot, onData);
        return true;
      },
      pause: () => {
        if (slot >= 0 && !released) this.addon.bulkPause(this.handle, slot);
      },
      release: () => {
        if (released) return;
        released = true;
        if (slot >= 0) this.release(slot);
      },
    };
  }

  private release(slot: number): void {
    this.handlers.delete(slot);
    this.addon.bulkRelease(this.handle, slot);
  }
}

function describeOpenError(iface: string, message: string): string {
  if (/EPERM|EACCES|not permitted|Permission denied/i.test(message)) {
    return (
      `no permission to open a packet socket on ${iface}: run as root (e.g. via sudo) or give the service ` +
      `CAP_NET_RAW (systemd AmbientCapabilities=CAP_NET_RAW)`
    );
  }
  if (/No such device/i.test(message)) return `interface ${iface} does not exist`;
  if (/not up/i.test(message)) return `interface ${iface} is down`;
  return `cannot open a packet socket on ${iface}: ${message.split('\n')[0]}`;
}
