/**
 * The agent's source ports: an aligned block of ports held for the agent's whole life, so the kernel hands
 * none of them to another connection and one masked kernel filter (bpf.ts toPortBlock) covers every flow.
 *
 * Each port is held by a listening TCP socket on the wildcard address (dual-stack `::` where IPv6 works, else
 * 0.0.0.0): a port with a bound socket is skipped by the kernel's choice of ephemeral ports, for either family.
 * A port already used by something else is left out of the pool. Ports are handed out least recently released
 * first, and a released port rests for `quarantineMs` before it is handed out again, so a late segment of an
 * old flow does not land in a new one (each flow's random ISN is the second line of defence).
 */
import {EnvironmentError} from '../errors.js';
import {nativeAddon} from '../link/native.js';
import {IpAddress} from '../wire/address.js';
import type {Millis} from '../time.js';

export interface PortBlockOptions {
  /** A power of two. */
  readonly size: number;
  readonly quarantineMs: number;
  /** Where to look for a free block: the kernel's ephemeral range by default. */
  readonly range?: readonly [number, number];
  readonly now?: () => Millis;
  readonly random?: () => number;
}

/** At most this many ports of a block may be taken by others before another block is tried. */
const MAX_FOREIGN_SHARE = 0.05;
const BLOCK_ATTEMPTS = 8;

export class PortBlock {
  /**
   * Free ports, least recently released first, with when they were released: a ring (head index and count) over
   * fixed arrays, because shifting an 8,192-port array at every acquire cost ~8,000 moves a probe.
   */
  private readonly freePorts: Int32Array;
  private readonly freeSince: Float64Array;
  private freeHead = 0;
  private freeCount = 0;
  private readonly inUse = new Set<number>();
  /** When each port of the block (index: port - base) was last released; -Infinity if never. */
  private readonly lastReleased: Float64Array;
  private closed = false;

  private constructor(
    readonly base: number,
    readonly size: number,
    private readonly held: ReadonlyMap<number, number>,
    private readonly options: PortBlockOptions,
    private readonly wildcard: IpAddress,
  ) {
    this.freePorts = new Int32Array(held.size);
    this.freeSince = new Float64Array(held.size);
    this.lastReleased = new Float64Array(size).fill(-Infinity);
    for (const port of held.keys()) this.pushFree(port, -Infinity);
  }

  private pushFree(port: number, releasedAt: Millis): void {
    const at = (this.freeHead + this.freeCount) % this.freePorts.length;
    this.freePorts[at] = port;
    this.freeSince[at] = releasedAt;
    this.freeCount++;
  }

  static reserve(options: PortBlockOptions): PortBlock {
    const {size} = options;
    if (!Number.isInteger(size) || size < 16 || (size & (size - 1)) !== 0 || size > 16384) {
      throw new RangeError(`source-port block size must be a power of two from 16 to 16384, got ${size}`);
    }
    const [low, high] = options.range ?? [32768, 60999];
    const random = options.random ?? Math.random;
    const firstBase = Math.ceil(low / size) * size;
    const lastBase = Math.floor((high + 1) / size) * size - size;
    if (lastBase < firstBase) throw new EnvironmentError(`no block of ${size} source ports fits in ${low}-${high}`);
    const addon = nativeAddon();
    const wildcard = bindableWildcard();
    let best: Map<number, number> | undefined;
    let bestBase = firstBase;
    for (let attempt = 0; attempt < BLOCK_ATTEMPTS; attempt++) {
      const base = firstBase + Math.floor(random() * ((lastBase - firstBase) / size + 1)) * size;
      const held = new Map<number, number>();
      for (let port = base; port < base + size; port++) {
        try {
          held.set(port, addon.reservePort(wildcard.bytes, port).fd);
        } catch {
          // in use by someone else: not ours to hand out
        }
      }
      if (!best || held.size > best.size) {
        for (const fd of best?.values() ?? []) addon.releasePort(fd);
        best = held;
        bestBase = base;
      } else {
        for (const fd of held.values()) addon.releasePort(fd);
      }
      if (best.size >= size * (1 - MAX_FOREIGN_SHARE)) break;
    }
    if (!best || best.size === 0) throw new EnvironmentError(`cannot reserve any source port in ${low}-${high}`);
    return new PortBlock(bestBase, size, best, options, wildcard);
  }

  /** Ports of the block this agent holds (some may be taken by others). */
  get available(): number {
    return this.held.size;
  }

  /** Whether `port` is one of ours (a port of the block that something else held is not). */
  holds(port: number): boolean {
    return this.held.has(port);
  }

  get busy(): number {
    return this.inUse.size;
  }

  /** A port for a new flow, or undefined when every port is in use or resting. */
  acquire(): number | undefined {
    const now = (this.options.now ?? performance.now.bind(performance))();
    if (this.closed || this.freeCount === 0 || now - this.freeSince[this.freeHead]! < this.options.quarantineMs) return undefined;
    const port = this.freePorts[this.freeHead]!;
    this.freeHead = (this.freeHead + 1) % this.freePorts.length;
    this.freeCount--;
    this.inUse.add(port);
    return port;
  }

  release(port: number): void {
    if (!this.inUse.delete(port)) return;
    const now = (this.options.now ?? performance.now.bind(performance))();
    this.lastReleased[port - this.base] = now;
    this.pushFree(port, now);
  }

  /** Milliseconds since `port`'s last flow gave it back (Infinity if it never had one, or is not of the block). */
  sinceReleased(port: number): number {
    const at = this.lastReleased[port - this.base];
    return at === undefined ? Infinity : (this.options.now ?? performance.now.bind(performance))() - at;
  }

  /**
   * Binds a UDP socket to `port` for one UDP flow (the block's sockets are TCP), so this host's kernel does not
   * answer the server's replies with ICMP port unreachable. Returns its release, or undefined when another
   * program holds the UDP port (its socket then swallows the replies just as well).
   */
  holdDatagramPort(port: number): (() => void) | undefined {
    const addon = nativeAddon();
    let fd: number;
    try {
      fd = addon.reservePort(this.wildcard.bytes, port, true).fd;
    } catch {
      return undefined;
    }
    return () => addon.releasePort(fd);
  }

  /** Gives every port back to the kernel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const addon = nativeAddon();
    for (const fd of this.held.values()) addon.releasePort(fd);
  }
}

/** `::` covers both families when IPv6 is enabled here; a host (or namespace) without IPv6 gets 0.0.0.0. */
function bindableWildcard(): IpAddress {
  const addon = nativeAddon();
  try {
    const probe = addon.reservePort(IpAddress.V6_ANY.bytes, 0);
    addon.releasePort(probe.fd);
    return IpAddress.V6_ANY;
  } catch {
    return IpAddress.V4_ANY;
  }
}
