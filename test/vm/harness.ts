// Mocha helpers for the VM lab (src/lab/vm): one guest boot per describeVmScenario block, in before(), whose
// result every test of the block asserts on. Without qemu, the guest kernel or root the block is skipped with a
// message, except under CI=true, where a skip would hide a broken runner, so it fails instead (as the namespace
// lab tests do, test/lab/harness.ts).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { guestPrerequisiteProblem } from '../../src/lab/vm/qemu.js';
import { type KeepalivedDrResult, runScenario, SCENARIOS, type ScenarioName, type ScenarioRun } from '../../src/lab/vm/scenarios.js';

/** Why VM scenarios cannot run here, or null. */
export function vmPrerequisiteProblem(): string | null {
  if (process.getuid?.() !== 0) return `running as uid ${process.getuid?.()}, not root`;
  return guestPrerequisiteProblem();
}

export function requireVmOrSkip(ctx: Mocha.Context): void {
  const problem = vmPrerequisiteProblem();
  if (problem === null) return;
  const message = `VM lab tests need root, qemu and the guest kernel: ${problem}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true, so this is a failure, not a skip)`);
  console.warn(`      skipped: ${message}`);
  ctx.skip();
}

export interface VmScenarioSuite<T> {
  /** The guest's run; only inside tests of the block. */
  readonly run: ScenarioRun<T>;
  /** The parsed result.json; fails the test (with the guest's log) when the scenario produced none. */
  readonly result: T;
}

/** Processes (qemu) still using a share of this test process, and shares of this process still on disk. */
export function leftoversOfThisProcess(): { processes: number[]; shares: string[] } {
  const marker = `vipcheck-vm-${process.pid}x`;
  const processes: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) processes.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return { processes, shares: readdirSync(tmpdir()).filter((e) => e.startsWith(marker)) };
}

/** describe() around one boot of a scenario; reports its figures after the block. */
export function describeVmScenario<T = KeepalivedDrResult>(name: ScenarioName, fn: (suite: VmScenarioSuite<T>) => void): Mocha.Suite {
  return describe(`VM lab: ${name}`, function () {
    // One boot takes about a minute here (TCG on 2 shared cores); the scenario's own hard deadline bounds it.
    this.timeout(SCENARIOS[name].timeoutMs + 30_000);
    let run: ScenarioRun<T> | undefined;
    const suite: VmScenarioSuite<T> = {
      get run(): ScenarioRun<T> {
        if (run === undefined) throw new Error('the guest run exists only inside tests of its describeVmScenario block');
        return run;
      },
      get result(): T {
        const r = suite.run;
        if (r.result === null) {
          throw new Error(
            `scenario ${name} wrote no result.json (exit status ${r.guest.exitStatus ?? 'none'}, timed out: ${r.guest.timedOut})\n` +
              `--- guest output ---\n${r.guest.output.slice(-4000)}\n--- console ---\n${r.guest.console.slice(-2000)}`,
          );
        }
        return r.result;
      },
    };
    before(async function () {
      requireVmOrSkip(this);
      run = await runScenario<T>(name);
    });
    after(function () {
      if (run === undefined) return;
      const t = run.guest.timings;
      console.log(`      figures: boot ${t.bootMs ?? '?'} ms, scenario ${t.scenarioMs ?? '?'} ms, qemu total ${t.totalMs} ms`);
    });
    it('the guest ran the scenario to its end and powered off before the deadline', function () {
      assert.equal(suite.run.guest.timedOut, false, 'qemu reached the hard deadline');
      assert.equal(suite.run.guest.exitStatus, 0, `scenario exit status\n${suite.run.guest.output.slice(-4000)}`);
      assert.ok(suite.result);
    });
    it('left no qemu process and no share directory behind', function () {
      assert.ok(run, 'the guest ran');
      assert.deepEqual(leftoversOfThisProcess(), { processes: [], shares: [] });
    });
    fn(suite);
  });
}

/**
 * In alpha mode every real server starts down: the table starts empty, good and novip (healthy at first) join
 * only after passing a check, and closed (VIP present, nothing on port 80) never does.
 */
export function assertAdmittedByChecks(result: KeepalivedDrResult): void {
  const { good, novip, closed } = result.hosts;
  assert.notEqual(result.bothUpAfterMs, null, 'good and novip joined the table');
  assert.deepEqual(result.timeline[0]?.realServers, [], 'alpha mode: the table starts empty');
  const everSeen = new Set(result.timeline.flatMap((t) => t.realServers));
  assert.ok(everSeen.has(good) && everSeen.has(novip), JSON.stringify(result.timeline));
  assert.ok(!everSeen.has(closed), 'closed never joined the table');
}
