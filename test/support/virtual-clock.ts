/**
 * Virtual time for tests that drive real code (the driver, the Duplex, the test peer) over the in-memory wire:
 * timers fire in time order without waiting, so retransmission timeouts cost nothing and a lossy transfer with
 * a seeded fault injector runs the same way every time, however fast or loaded the machine is.
 *
 * `run()` alternates between letting the event loop settle (in-memory frames travel as microtasks, streams use
 * process.nextTick) and jumping to the earliest timer. It fails loudly when nothing is scheduled but the
 * condition is not met (a stall), instead of hanging the test.
 */
import type {DriveClock, ScheduledTimer} from '../../src/core/flow/drive.js';

interface Entry {
  readonly at: number;
  readonly order: number;
  readonly callback: () => void;
}

export class VirtualClock implements DriveClock {
  private time = 0;
  private order = 0;
  private readonly pending = new Set<Entry>();
  /** Timers fired so far (a rough measure of how much waiting a run needed). */
  fired = 0;

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  schedule(at: number, callback: () => void): ScheduledTimer {
    const entry: Entry = {at: Math.max(at, this.time), order: this.order++, callback};
    this.pending.add(entry);
    return {cancel: () => void this.pending.delete(entry), unref: () => {}, ref: () => {}};
  }

  /** As the real clock: after this turn of the (real) event loop, which run() lets settle before each jump. */
  endOfTurn(callback: () => void): void {
    setImmediate(callback);
  }

  /**
   * Runs timers in order until `done()` holds; throws on a stall or when virtual time passes `limit`. Code that
   * also waits on real I/O (a state file on disk) passes `idle`, awaited before each jump: the thread pool's
   * callbacks do not always arrive within one settling of the event loop, and a jump past them would let the
   * code see time pass that it never had.
   */
  async run(done: () => boolean, limit = 600_000, idle?: () => Promise<void>): Promise<void> {
    for (;;) {
      await settleEventLoop();
      if (idle) {
        await idle();
        await settleEventLoop();
      }
      if (done()) return;
      const next = this.earliest();
      if (!next) throw new Error(`stalled at ${this.time} ms: nothing scheduled and the condition is not met`);
      if (next.at > limit) throw new Error(`virtual time limit ${limit} ms reached`);
      this.pending.delete(next);
      this.time = next.at;
      this.fired++;
      next.callback();
    }
  }

  private earliest(): Entry | undefined {
    let best: Entry | undefined;
    for (const entry of this.pending) {
      if (!best || entry.at < best.at || (entry.at === best.at && entry.order < best.order)) best = entry;
    }
    return best;
  }
}

/** Lets microtasks, nextTicks and I/O callbacks queued so far run (twice: a callback may queue more). */
export async function settleEventLoop(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setImmediate(resolve));
}
