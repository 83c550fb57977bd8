/**
 * An in-memory Ethernet segment for deterministic tests: any number of links attached to one wire, every frame
 * delivered to all other attached links (a hub; receivers filter by MAC like a NIC would), optionally through a
 * fault injector per sender (loss, duplication, reordering, rewriting). Delivery is asynchronous (a microtask)
 * like a real interface, and each link records what it sent for assertions.
 */
import type {MacAddress} from '../wire/address.js';
import {FrameIntegrity, KernelFrameStatus} from './frame-integrity.js';
import {LinkError, type FrameHandler, type FrameLink, type Millis} from './link.js';

/** Returns the frames to deliver in place of `frame` (empty = dropped, two = duplicated, ...). */
export type FaultInjector = (frame: Buffer) => Buffer[];

export class MemoryWire {
  private readonly links = new Set<MemoryLink>();
  /** Time stamp given to delivered frames; tests with a manual clock replace it. */
  now: () => Millis = () => performance.now();

  attach(name: string, mac: MacAddress): MemoryLink {
    const link = new MemoryLink(this, name, mac);
    this.links.add(link);
    return link;
  }

  /** @internal */
  detach(link: MemoryLink): void {
    this.links.delete(link);
  }

  /** @internal */
  carry(from: MemoryLink, frames: Buffer[]): void {
    const status = from.arrivalStatus;
    for (const frame of frames) {
      for (const link of this.links) {
        if (link !== from) queueMicrotask(() => link.receive(Buffer.from(frame), this.now(), status));
      }
    }
  }
}

export class MemoryLink implements FrameLink {
  readonly sent: Buffer[] = [];
  readonly integrity = new FrameIntegrity();
  faults: FaultInjector | undefined;
  /**
   * The kernel checksum status (tp_status bits) the frames this link sends arrive with elsewhere. None, the
   * default, makes receivers verify every checksum; CsumNotReady is what a veth peer's kernel gives.
   */
  arrivalStatus: number = KernelFrameStatus.None;
  private handler: FrameHandler | undefined;
  private closed = false;

  constructor(
    private readonly wire: MemoryWire,
    readonly name: string,
    readonly mac: MacAddress,
  ) {}

  send(frame: Uint8Array): void {
    if (this.closed) throw new LinkError(`link ${this.name} is closed`);
    const copy = Buffer.from(frame);
    this.sent.push(copy);
    this.wire.carry(this, this.faults ? this.faults(copy) : [copy]);
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler;
  }

  /** @internal */
  receive(frame: Buffer, at: Millis, status: number): void {
    if (this.closed || !this.handler) return;
    const trust = this.integrity.admit(frame, status);
    if (trust !== undefined) this.handler(frame, at, trust);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wire.detach(this);
  }
}

/** Fault injectors, composable by nesting. `random` is a seeded PRNG so runs are reproducible. */
export const faults = {
  dropMatching:
    (predicate: (frame: Buffer) => boolean, count = Infinity): FaultInjector =>
    (frame) => {
      if (count > 0 && predicate(frame)) {
        count--;
        return [];
      }
      return [frame];
    },
  duplicateMatching:
    (predicate: (frame: Buffer) => boolean): FaultInjector =>
    (frame) =>
      predicate(frame) ? [frame, frame] : [frame],
  lossy:
    (rate: number, random: () => number): FaultInjector =>
    (frame) =>
      random() < rate ? [] : [frame],
};

/** Mulberry32: a tiny seeded PRNG for reproducible fault injection. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
