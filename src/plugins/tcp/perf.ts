/**
 * The tcp check's perfdata and time formatting, shared by the handshake probe and the conversation mode.
 */
import type {PerfDatum} from '../../core/result/perfdata.js';
import type {RunContext} from '../plugin.js';
import type {TcpCheckOptions} from './options.js';

/** `time` in seconds like check_tcp: thresholds as given, min 0, max the timeout; undefined prints U. */
export function timePerf(seconds: number | undefined, options: TcpCheckOptions, context: RunContext): PerfDatum {
  return {
    label: 'time',
    value: seconds,
    uom: 's',
    ...(options.thresholds.warning ? {warn: options.thresholds.warning} : {}),
    ...(options.thresholds.critical ? {crit: options.thresholds.critical} : {}),
    min: 0,
    max: context.timeoutMs / 1000,
  };
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`;
}
