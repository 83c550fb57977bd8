/**
 * The per-target metric families rendered by hand (src/agent/target-metrics.ts) against prom-client, the
 * library they replace: the same observations give the same samples (names, labels, values), the same HELP and
 * TYPE lines, and the same escaping of hostile label values. Also: a gauge without a value has no sample, a
 * removed target has none, and a large scrape comes in chunks of whole lines with pauses between them.
 */
import assert from 'node:assert/strict';
import {Counter, Gauge, Histogram, Registry} from 'prom-client';
import {State} from '../../../src/core/result/state.js';
import {DURATION_BUCKETS, TARGET_LABELS, TargetMetrics, type TargetLabels} from '../../../src/agent/target-metrics.js';

/** The same families through prom-client, as metrics.ts declared them before. */
function promClientFamilies() {
  const registers = [new Registry()];
  const labelNames = [...TARGET_LABELS];
  return {
    registry: registers[0]!,
    up: new Gauge({name: 'vipcheck_up', help: 'Whether the real server is up through the VIP path, after rise/fall (1 up, 0 down).', labelNames, registers}),
    success: new Gauge({name: 'vipcheck_probe_success', help: 'Whether the last probe succeeded (OK or WARNING).', labelNames, registers}),
    duration: new Histogram({name: 'vipcheck_probe_duration_seconds', help: 'Duration of a probe, neighbour resolution included.', labelNames, buckets: [...DURATION_BUCKETS], registers}),
    probes: new Counter({name: 'vipcheck_probes_total', help: 'Probes by result.', labelNames: [...labelNames, 'result'], registers}),
    changes: new Counter({name: 'vipcheck_state_changes_total', help: 'Up/down transitions after rise/fall.', labelNames, registers}),
    last: new Gauge({name: 'vipcheck_last_probe_timestamp_seconds', help: 'When the last probe ended (Unix time).', labelNames, registers}),
    http: new Gauge({name: 'vipcheck_http_status_code', help: "HTTP status of the last probe (as blackbox_exporter's probe_http_status_code).", labelNames, registers}),
    cert: new Gauge({
      name: 'vipcheck_ssl_earliest_cert_expiry',
      help: "Unix time the earliest certificate of the last TLS probe expires (as blackbox_exporter's probe_ssl_earliest_cert_expiry).",
      labelNames,
      registers,
    }),
  };
}

const RESULTS = {[State.Ok]: 'ok', [State.Warning]: 'warning', [State.Critical]: 'critical', [State.Unknown]: 'unknown'} as const;

