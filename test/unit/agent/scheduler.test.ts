/**
 * The agent's probe scheduler (src/agent/scheduler.ts) on virtual time, with probes that take virtual time:
 * starts spread over the first interval (no burst) and then a fixed rate; never two probes of one target at
 * once (overruns counted); never more than maxConcurrent in flight (queued counted) yet every target runs; a
 * slow or silent target moves nobody else's start by a single millisecond; set() keeps the phase of kept ids,
 * drops removed ones, spreads new ones and applies a changed interval; stop() starts nothing more and resolves
 * when the probes in flight have settled; a probe that throws or rejects does not stop its schedule.
 * Randomness is seeded (seededRandom), so every start time is known in advance.
 */
import assert from 'node:assert/strict';
import {Scheduler, type ScheduledTarget} from '../../../src/agent/scheduler.js';
import {seededRandom} from '../../../src/core/link/memory-link.js';
import {VirtualClock} from '../../support/virtual-clock.js';

const SEED = 20240611;
const EPSILON = 1e-6;

/** A scheduler on a fresh virtual clock, with a log of every probe start and end. */
function harness(options: {maxConcurrent?: number; seed?: number} = {}) {
  const clock = new VirtualClock();
  const scheduler = new Scheduler({clock, maxConcurrent: options.maxConcurrent ?? 10_000, random: seededRandom(options.seed ?? SEED)});
  const starts = new Map<string, number[]>();
  const running = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  let maxPerTarget = 0;
  /** Virtual end time of each probe now in flight, by id (for stop()). */
  const endsAt = new Map<string, number>();

  const begin = (id: string) => {
    const list = starts.get(id) ?? [];
    list.push(clock.now());
    starts.set(id, list);
    const mine = (running.get(id) ?? 0) + 1;
    running.set(id, mine);
    maxPerTarget = Math.max(maxPerTarget, mine);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
  };
  const end = (id: string) => {
    running.set(id, running.get(id)! - 1);
    inFlight--;
    endsAt.delete(id);
  };

  /** A target whose probe takes `durationMs` of virtual time (or `duration(k)` for its k-th run, from 0). */
  const target = (id: string, intervalMs: number, duration: number | ((k: number) => number), tag?: string[]): ScheduledTarget => ({
    id,
    intervalMs,
    probe: () => {
      begin(id);
      tag?.push(`${id}@${clock.now()}`);
      const k = starts.get(id)!.length - 1;
      const at = clock.now() + (typeof duration === 'number' ? duration : duration(k));
      endsAt.set(id, at);
      return new Promise<void>((resolve) =>
        clock.schedule(at, () => {
          end(id);
          resolve();
        }),
      );
    },
  });

  /** Runs virtual time up to `t` (timers due before it fire; later ones stay pending). */
  const runUntil = async (t: number) => {
    let reached = false;
    clock.schedule(t, () => (reached = true));
    await clock.run(() => reached, t + 1);
  };

  return {
    clock,
    scheduler,
    starts,
    target,
    runUntil,
    endsAt,
    startsOf: (id: string) => starts.get(id) ?? [],
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get maxPerTarget() {
      return maxPerTarget;
    },
  };
}

/** The first `n` values of the seeded stream the scheduler draws its phases from, scaled to `intervalMs`. */
function phases(n: number, intervalMs: number, seed = SEED, skip = 0): number[] {
  const random = seededRandom(seed);
  for (let i = 0; i < skip; i++) random();
  return Array.from({length: n}, () => random() * intervalMs);
}

function assertFixedRate(times: readonly number[], first: number, intervalMs: number, count: number, label: string): void {
  assert.equal(times.length, count, `${label}: ${count} starts, got ${times.length} (${times.join(', ')})`);
  times.forEach((t, k) => assert.ok(Math.abs(t - (first + k * intervalMs)) < EPSILON, `${label}: start ${k} at ${t}, expected ${first + k * intervalMs}`));
}

const ids = (prefix: string, n: number) => Array.from({length: n}, (_, i) => `${prefix}${i}`);

