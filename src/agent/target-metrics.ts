/**
 * The per-target metric families (vipcheck_up, vipcheck_probe_*, ...), kept as a few numbers per target and
 * rendered here in Prometheus' text format; prom-client renders every other metric (agent.ts joins the two).
 *
 * Why not prom-client for these (measured with bench/agent.ts, 2,000 targets at 2,000 probes/s):
 * - its scrape formats and escapes every series' labels anew and renders a whole family in one synchronous
 *   step: 5.4 MiB in 311 ms, stalling the event loop up to 24 ms at a time, so the frames of the probes in
 *   flight waited and 3% of the probes took longer than 5 ms;
 * - each probe hashed the label object once per family it updated (prom-client's fastHashObject), and every
 *   series is a map entry with its own label and value objects (a histogram also one per bucket).
 * Here a target's label text is escaped once, its values live in one Float64Array, and a scrape yields to the
 * event loop every RENDER_CHUNK_LINES lines, so probes' frames are handled while it renders.
 */
import {State} from '../core/result/state.js';

export const TARGET_LABELS = ['service', 'vip', 'port', 'rs', 'check'] as const;
export type TargetLabels = Record<(typeof TARGET_LABELS)[number], string>;

/** Upper bounds (seconds) of vipcheck_probe_duration_seconds: each is a line per target in every scrape. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5] as const;

const RESULT_NAMES: ReadonlyArray<readonly [State, string]> = [
  [State.Ok, 'ok'],
  [State.Warning, 'warning'],
  [State.Critical, 'critical'],
  [State.Unknown, 'unknown'],
];

/** Lines rendered between two yields to the event loop (about a millisecond of work). */
const RENDER_CHUNK_LINES = 2000;

// Where each value sits in a target's Float64Array. NaN marks a gauge with no value yet (no series is shown).
const UP = 0;
const SUCCESS = 1;
const LAST_PROBE = 2;
const HTTP_STATUS = 3;
const CERT_EXPIRY = 4;
const CHANGES = 5;
const PROBES = 6; // + State (0..3)
const BUCKETS = PROBES + RESULT_NAMES.length; // per bucket, not cumulative
const DURATION_SUM = BUCKETS + DURATION_BUCKETS.length;
const DURATION_COUNT = DURATION_SUM + 1;
const VALUE_COUNT = DURATION_COUNT + 1;

/** Prometheus' text format escapes backslash, double quote and newline in label values. */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

export function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
    .join(',');
}

/** One target's series: its escaped labels and its numbers. */
export class TargetSeries {
  readonly labels: string;
  private readonly values = new Float64Array(VALUE_COUNT).fill(Number.NaN, UP, CHANGES);

  constructor(labels: TargetLabels, up: boolean) {
    this.labels = labelText(labels);
    this.values[UP] = up ? 1 : 0;
  }

  probed(state: State, seconds: number, up: boolean, changed: boolean, at: number): void {
    const v = this.values;
    v[SUCCESS] = state === State.Ok || state === State.Warning ? 1 : 0;
    v[PROBES + state]!++;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    if (bucket < DURATION_BUCKETS.length) v[BUCKETS + bucket]!++;
    v[DURATION_SUM]! += seconds;
    v[DURATION_COUNT]!++;
    v[LAST_PROBE] = at / 1000;
    v[UP] = up ? 1 : 0;
    if (changed) v[CHANGES]!++;
  }

  /** The HTTP status and certificate expiry gauges keep their last value when a probe has none (as before). */
  observedHttp(status: number | undefined, certExpirySeconds: number | undefined): void {
    if (status !== undefined) this.values[HTTP_STATUS] = status;
    if (certExpirySeconds !== undefined) this.values[CERT_EXPIRY] = certExpirySeconds;
  }

