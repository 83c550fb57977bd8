/**
 * When each target's probe runs. One timer for the whole agent, armed at the earliest due time (a binary heap
 * of due times), so 10,000 targets cost 10,000 heap entries and no more timers.
 * - Each target runs every `intervalMs`, at a fixed rate from a random phase: the first run lands at a random
 *   point of the first interval, so neither the start nor a reload makes a burst.
 * - At most one probe per target is in flight: a target whose probe is still running when it is due again gets
 *   that turn as soon as the probe ends (counted as an overrun), and never more than one turn behind itself, so a
 *   probe that uses its whole deadline (timeout = interval, against a silent server) still runs every interval.
 * - At most `maxConcurrent` probes run at once; due targets beyond that wait their turn in order.
 * - A probe's own deadline bounds it (runCheck); the scheduler never waits on a probe to arm its timer, so a slow
 *   or silent server delays nobody else.
 * Time comes from a DriveClock, so tests run the scheduler on a virtual clock.
 */
import type {DriveClock, ScheduledTimer} from '../core/flow/drive.js';
import type {Millis} from '../core/time.js';

export interface ScheduledTarget {
  readonly id: string;
  readonly intervalMs: Millis;
  /** Runs one probe; must settle (runCheck bounds it by the target's deadline). */
  readonly probe: () => Promise<void>;
}

export interface SchedulerOptions {
  readonly clock: DriveClock;
  readonly maxConcurrent: number;
  readonly random?: () => number;
  /** Told how late each due turn was handled, in ms (the metrics' start-delay histogram). */
  readonly onLate?: (ms: Millis) => void;
}

/** Upper bounds (ms) of the lateness histogram. */
export const LATENESS_BUCKETS = [1, 2.5, 5, 10, 25, 50, 100, 250, 1000];

interface Slot {
  target: ScheduledTarget;
  dueAt: Millis;
  running: boolean;
  /** Set when the target left the schedule: its heap entry is dropped when it surfaces. */
  removed: boolean;
  overruns: number;
  started: number;
  /** A turn came while the probe still ran: it is run when the probe ends. */
  turnOwed: boolean;
  /** In `waiting` (a flag, not a search of the queue: it can hold thousands). */
  waiting: boolean;
  /** The slot that took this one's id while this one's probe still ran: it may start only when this one ends. */
  successor?: Slot;
}

export interface SchedulerCounters {
  started: number;
  /** How late due turns were handled (the timer's and the event loop's delay), for the metrics. */
  readonly lateness: {count: number; sum: number; max: number; buckets: Map<number, number>};
  overruns: number;
  /** Times a due probe waited for a free concurrency slot. */
  queued: number;
}

