/**
 * The tcp check's perfdata, thresholds and time formatting, shared by the handshake probe, the conversation
 * and the UDP checks.
 */
import {evaluateThresholds, secondsPerfDatum, type Thresholds} from '../../core/result/check-result.js';
import type {PerfDatum} from '../../core/result/perfdata.js';
import {State, stateName} from '../../core/result/state.js';
import type {RunContext} from '../../plugin-api/plugin.js';

export function timePerf(seconds: number | undefined, options: {readonly thresholds: Thresholds}, context: RunContext): PerfDatum {
  return secondsPerfDatum('time', seconds, context.timeoutMs, options.thresholds);
}

/** Applies -w/-c to a response time; the state and a suffix for the summary. */
export function judgeTime(seconds: number, options: {readonly thresholds: Thresholds}): {state: State; suffix: string} {
  const state = evaluateThresholds(seconds, options.thresholds);
  return {state, suffix: state === State.Ok ? '' : ` (response time ${stateName(state).toLowerCase()} threshold)`};
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`;
}