  /** The lines of one family for this target (none when the gauge has no value yet). */
  lines(family: Family, out: string[]): void {
    const v = this.values;
    const l = this.labels;
    switch (family.kind) {
      case 'value': {
        const value = v[family.index]!;
        if (!Number.isNaN(value)) out.push(`${family.name}{${l}} ${value}`);
        return;
      }
      case 'probes':
        for (const [state, result] of RESULT_NAMES) out.push(`${family.name}{${l},result="${result}"} ${v[PROBES + state]}`);
        return;
      case 'histogram': {
        if (v[DURATION_COUNT] === 0) return;
        let cumulative = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          cumulative += v[BUCKETS + i]!;
          out.push(`${family.name}_bucket{${l},le="${DURATION_BUCKETS[i]}"} ${cumulative}`);
        }
        out.push(`${family.name}_bucket{${l},le="+Inf"} ${v[DURATION_COUNT]}`, `${family.name}_sum{${l}} ${v[DURATION_SUM]}`, `${family.name}_count{${l}} ${v[DURATION_COUNT]}`);
        return;
      }
    }
  }
}

type Family = {readonly name: string; readonly help: string; readonly type: 'gauge' | 'counter' | 'histogram'} & (
  | {readonly kind: 'value'; readonly index: number}
  | {readonly kind: 'probes'}
  | {readonly kind: 'histogram'}
);

/** The contract's families (docs/agent.md), in the order a scrape shows them. */
const FAMILIES: readonly Family[] = [
  {name: 'vipcheck_up', help: 'Whether the real server is up through the VIP path, after rise/fall (1 up, 0 down).', type: 'gauge', kind: 'value', index: UP},
  {name: 'vipcheck_probe_success', help: 'Whether the last probe succeeded (OK or WARNING).', type: 'gauge', kind: 'value', index: SUCCESS},
  {name: 'vipcheck_probe_duration_seconds', help: 'Duration of a probe, neighbour resolution included.', type: 'histogram', kind: 'histogram'},
  {name: 'vipcheck_probes_total', help: 'Probes by result.', type: 'counter', kind: 'probes'},
  {name: 'vipcheck_state_changes_total', help: 'Up/down transitions after rise/fall.', type: 'counter', kind: 'value', index: CHANGES},
  {name: 'vipcheck_last_probe_timestamp_seconds', help: 'When the last probe ended (Unix time).', type: 'gauge', kind: 'value', index: LAST_PROBE},
  {name: 'vipcheck_http_status_code', help: "HTTP status of the last probe (as blackbox_exporter's probe_http_status_code).", type: 'gauge', kind: 'value', index: HTTP_STATUS},
  {
    name: 'vipcheck_ssl_earliest_cert_expiry',
    help: "Unix time the earliest certificate of the last TLS probe expires (as blackbox_exporter's probe_ssl_earliest_cert_expiry).",
    type: 'gauge',
    kind: 'value',
    index: CERT_EXPIRY,
  },
];

/** Every target's series, by target id. */
export class TargetMetrics {
  private readonly series = new Map<string, TargetSeries>();

  /** A target's series before its first probe: up as configured, zero probes and changes. */
  add(id: string, labels: TargetLabels, up: boolean): TargetSeries {
    const series = new TargetSeries(labels, up);
    this.series.set(id, series);
    return series;
  }

  get(id: string): TargetSeries | undefined {
    return this.series.get(id);
  }

  /** The target left the configuration: its series go from the next scrape on. */
  remove(id: string): void {
    this.series.delete(id);
  }

  get size(): number {
    return this.series.size;
  }

  /**
   * Renders every family, handing out chunks of text; between chunks it waits for `pause` (the event loop's
   * turn, so the probes' frames are handled). A target added or removed meanwhile shows or not in the families
   * still to come (Map iteration allows it).
   */
  async render(write: (chunk: string) => void | Promise<void>, pause: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve))): Promise<void> {
    let out: string[] = [];
    const flush = async () => {
      out.push('');
      await write(out.join('\n'));
      out = [];
      await pause();
    };
    for (const family of FAMILIES) {
      out.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
      for (const series of this.series.values()) {
        series.lines(family, out);
        if (out.length >= RENDER_CHUNK_LINES) await flush();
      }
    }
    if (out.length > 0) await flush();
  }
}
