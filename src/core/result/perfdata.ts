/**
 * Performance data items, formatted exactly per monitoring.md: `label=value[uom];[warn];[crit];[min];[max]`,
 * unquoted labels of [A-Za-z0-9_.-] (Sensu keeps quote characters in metric names), C-locale numbers with no
 * exponent, trailing empty fields dropped.
 */
import type {Range} from './range.js';

export type Uom = '' | 's' | 'ms' | 'us' | '%' | 'B' | 'KB' | 'MB' | 'TB' | 'c';

export interface PerfDatum {
  readonly label: string;
  /** `undefined` prints as `U` (the value could not be determined). */
  readonly value: number | undefined;
  readonly uom?: Uom;
  readonly warn?: Range;
  readonly crit?: Range;
  readonly min?: number;
  readonly max?: number;
}

const LABEL = /^[A-Za-z0-9_.-]+$/;

export function formatPerfDatum(p: PerfDatum): string {
  if (!LABEL.test(p.label)) throw new Error(`perfdata label '${p.label}' is not [A-Za-z0-9_.-]+`);
  const value = p.value === undefined ? 'U' : `${formatNumber(p.value)}${p.uom ?? ''}`;
  const fields = [
    value,
    p.warn?.text ?? '',
    p.crit?.text ?? '',
    p.min === undefined ? '' : formatNumber(p.min),
    p.max === undefined ? '' : formatNumber(p.max),
  ];
  while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop();
  return `${p.label}=${fields.join(';')}`;
}

export function formatPerfdata(items: readonly PerfDatum[]): string {
  return items.map(formatPerfDatum).join(' ');
}

/** Decimal text without exponent; up to 6 fractional digits (microseconds when the unit is seconds). */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return 'U';
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  const fixed = n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  return fixed === '-0' ? '0' : fixed;
}
