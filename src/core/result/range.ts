/**
 * Nagios threshold ranges, `[@][start:][end]` (Monitoring Plugins development guidelines):
 * without `@` a value alerts when it is outside [start, end] (inclusive), with `@` when inside.
 * start omitted = 0, `~` = minus infinity, empty end = plus infinity; start > end is an error.
 */
import {UsageError} from '../errors.js';

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

export class Range {
  private constructor(
    readonly start: number,
    readonly end: number,
    readonly inside: boolean,
    /** The text as given, reused verbatim in perfdata so the monitoring system sees the same thresholds. */
    readonly text: string,
  ) {}

  static parse(spec: string, what = 'range'): Range {
    const text = spec.trim();
    let body = text;
    const inside = body.startsWith('@');
    if (inside) body = body.slice(1);
    if (body === '') throw new UsageError(`invalid ${what} '${spec}': empty`);
    let startText = '0';
    let endText = body;
    const colon = body.indexOf(':');
    if (colon >= 0) {
      startText = body.slice(0, colon);
      endText = body.slice(colon + 1);
    }
    const start = startText === '~' ? -Infinity : parseBound(startText, spec, what);
    const end = endText === '' ? Infinity : parseBound(endText, spec, what);
    if (start > end) throw new UsageError(`invalid ${what} '${spec}': start ${startText} is greater than end ${endText}`);
    return new Range(start, end, inside, text);
  }

  /** True when `value` should raise an alert for this range. */
  alerts(value: number): boolean {
    const within = value >= this.start && value <= this.end;
    return this.inside ? within : !within;
  }

  toString(): string {
    return this.text;
  }
}

function parseBound(text: string, spec: string, what: string): number {
  if (!NUMBER.test(text)) throw new UsageError(`invalid ${what} '${spec}': '${text}' is not a number`);
  return Number.parseFloat(text);
}
