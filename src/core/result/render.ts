/**
 * Output modes. Nagios text goes to stdout only (Nagios and NRPE drop stderr, Sensu merges it), with exactly one
 * `|` in the whole output, a bounded size (Nagios Core caps plugin output at 8 KiB) and the state taken from
 * the exit code. JSON carries the same facts for scripts and the agent.
 */
import type {CheckResult} from './check-result.js';
import {formatPerfdata, type PerfDatum} from './perfdata.js';
import {State, stateName} from './state.js';

export type ExitCodeMode = 'nagios' | 'keepalived';

export const EXIT_CODE_MODES: readonly ExitCodeMode[] = ['nagios', 'keepalived'];

/**
 * keepalived's MISC_CHECK reads only the code: 0 = up, anything else = down (and with misc_dynamic 2..255 would
 * mean "up with weight code-2", so Nagios's CRITICAL=2 must never reach it). OK and WARNING keep the server in.
 */
export function exitCodeFor(state: State, mode: ExitCodeMode): number {
  if (mode === 'keepalived') return state === State.Ok || state === State.Warning ? 0 : 1;
  return state;
}

/** Output beyond this is cut; Nagios Core keeps 8192 bytes, and the perfdata must survive the cut. */
export const MAX_OUTPUT_BYTES = 8000;

export function renderNagios(result: CheckResult, verbosity: number): string {
  const perf = formatPerfdata(result.perfdata);
  const first = `VIPCHECK ${result.check} ${stateName(result.state)} - ${firstLineText(result.summary)}`;
  const firstLine = perf ? `${first} | ${perf}` : first;
  const rest = [
    ...result.details.map(oneLine),
    ...(result.verbose ?? []).filter((v) => v.level <= verbosity).map((v) => oneLine(v.text)),
  ];
  return truncateOutput(firstLine, rest);
}

function truncateOutput(firstLine: string, rest: string[]): string {
  const marker = '... (output truncated)';
  let size = Buffer.byteLength(firstLine);
  const kept: string[] = [];
  for (const line of rest) {
    const lineSize = Buffer.byteLength(line) + 1;
    if (size + lineSize > MAX_OUTPUT_BYTES - marker.length - 1) {
      kept.push(marker);
      break;
    }
    kept.push(line);
    size += lineSize;
  }
  return [firstLine, ...kept].join('\n') + '\n';
}

/**
 * Text from servers and the network is hostile: it may hold `|` (which would split perfdata), newlines or
 * control characters. Replace them so every line stays one line with no stray `|`.
 */
export function oneLine(text: string): string {
  return text.replace(/\|/g, '/').replace(/[\r\n]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '?');
}

/**
 * The summary as the first line must carry it: one line, and no `;`. Nagios Core rewrites `;` in a plugin's
 * first line to `:` (so "6 SYNs sent; is the VIP" would show as "sent: is"); the summaries vipcheck writes avoid
 * it, and this catches what comes from servers, files and error messages. The perfdata after the `|` keeps its
 * `;` separators: it is formatted apart.
 */
export function firstLineText(summary: string): string {
  return oneLine(summary).replace(/;/g, ',');
}

export interface JsonPerfDatum {
  label: string;
  value: number | null;
  uom: string;
  warn?: string;
  crit?: string;
  min?: number;
  max?: number;
}

export function perfDatumToJson(p: PerfDatum): JsonPerfDatum {
  return {
    label: p.label,
    value: p.value ?? null,
    uom: p.uom ?? '',
    ...(p.warn ? {warn: p.warn.text} : {}),
    ...(p.crit ? {crit: p.crit.text} : {}),
    ...(p.min === undefined ? {} : {min: p.min}),
    ...(p.max === undefined ? {} : {max: p.max}),
  };
}

export function renderJson(result: CheckResult, mode: ExitCodeMode, verbosity: number): Record<string, unknown> {
  const fixed: Record<string, unknown> = {
    check: result.check.toLowerCase(),
    status: stateName(result.state),
    code: exitCodeFor(result.state, mode),
    exitCodes: mode,
    summary: result.summary,
    path: result.path ?? null,
    perfdata: result.perfdata.map(perfDatumToJson),
    details: result.details,
    ...(verbosity > 0 ? {verbose: (result.verbose ?? []).filter((v) => v.level <= verbosity).map((v) => v.text)} : {}),
  };
  // Check-specific facts follow, and can never overwrite the fixed fields every consumer relies on.
  const extra = Object.entries(result.data ?? {}).filter(([key]) => !(key in fixed));
  return {...fixed, ...Object.fromEntries(extra)};
}
