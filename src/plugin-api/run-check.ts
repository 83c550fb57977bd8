/**
 * One run of a check, with no process around it: `runCheck(plugin, options, context)` gives a CheckResult and
 * never throws. The one-shot CLI (cli/run-check.ts: flags, signals, output, exit) and the agent (many runs in one
 * process) both call it, so a check behaves the same under either.
 *
 * - Every failure of the plugin itself becomes UNKNOWN with its one-line reason (an unexpected exception says
 *   "internal error: ..."), a ServiceDownError becomes CRITICAL.
 * - The run is bounded: if the plugin has not answered `graceMs` after the context's deadline, the result is
 *   CRITICAL "check did not finish within ..." (the plugin's own timers should have ended it first).
 * Cleanups registered through the context are the caller's to run: it owns the context.
 */
import type {CheckResult} from '../core/result/check-result.js';
import {errorKind} from '../core/errors.js';
import {State} from '../core/result/state.js';
import type {CheckPlugin, RunContext} from './plugin.js';

/** Beyond the check's own deadline, how long a run may take to report before it is declared overdue. */
export const DEADLINE_GRACE_MS = 250;

export function errorResult(plugin: Pick<CheckPlugin, 'title'>, error: unknown): CheckResult {
  // By brand, not instanceof: the error may come from another copy of core/errors (see there).
  const kind = errorKind(error);
  const message = error instanceof Error || kind !== undefined ? String((error as Error).message) : String(error);
  if (kind === 'service-down') {
    return {check: plugin.title, state: State.Critical, summary: message, details: [], perfdata: []};
  }
  const known = kind === 'usage' || kind === 'environment';
  return {
    check: plugin.title,
    state: State.Unknown,
    summary: known ? message : `internal error: ${message}`,
    details: [],
    perfdata: [],
  };
}

/** The result of a run that did not end by its deadline. */
export function overdueResult(plugin: Pick<CheckPlugin, 'title'>, timeoutMs: number): CheckResult {
  return {check: plugin.title, state: State.Critical, summary: `check did not finish within ${formatSeconds(timeoutMs)}`, details: [], perfdata: []};
}

export async function runCheck<Options>(
  plugin: CheckPlugin<Options>,
  options: Options,
  context: RunContext,
  graceMs = DEADLINE_GRACE_MS,
): Promise<CheckResult> {
  let guard: NodeJS.Timeout | undefined;
  const overdue = new Promise<CheckResult>((resolve) => {
    guard = setTimeout(() => resolve(overdueResult(plugin, context.timeoutMs)), Math.max(0, context.deadline - performance.now()) + graceMs);
    guard.unref?.();
  });
  try {
    return await Promise.race([plugin.run(options, context).catch((error: unknown) => errorResult(plugin, error)), overdue]);
  } catch (error) {
    return errorResult(plugin, error);
  } finally {
    clearTimeout(guard);
  }
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')} s`;
}