/** Samples as a map from name + sorted labels to value, and the comment lines, whatever their order. */
function parse(text: string): {samples: Map<string, number>; comments: string[]} {
  const samples = new Map<string, number>();
  const comments: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}=${m[2]}`).sort();
    const key = `${match[1]}{${labels.join(',')}}`;
    assert.ok(!samples.has(key), `duplicate sample ${key}`);
    samples.set(key, Number(match[3]));
  }
  return {samples, comments: comments.sort()};
}

async function renderAll(metrics: TargetMetrics): Promise<string> {
  const chunks: string[] = [];
  await metrics.render((chunk) => void chunks.push(chunk), async () => {});
  return chunks.join('');
}

const web: TargetLabels = {service: 'web', vip: '198.51.100.100', port: '80', rs: '198.51.100.11', check: 'http-status'};
const hostile: TargetLabels = {service: 'a "quoted" \\ back\nslash', vip: '2001:db8::100', port: '443', rs: '2001:db8::11', check: 'tcp'};

describe('agent per-target metrics (hand-rendered, against prom-client)', () => {
  it('gives the samples, HELP and TYPE lines prom-client gives for the same probes', async () => {
    const ours = new TargetMetrics();
    const theirs = promClientFamilies();
    const at = Date.UTC(2026, 11, 2, 12, 0, 0);
    const steps: Array<{labels: TargetLabels; id: string; state: State; seconds: number; up: boolean; changed: boolean; status?: number; cert?: number}> = [
      {labels: web, id: 'w', state: State.Ok, seconds: 0.0004, up: true, changed: false, status: 200},
      {labels: web, id: 'w', state: State.Critical, seconds: 0.005, up: true, changed: false},
      {labels: web, id: 'w', state: State.Critical, seconds: 2, up: false, changed: true, status: 503},
      {labels: web, id: 'w', state: State.Warning, seconds: 7, up: false, changed: false, cert: 1800000000},
      {labels: hostile, id: 'h', state: State.Unknown, seconds: 0.001, up: true, changed: false},
    ];
    for (const [id, labels] of [['w', web], ['h', hostile]] as const) {
      ours.add(id, labels, true);
      theirs.up.set(labels, 1);
      for (const result of Object.values(RESULTS)) theirs.probes.inc({...labels, result}, 0);
      theirs.changes.inc(labels, 0);
    }
    for (const step of steps) {
      const series = ours.get(step.id)!;
      series.probed(step.state, step.seconds, step.up, step.changed, at);
      series.observedHttp(step.status, step.cert);
      theirs.success.set(step.labels, step.state === State.Ok || step.state === State.Warning ? 1 : 0);
      theirs.duration.observe(step.labels, step.seconds);
      theirs.probes.inc({...step.labels, result: RESULTS[step.state]});
      theirs.last.set(step.labels, at / 1000);
      theirs.up.set(step.labels, step.up ? 1 : 0);
      if (step.changed) theirs.changes.inc(step.labels);
      if (step.status !== undefined) theirs.http.set(step.labels, step.status);
      if (step.cert !== undefined) theirs.cert.set(step.labels, step.cert);
    }
    const mine = parse(await renderAll(ours));
    const reference = parse(await theirs.registry.metrics());
    assert.deepEqual(mine.comments, reference.comments);
    assert.deepEqual([...mine.samples].sort(), [...reference.samples].sort());
    // Spot checks, so a bug shared by both sides would still show.
    assert.equal(mine.samples.get('vipcheck_probe_duration_seconds_bucket{check=http-status,le=0.005,port=80,rs=198.51.100.11,service=web,vip=198.51.100.100}'), 2);
    assert.equal(mine.samples.get('vipcheck_probe_duration_seconds_bucket{check=http-status,le=+Inf,port=80,rs=198.51.100.11,service=web,vip=198.51.100.100}'), 4);
    assert.equal(mine.samples.get('vipcheck_http_status_code{check=http-status,port=80,rs=198.51.100.11,service=web,vip=198.51.100.100}'), 503);
    assert.match(await renderAll(ours), /service="a \\"quoted\\" \\\\ back\\nslash"/);
  });

  it('shows no sample for a gauge without a value, nor any of a removed target', async () => {
    const metrics = new TargetMetrics();
    metrics.add('w', web, false);
    const before = await renderAll(metrics);
    assert.match(before, /^vipcheck_up\{service="web",vip="198\.51\.100\.100",port="80",rs="198\.51\.100\.11",check="http-status"\} 0$/m);
    assert.match(before, /^vipcheck_probes_total\{.*,result="critical"\} 0$/m);
    for (const family of ['vipcheck_probe_success', 'vipcheck_last_probe_timestamp_seconds', 'vipcheck_http_status_code', 'vipcheck_probe_duration_seconds_count']) {
      assert.doesNotMatch(before, new RegExp(`^${family}\\{`, 'm'), family);
    }
    metrics.remove('w');
    const after = await renderAll(metrics);
    assert.doesNotMatch(after, /^vipcheck_/m);
    assert.match(after, /^# TYPE vipcheck_up gauge$/m);
  });

  it('renders a large scrape in chunks of whole lines, pausing between them', async () => {
    const metrics = new TargetMetrics();
    for (let i = 0; i < 1000; i++) metrics.add(`t${i}`, {...web, port: String(1000 + i)}, true).probed(State.Ok, 0.001, true, false, 0);
    const chunks: string[] = [];
    let pauses = 0;
    await metrics.render((chunk) => void chunks.push(chunk), async () => void pauses++);
    assert.ok(chunks.length > 5, `${chunks.length} chunks`);
    assert.equal(pauses, chunks.length);
    for (const chunk of chunks) assert.ok(chunk.endsWith('\n'), 'a chunk ends with a whole line');
    const {samples} = parse(chunks.join(''));
    assert.equal([...samples.keys()].filter((k) => k.startsWith('vipcheck_up{')).length, 1000);
    assert.equal([...samples.keys()].filter((k) => k.startsWith('vipcheck_probe_duration_seconds_bucket{')).length, 1000 * (DURATION_BUCKETS.length + 1));
  });
});
