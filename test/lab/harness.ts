// Mocha helpers for tests that need the namespace lab (src/lab/lab.ts).
//
//   describeLab('arp-audit', (s) => {
//     it('finds one responder', async () => {
//       const r = await runVipcheck(s.lab, 'client', ['arp-audit', s.lab.vip4]);
//       ...
//     });
//   });
//
// One lab per describeLab block, built in before() and always destroyed in after(), also when tests fail.
// Without root or a usable `ip netns` the block is skipped with a message, except under CI
// (CI=true), where a skipped lab test would hide a broken runner, so it fails instead.

import assert from 'node:assert/strict';
import { assertResultSchema } from '../support/result-schema.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab, type LabOptions, type NsRef } from '../../src/lab/lab.js';
import { newLabId, nsName } from '../../src/lab/netns.js';

/** Repository root, from this file's location (test/lab/harness.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The vipcheck CLI entry point. */
export const VIPCHECK_BIN = join(REPO_ROOT, 'bin', 'run.cjs');

let prerequisiteProblem: string | null | undefined;

/** Why lab tests cannot run here, or null if they can. Checked once per process. */
export function labPrerequisiteProblem(): string | null {
  if (prerequisiteProblem !== undefined) return prerequisiteProblem;
  prerequisiteProblem = findPrerequisiteProblem();
  return prerequisiteProblem;
}

function findPrerequisiteProblem(): string | null {
  if (process.platform !== 'linux') return `platform is ${process.platform}, not linux`;
  if (process.getuid?.() !== 0) return `running as uid ${process.getuid?.()}, not root`;
  // Creating and deleting a namespace is the only honest test: `ip netns list` works in containers
  // that then refuse to mount the namespace file.
  const probe = nsName(newLabId('vc'), 'probe');
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8', timeout: 5_000 });
  if (add.error) return `cannot run ip: ${add.error.message}`;
  if (add.status !== 0) return `ip netns add failed: ${add.stderr.trim()}`;
  const del = spawnSync('ip', ['netns', 'delete', probe], { encoding: 'utf8', timeout: 5_000 });
  if (del.status !== 0) return `ip netns delete failed: ${del.stderr?.trim()}`;
  return null;
}

/**
 * Call at the start of a before() hook (or a test): skips the rest when the lab cannot run here, or
 * throws when CI=true (a skip would be a silent failure there).
 */
export function requireLabOrSkip(ctx: Mocha.Context): void {
  const problem = labPrerequisiteProblem();
  if (problem === null) return;
  const message = `lab tests need root and ip netns: ${problem}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true, so this is a failure, not a skip)`);
  console.warn(`      skipped: ${message}`);
  ctx.skip();
}

export interface LabSuite {
  /** The block's lab; only valid inside hooks and tests (not while the describe body runs). */
  readonly lab: Lab;
}

export interface DescribeLabOptions extends LabOptions {
  /** Mocha timeout for the block's hooks and tests. Default 30 000 ms. */
  timeoutMs?: number;
}

/** describe() with one shared lab, created in before() and destroyed in after(). */
export function describeLab(title: string, fn: (suite: LabSuite) => void, options: DescribeLabOptions = {}): Mocha.Suite {
  const { timeoutMs = 30_000, ...labOptions } = options;
  return describe(title, function () {
    this.timeout(timeoutMs);
    let lab: Lab | undefined;
    const suite: LabSuite = {
      get lab(): Lab {
        if (lab === undefined) throw new Error('the lab exists only inside hooks and tests of its describeLab block');
        return lab;
      },
    };
    before(async function () {
      requireLabOrSkip(this);
      lab = await createLab(labOptions);
    });
    after(async function () {
      const current = lab;
      lab = undefined;
      await current?.destroy();
    });
    fn(suite);
  });
}

export interface VipcheckRun {
  /** Exit status; null when killed (timedOut tells whether by our timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock duration, including `ip netns exec` and Node start-up. */
  ms: number;
  timedOut: boolean;
}

/**
 * Runs `ip netns exec <ns> node bin/run.cjs ...args` (the same Node binary as the tests) and collects the
 * result; never throws for a non-zero exit. ns is a host name ('director', 'client', ...) or one of the
 * lab's namespace names.
 */
export async function runVipcheck(
  lab: Lab,
  ns: NsRef,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; command?: readonly string[] } = {},
): Promise<VipcheckRun> {
  const started = performance.now();
  // `command` runs another installation (the conformance suite's installed tarball) instead of this checkout.
  const r = await lab.exec(ns, [...(options.command ?? [process.execPath, VIPCHECK_BIN]), ...args], {
    timeoutMs: options.timeoutMs ?? 20_000,
    env: { NO_COLOR: '1', ...options.env },
  });
  const run = { code: r.code, stdout: r.stdout, stderr: r.stderr, ms: Math.round(performance.now() - started), timedOut: r.timedOut };
  // Every --json result any lab test produces is held to the published schema.
  if (args.includes('--json') && run.stdout.trimStart().startsWith('{')) assertResultSchema(JSON.parse(run.stdout));
  if (run.stdout.startsWith('VIPCHECK ')) assertNagiosFirstLine(run.stdout);
  return run;
}

/**
 * Nagios Core rewrites `;` in a plugin's first line to `:`, so no check may print one before its perfdata;
 * every Nagios-text result of the lab tests is held to that.
 */
export function assertNagiosFirstLine(stdout: string): void {
  const firstLine = stdout.split('\n')[0]!;
  const text = firstLine.split(' | ')[0]!;
  assert.ok(!text.includes(';'), `a ; in the first line's text: ${firstLine}`);
}

/**
 * runVipcheck with --json appended: asserts nothing went to stderr, that the run ended by itself and that the
 * output follows docs/schema/result.schema.json with the exit code in it, and returns the parsed output.
 */
export async function runVipcheckJson<T>(lab: Lab, ns: NsRef, args: readonly string[]): Promise<{run: VipcheckRun; json: T}> {
  const run = await runVipcheck(lab, ns, [...args, '--json']);
  assert.equal(run.stderr, '', 'nothing on stderr');
  assert.equal(run.timedOut, false);
  let json: T;
  try {
    json = JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}): ${run.stdout}`);
  }
  assert.equal((json as {code?: unknown}).code, run.code, 'the code in the JSON is the exit code');
  return {run, json};
}