describe('agent/scheduler: when probes run (virtual time)', () => {
  it('100 targets start spread over the first interval (no burst), then each runs at a fixed rate', async () => {
    const h = harness();
    const names = ids('t', 100);
    h.scheduler.set(names.map((id) => h.target(id, 1000, 100)));
    assert.equal(h.scheduler.size, 100);
    await h.runUntil(10_000);

    const expected = phases(100, 1000);
    const first = names.map((id) => h.startsOf(id)[0]!);
    assert.deepEqual(first, expected, 'each first start is its seeded random point of the first interval');
    assert.ok(first.every((t) => t >= 0 && t < 1000));

    // No burst: no 100 ms window holds more than 25 of the 100 first starts (uniform would put ~10 in each).
    const sorted = [...first].sort((a, b) => a - b);
    let densest = 0;
    for (let i = 0; i < sorted.length; i++) {
      let j = i;
      while (j < sorted.length && sorted[j]! < sorted[i]! + 100) j++;
      densest = Math.max(densest, j - i);
    }
    assert.ok(densest <= 25, `${densest} starts within 100 ms`);
    // ... and they do use the whole interval.
    assert.ok(sorted[0]! < 100 && sorted[99]! > 900, `first starts span ${sorted[0]} .. ${sorted[99]}`);

    names.forEach((id, i) => assertFixedRate(h.startsOf(id), expected[i]!, 1000, 10, id));
    assert.equal(h.scheduler.counters.started, 1000);
    assert.equal(h.scheduler.counters.overruns, 0);
    assert.equal(h.scheduler.counters.queued, 0);
    assert.deepEqual(h.scheduler.statsOf('t7'), {started: 10, overruns: 0});
  });

  it('never runs one target twice at once: a 2500 ms probe on a 1000 ms interval runs again as soon as it ends, never twice', async () => {
    const h = harness();
    h.scheduler.set([h.target('slow', 1000, 2500)]);
    await h.runUntil(10_000);
    const [phase] = phases(1, 1000);
    // Due at p, p+1000, ...: the turns that come while it runs are owed, and one owed turn runs when it ends:
    // back to back at p, p+2500, p+5000, p+7500, never two at once, never a queue of turns behind itself.
    assertFixedRate(h.startsOf('slow'), phase!, 2500, 4, 'slow');
    assert.equal(h.maxPerTarget, 1, 'never two probes of one target in flight');
    const stats = h.scheduler.statsOf('slow')!;
    assert.equal(stats.started, 4);
    assert.ok(stats.overruns >= 5, `${stats.overruns} turns came while it ran`);
  });

  it('runs a probe that uses its whole interval (timeout = interval, a silent server) every interval', async () => {
    const h = harness();
    h.scheduler.set([h.target('silent', 1000, 1000)]);
    await h.runUntil(10_000);
    const starts = h.startsOf('silent');
    assert.ok(starts.length >= 9, `${starts.length} starts in 10 s`);
    for (let i = 1; i < starts.length; i++) assert.ok(Math.abs(starts[i]! - starts[i - 1]! - 1000) < 1 + EPSILON, `start ${i} at ${starts[i]}`);
    assert.equal(h.maxPerTarget, 1);
  });

  it('keeps at most maxConcurrent probes in flight, yet every target runs; waiting turns are counted as queued', async () => {
    const h = harness({maxConcurrent: 5});
    const names = ids('q', 20);
    h.scheduler.set(names.map((id) => h.target(id, 1000, 437)));
    await h.runUntil(10_000);
    assert.equal(h.maxInFlight, 5, 'the cap was reached and never exceeded');
    assert.ok(h.scheduler.inFlight <= 5);
    for (const id of names) assert.ok(h.startsOf(id).length >= 2, `${id} ran ${h.startsOf(id).length} times`);

    // A start off the target's due grid (phase + k * 1000) is one that waited in the queue.
    const grid = phases(20, 1000);
    let late = 0;
    names.forEach((id, i) => {
      for (const t of h.startsOf(id)) {
        const offset = (t - grid[i]!) % 1000;
        if (Math.min(offset, 1000 - offset) > EPSILON) late++;
      }
    });
    const {queued, overruns, started} = h.scheduler.counters;
    assert.ok(late > 0, 'some probes waited for a slot');
    // Every queued turn, and every turn owed to a target still running, starts later, except those still
    // waiting at the end (at most one per target).
    assert.ok(queued + overruns >= late && queued + overruns - late <= 20, `queued ${queued}, overruns ${overruns}, late starts ${late}`);
    assert.equal(started, [...h.starts.values()].reduce((n, list) => n + list.length, 0));
  });

  it('a target whose probe hangs for 10 s does not move any other start time', async () => {
    const names = ids('n', 50);
    const run = async (withHostile: boolean) => {
      const h = harness({maxConcurrent: 100});
      const targets = names.map((id) => h.target(id, 1000, 200));
      // Last, so that it draws its phase after everyone else's: the others' phases are the same in both runs.
      if (withHostile) targets.push(h.target('hostile', 1000, (k) => (k === 0 ? 10_000 : 50)));
      h.scheduler.set(targets);
      await h.runUntil(15_000);
      return h;
    };
    const quiet = await run(false);
    const loud = await run(true);
    for (const id of names) assert.deepEqual(loud.startsOf(id), quiet.startsOf(id), `${id}'s start times`);
    assert.equal(loud.startsOf('hostile').length > 1, true, 'the hostile target ran again after its 10 s probe');
    assert.ok(loud.startsOf('hostile')[1]! - loud.startsOf('hostile')[0]! >= 10_000);
    assert.ok(loud.scheduler.statsOf('hostile')!.overruns >= 9, `overruns ${loud.scheduler.statsOf('hostile')!.overruns}`);
  });

  it('set() keeps the phase of kept ids (with their new target), drops removed ones, spreads new ones, applies a changed interval', async () => {
    const kept = ids('k', 5);
    const removed = ids('r', 3);
    const later = ids('a', 3);
    const all = [...kept, ...removed, 'changed', 'same'];
    const grid = phases(all.length, 1000);
    const RELOAD = 5000.5;

    // The same schedule without a reload, for comparison.
    const control = harness();
    control.scheduler.set(all.map((id) => control.target(id, 1000, 100)));
    await control.runUntil(10_000);

    const h = harness();
    h.scheduler.set(all.map((id) => h.target(id, 1000, 100)));
    await h.runUntil(RELOAD);
    const before = new Map(all.map((id) => [id, h.startsOf(id).length]));
    const reloaded: string[] = [];
    h.scheduler.set([
      ...kept.map((id) => h.target(id, 1000, 100, reloaded)),
      h.target('changed', 2000, 100),
      h.target('same', 1000, 100),
      ...later.map((id) => h.target(id, 1000, 100)),
    ]);
    assert.equal(h.scheduler.size, 5 + 2 + 3);
    for (const id of removed) assert.equal(h.scheduler.statsOf(id), undefined, `${id} left the schedule`);
    assert.deepEqual(h.scheduler.statsOf('k0'), {started: 5, overruns: 0}, 'a kept id keeps its counts');
    await h.runUntil(10_000);

    for (const id of [...kept, 'same']) assert.deepEqual(h.startsOf(id), control.startsOf(id), `${id} keeps its phase`);
    const keptAfter = kept.reduce((n, id) => n + h.startsOf(id).filter((t) => t > RELOAD).length, 0);
    assert.ok(keptAfter >= kept.length * 4);
    assert.equal(reloaded.length, keptAfter, 'kept ids run the probe of the reloaded target');
    for (const id of removed) assert.equal(h.startsOf(id).length, before.get(id), `${id} never starts after its removal`);

    // New ids: a random point of their first interval after the reload (the seeded stream continues), then fixed rate.
    const fresh = phases(later.length, 1000, SEED, all.length);
    later.forEach((id, i) => {
      const first = RELOAD + fresh[i]!;
      assert.ok(first < RELOAD + 1000);
      assertFixedRate(h.startsOf(id), first, 1000, Math.ceil((10_000 - first) / 1000), id);
    });

    // The changed interval applies from the next run: the turn already due comes, then one every 2000 ms.
    const changedIndex = all.indexOf('changed');
    const afterReload = h.startsOf('changed').filter((t) => t > RELOAD);
    const nextDue = grid[changedIndex]! + 1000 * Math.ceil((RELOAD - grid[changedIndex]!) / 1000);
    assertFixedRate(afterReload, nextDue, 2000, Math.ceil((10_000 - nextDue) / 2000), 'changed');
  });

  it('stop() starts nothing more (not even queued turns) and resolves only when the probes in flight have settled', async () => {
    const h = harness({maxConcurrent: 3});
    const names = ids('s', 10);
    h.scheduler.set(names.map((id) => h.target(id, 1000, 600)));
    await h.runUntil(3000.5);
    assert.equal(h.inFlight, 3, 'three probes run, others wait for a slot');
    assert.ok(h.scheduler.counters.queued > 0);
    const lastEnd = Math.max(...h.endsAt.values());
    const startedBefore = h.scheduler.counters.started;

    let stoppedAt: number | undefined;
    void h.scheduler.stop().then(() => (stoppedAt = h.clock.now()));
    await h.runUntil(3000.75);
    assert.equal(stoppedAt, undefined, 'not while probes are in flight');
    await h.runUntil(10_000);
    assert.equal(stoppedAt, lastEnd, 'resolved when the last probe in flight settled');
    assert.equal(h.scheduler.counters.started, startedBefore, 'no probe started after stop()');
    assert.equal(h.inFlight, 0);
    assert.equal(h.scheduler.inFlight, 0);
  });

  it('stop() with nothing in flight resolves at once, and no probe ever starts', async () => {
    const h = harness();
    h.scheduler.set([h.target('x', 1000, 10)]);
    let stopped = false;
    void h.scheduler.stop().then(() => (stopped = true));
    await h.runUntil(5000);
    assert.equal(stopped, true);
    assert.equal(h.startsOf('x').length, 0);
  });

  it('a probe that throws synchronously or rejects keeps its schedule, and the others theirs', async () => {
    const clock = new VirtualClock();
    const scheduler = new Scheduler({clock, maxConcurrent: 10, random: seededRandom(SEED)});
    const starts: Record<string, number[]> = {throws: [], rejects: [], fine: []};
    scheduler.set([
      {
        id: 'throws',
        intervalMs: 1000,
        probe: () => {
          starts.throws!.push(clock.now());
          throw new Error('probe bug');
        },
      },
      {
        id: 'rejects',
        intervalMs: 1000,
        probe: () => {
          starts.rejects!.push(clock.now());
          return new Promise((_, reject) => clock.schedule(clock.now() + 100, () => reject(new Error('late failure'))));
        },
      },
      {
        id: 'fine',
        intervalMs: 1000,
        probe: () => {
          starts.fine!.push(clock.now());
          return new Promise((resolve) => clock.schedule(clock.now() + 100, resolve));
        },
      },
    ]);
    let reached = false;
    clock.schedule(5000, () => (reached = true));
    await clock.run(() => reached);
    const grid = phases(3, 1000);
    assertFixedRate(starts.throws!, grid[0]!, 1000, 5, 'throws');
    assertFixedRate(starts.rejects!, grid[1]!, 1000, 5, 'rejects');
    assertFixedRate(starts.fine!, grid[2]!, 1000, 5, 'fine');
    assert.equal(scheduler.counters.started, 15);
    assert.equal(scheduler.inFlight, 0, 'a failed probe gives its slot back');
  });

  it('an id removed and added again while its probe still runs is not probed twice at once', async () => {
    const h = harness();
    h.scheduler.set([h.target('flap', 1000, 5000)]);
    const [phase] = phases(1, 1000);
    await h.runUntil(phase! + 10);
    assert.equal(h.inFlight, 1);
    h.scheduler.set([]);
    h.scheduler.set([h.target('flap', 1000, 5000)]);
    await h.runUntil(phase! + 4000);
    assert.equal(h.maxPerTarget, 1, `starts of flap: ${h.startsOf('flap').join(', ')}`);
  });
});
