/**
 * Passive results: the agent hands each result it reports to a monitoring system (Nagios's command file,
 * Icinga 2's API) to a queue, and returns at once; the queue delivers in the background, in order, and retries
 * with exponential backoff while the receiver is away. A probe never waits for, nor fails by, a delivery.
 *
 * While the receiver is away the queue keeps the newest results only (maxQueue): after a long outage what
 * matters is the current state, and an unbounded queue would be a memory leak.
 */

export interface PassiveHooks {
  /** One line per problem (the first failure of a streak, recovery), not per retry. */
  readonly log: (line: string) => void;
  /** A delivery attempt failed (the metric vipcheck_passive_failures_total). */
  readonly failed: () => void;
  /** Results delivered. */
  readonly delivered: (count: number) => void;
  /** Results dropped from a full queue. */
  readonly dropped: (count: number) => void;
}

export interface PassiveTiming {
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly maxQueue: number;
}

export const DEFAULT_PASSIVE_TIMING: PassiveTiming = {minBackoffMs: 500, maxBackoffMs: 30_000, maxQueue: 1000};

export abstract class PassiveSender<T> {
  private queue: T[] = [];
  private busy = false;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private failures = 0;
  private stopped = false;

  constructor(
    /** `nagios`, `icinga`: the metrics' target label and the log lines' subject. */
    readonly target: string,
    protected readonly hooks: PassiveHooks,
    private readonly timing: PassiveTiming = DEFAULT_PASSIVE_TIMING,
  ) {}

  /** Delivers these results, in order, or throws; what was delivered before a throw is given back by count. */
  protected abstract deliver(items: readonly T[]): Promise<number>;

  /** What the receiver is, for log lines (`/var/lib/nagios4/rw/nagios.cmd`). */
  protected abstract describe(): string;

  /** Queues a result; never blocks and never throws. */
  send(item: T): void {
    if (this.stopped) return;
    this.queue.push(item);
    const excess = this.queue.length - this.timing.maxQueue;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.hooks.dropped(excess);
    }
    if (!this.busy && this.timer === undefined) void this.flush();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Stops retrying; what is still queued is dropped. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
  }

  private async flush(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const batch = this.queue.slice();
        let done: number;
        try {
          done = await this.deliver(batch);
        } catch (error) {
          const partial = (error as {delivered?: number}).delivered ?? 0;
          this.settle(partial);
          this.failed(error as Error);
          return;
        }
        this.settle(done);
        if (this.failures > 0) this.hooks.log(`passive results to ${this.target}: delivered again after ${this.failures} failed attempts`);
        this.failures = 0;
        this.backoffMs = 0;
      }
    } finally {
      this.busy = false;
    }
  }

  private settle(count: number): void {
    if (count <= 0) return;
    this.queue.splice(0, count);
    this.hooks.delivered(count);
  }

  private failed(error: Error): void {
    this.hooks.failed();
    this.failures += 1;
    this.backoffMs = this.backoffMs === 0 ? this.timing.minBackoffMs : Math.min(this.backoffMs * 2, this.timing.maxBackoffMs);
    if (this.failures === 1) {
      this.hooks.log(`passive results to ${this.target}: cannot deliver to ${this.describe()}: ${error.message}; retrying with backoff up to ${this.timing.maxBackoffMs / 1000} s`);
    }
    if (this.stopped) return;
    // unref: a pending retry must not keep a stopping agent alive.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.backoffMs);
    this.timer.unref();
  }
}
