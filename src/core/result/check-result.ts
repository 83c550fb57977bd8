/**
 * What a check produces, independent of how it is printed. Plugins return one of these; the output modes
 * (Nagios text, --json, keepalived exit codes) are renderings of it.
 */
import type {PerfDatum} from './perfdata.js';
import type {Range} from './range.js';
import {State} from './state.js';

/** Which path the probe took: through the VIP like real traffic, or an ordinary kernel connect to the RIP. */
export type ProbePath = 'vip' | 'rip';

/** A line shown only from a given `-v` level: 1 more detail, 2 configuration, 3 packet trace. */
export interface VerboseLine {
  readonly level: 1 | 2 | 3;
  readonly text: string;
}

export interface CheckResult {
  /** Upper-case check name used in the first line: `VIPCHECK <CHECK> <STATE> - ...`. */
  readonly check: string;
  readonly state: State;
  /** The first line's text after the state. */
  readonly summary: string;
  /** Long output, one line per detail, always printed after the first line. */
  readonly details: readonly string[];
  readonly perfdata: readonly PerfDatum[];
  readonly path?: ProbePath;
  /** Extra machine-readable facts for --json (e.g. the resolved MAC, the interface). */
  readonly data?: Readonly<Record<string, unknown>>;
  readonly verbose?: readonly VerboseLine[];
}

export interface Thresholds {
  readonly warning?: Range;
  readonly critical?: Range;
}

/** Critical is evaluated first, then warning (monitoring.md). */
export function evaluateThresholds(value: number, thresholds: Thresholds): State {
  if (thresholds.critical?.alerts(value)) return State.Critical;
  if (thresholds.warning?.alerts(value)) return State.Warning;
  return State.Ok;
}

/**
 * A time in seconds as perfdata, like check_tcp's `time`: min 0, max the timeout, the -w/-c thresholds verbatim
 * when given; undefined (nothing measured) prints U.
 */
export function secondsPerfDatum(label: string, seconds: number | undefined, timeoutMs: number, thresholds: Thresholds = {}): PerfDatum {
  return {
    label,
    value: seconds,
    uom: 's',
    ...(thresholds.warning ? {warn: thresholds.warning} : {}),
    ...(thresholds.critical ? {crit: thresholds.critical} : {}),
    min: 0,
    max: timeoutMs / 1000,
  };
}