export class Scheduler {
  readonly counters: SchedulerCounters = {
    started: 0,
    overruns: 0,
    queued: 0,
    lateness: {count: 0, sum: 0, max: 0, buckets: new Map(LATENESS_BUCKETS.map((b) => [b, 0]))},
  };
  private readonly slots = new Map<string, Slot>();
  /** Removed slots whose probe still runs, by id: an id added back meanwhile must wait for it. */
  private readonly retiring = new Map<string, Slot>();
  private readonly heap: Slot[] = [];
  private readonly waiting: Slot[] = [];
  private running = 0;
  private timer: ScheduledTimer | undefined;
  private timerAt = Infinity;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly options: SchedulerOptions) {}

  /**
   * Makes the schedule exactly `targets`. Targets already scheduled under the same id keep their phase (and
   * their probe in flight); a changed interval takes effect from their next run. New targets start at a random
   * point of their first interval.
   */
  set(targets: readonly ScheduledTarget[]): void {
    const now = this.options.clock.now();
    const random = this.options.random ?? Math.random;
    const wanted = new Map(targets.map((t) => [t.id, t]));
    for (const [id, slot] of this.slots) {
      if (!wanted.has(id)) {
        slot.removed = true;
        this.slots.delete(id);
        if (slot.running) this.retiring.set(id, slot);
      }
    }
    for (const target of targets) {
      const slot = this.slots.get(target.id);
      if (slot) {
        slot.target = target;
        continue;
      }
      const fresh: Slot = {target, dueAt: now + random() * target.intervalMs, running: false, removed: false, overruns: 0, started: 0, turnOwed: false, waiting: false};
      const predecessor = this.retiring.get(target.id);
      if (predecessor) {
        // Still one probe of this id in flight: the new slot counts as running until it settles.
        fresh.running = true;
        predecessor.successor = fresh;
        this.retiring.delete(target.id);
      }
      this.slots.set(target.id, fresh);
      this.push(fresh);
    }
    this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((s) => !s.removed));
    this.arm();
  }

  get size(): number {
    return this.slots.size;
  }

  get inFlight(): number {
    return this.running;
  }

  /** Probes of one target so far, and turns it skipped because its previous probe still ran. */
  statsOf(id: string): {started: number; overruns: number} | undefined {
    const slot = this.slots.get(id);
    return slot && {started: slot.started, overruns: slot.overruns};
  }

  /** Starts no more probes; resolves when those in flight have settled. */
  stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.waiting.length = 0;
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.options.clock.now();
    while (this.heap.length > 0 && this.heap[0]!.dueAt <= now) {
      const slot = this.pop()!;
      if (slot.removed) continue;
      this.due(slot, now);
    }
    this.arm();
  }

  private due(slot: Slot, now: Millis): void {
    this.recordLateness(now - slot.dueAt);
    // Fixed rate: the next turn is one interval after this one was due, never in the past (a stalled loop
    // catches up by skipping, not by bursting).
    slot.dueAt += slot.target.intervalMs;
    if (slot.dueAt <= now) slot.dueAt = now + slot.target.intervalMs;
    this.push(slot);
    if (slot.running) {
      slot.overruns++;
      this.counters.overruns++;
      slot.turnOwed = true;
      return;
    }
    if (this.running >= this.options.maxConcurrent) {
      if (!slot.waiting) {
        this.counters.queued++;
        slot.waiting = true;
        this.waiting.push(slot);
      }
      return;
    }
    this.start(slot);
  }

  private recordLateness(ms: Millis): void {
    const late = this.counters.lateness;
    late.count++;
    late.sum += ms;
    late.max = Math.max(late.max, ms);
    for (const bound of LATENESS_BUCKETS) if (ms <= bound) late.buckets.set(bound, late.buckets.get(bound)! + 1);
    this.options.onLate?.(ms);
  }

  /** Lateness counts, cumulative per bucket (Prometheus histogram shape). */
  latenessHistogram(): {count: number; sum: number; buckets: ReadonlyMap<number, number>} {
    return this.counters.lateness;
  }

  private start(slot: Slot): void {
    slot.running = true;
    slot.started++;
    this.running++;
    this.counters.started++;
    let probe: Promise<void>;
    try {
      probe = slot.target.probe();
    } catch (error) {
      probe = Promise.reject(error);
    }
    probe
      .catch(() => {
        // A probe reports its own failures; one that throws anyway must not stop the schedule.
      })
      .finally(() => this.finished(slot));
  }

  private finished(slot: Slot): void {
    slot.running = false;
    if (slot.successor) slot.successor.running = false;
    if (this.retiring.get(slot.target.id) === slot) this.retiring.delete(slot.target.id);
    this.running--;
    const owner = slot.successor ?? slot;
    if (owner.turnOwed && !owner.removed && !this.stopped) {
      owner.turnOwed = false;
      if (!owner.waiting) {
        owner.waiting = true;
        this.waiting.push(owner);
      }
    }
    if (!this.stopped) {
      while (this.running < this.options.maxConcurrent && this.waiting.length > 0) {
        const next = this.waiting.shift()!;
        next.waiting = false;
        if (!next.removed && !next.running) this.start(next);
      }
    }
    if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private arm(): void {
    if (this.stopped) return;
    while (this.heap.length > 0 && this.heap[0]!.removed) this.pop();
    const next = this.heap[0]?.dueAt ?? Infinity;
    if (next === this.timerAt) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = next;
    if (next !== Infinity) this.timer = this.options.clock.schedule(next, () => this.tick());
  }

  // A binary min-heap on dueAt.
  private push(slot: Slot): void {
    const heap = this.heap;
    heap.push(slot);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.dueAt <= heap[i]!.dueAt) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  private pop(): Slot | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && heap[left]!.dueAt < heap[smallest]!.dueAt) smallest = left;
        if (right < heap.length && heap[right]!.dueAt < heap[smallest]!.dueAt) smallest = right;
        if (smallest === i) break;
        [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
}
