// `vipcheck agent` at scale, in a namespace lab built (and destroyed) by this run; every target is a ratio or a
// bound measured in this run, never a timed test. Parts (--parts, default all):
// - tcp:      N VIP:port:RS `tcp` targets at a 1 s interval: sustained checks/s (vipcheck_probes_total), agent CPU
//             per check (/proc utime+stime), p99 probe latency (vipcheck_probe_duration_seconds buckets); then
//             blackbox_exporter doing as many TCP-connect probes a second to RIP:port, driven like Prometheus.
// - http:     the same with `http-status` (path /) against blackbox's http prober.
// - memory:   RSS of an agent with 10,000 targets at a 60 s interval, after start and after a minute: bare, and with the
//             V8 settings of the shipped systemd unit (its NODE_OPTIONS line).
// - soak:     the same 10,000 targets at 2,000 probes/s until --soak-probes probes, with the unit's V8 settings and
//             --trace-gc: the live heap after each mark-compact (the leak criterion), the RSS curve and its growth.
// - transfer: a 1 MiB body through the VIP path (a warm agent's `http` check, probe duration sum/count) against
//             curl to RIP:port (time_total), same server, same run.
// Targets: TCP CPU/check <= 0.4x blackbox's per TCP probe, HTTP <= 0.5x, >= 2,000 TCP checks/s, p99 < 5 ms,
// RSS(10,000 targets) <= 150 MiB, no RSS growth, 1 MiB transfer <= 2x curl.
// Usage (root, after `npm run build`; needs prometheus-blackbox-exporter and curl):
//   npx tsx bench/agent.ts [--parts tcp,http,memory,soak,transfer] [--targets 2000] [--seconds 20] ...
// --pairing concurrent measures the agent and blackbox_exporter over one window, both running (default: one after
// the other); docs/benchmarks.md says why and what it gave.
// Every option also reads AGENT_BENCH_<NAME> (e.g. AGENT_BENCH_TARGETS=500); --help lists them.
// AGENT_BENCH_STDOUT=FILE keeps the agent's stdout there (with --node-flags=--trace-gc-nvp: every GC's figures).
import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {parseArgs} from 'node:util';
import {
  BULK_PORT,
  MIB,
  REPO,
  bucketDelta,
  cpuSeconds,
  cpuSplit,
  createBenchLab,
  median,
  mib,
  quantile,
  rssBytes,
  shareWithin,
  sleep,
  startAgent,
  startBlackbox,
  startLoad,
  summarizeProfile,
  targetsOver,
  type AgentHandle,
  type BenchLab,
  type Metrics,
  type Target,
} from './agent-lab.js';

const DEFAULTS = {
  parts: 'tcp,http,memory,soak,transfer',
  targets: '2000', // tcp part
  'http-targets': '500', // http part: HTTP/1.1 probes cost ~2-3x a SYN probe, and the server shares the 2 cores
  interval: '1',
  vips: '250',
  'director-vips': 'yes', // also hold the VIPs on the director's eth0, as a real director does ('no': only the lab's VIP)
  warmup: '5', // seconds before blackbox_exporter's measured window (Go: compiled ahead, steady at once)
  // Seconds before the agent's measured window. V8 keeps tiering the check path up (baseline, then optimised
  // code) for tens of seconds at these rates: an HTTP check measured 690-750 us after 5 s and 570 us after 40 s
  // (2026-12-03). A long-running agent lives in the later figure.
  'agent-warmup': '30',
  seconds: '20', // measured window of the tcp and http parts
  concurrency: '256', // blackbox requests in flight at most (Prometheus scrapes each target on its own)
  'max-concurrent': '1024',
  'source-ports': '8192',
  'mem-targets': '10000',
  'mem-interval': '60',
  'mem-seconds': '60',
  'soak-probes': '200000',
  'soak-rate': '2000',
  'sample-seconds': '10',
  'transfer-runs': '20',
  'node-flags': '', // extra node flags for the agent, space-separated (e.g. --max-semi-space-size=8)
  // sequential: the agent's window, then blackbox_exporter's; concurrent: both at once, over one window
  pairing: 'sequential',
  'cpu-prof': '', // a directory: profile the agent of the tcp and http parts there (inflates their CPU figures)
} as const;
type Option = keyof typeof DEFAULTS;

const {values} = parseArgs({options: {...Object.fromEntries(Object.keys(DEFAULTS).map((k) => [k, {type: 'string' as const}])), help: {type: 'boolean'}}});
if (values.help) {
  console.log('npx tsx bench/agent.ts [options]  (root)\n' + Object.entries(DEFAULTS).map(([k, v]) => `  --${k} ${v || '""'}  (AGENT_BENCH_${envName(k)})`).join('\n'));
  process.exit(0);
}
function envName(key: string): string {
  return key.toUpperCase().replaceAll('-', '_');
}
const opt = (key: Option): string => (values as Record<string, string | undefined>)[key] ?? process.env[`AGENT_BENCH_${envName(key)}`] ?? DEFAULTS[key];
const num = (key: Option): number => {
  const n = Number(opt(key));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} must be a positive number, got '${opt(key)}'`);
  return n;
};
const parts = new Set(opt('parts').split(','));
if (!['sequential', 'concurrent'].includes(opt('pairing'))) throw new Error(`--pairing must be sequential or concurrent, got '${opt('pairing')}'`);
const tcpTargets = num('targets');
const httpTargets = num('http-targets');
const memTargets = num('mem-targets');
const vipCount = num('vips');
const profileDir = opt('cpu-prof');
const nodeFlags = opt('node-flags').split(' ').filter(Boolean);

/** One line per target, collected for the summary. */
const verdicts: string[] = [];
function verdict(what: string, figure: string, met: boolean): void {
  verdicts.push(`${met ? 'MET ' : 'MISS'}  ${what}: ${figure}`);
}
const ms = (seconds: number) => `${(seconds * 1000).toFixed(3)} ms`;
const us = (seconds: number) => `${(seconds * 1e6).toFixed(1)} µs`;

function agentYaml(b: BenchLab, targets: readonly Target[], check: string, interval: number, timeout: number, extra = ''): string {
  const services = targets.map((t) => `  - {name: "${check}-${t.vip}-${t.port}", vip: ${t.vip}, port: ${t.port}, check: ${check}, real-servers: [${b.rip}]${extra}}`);
  return [
    `listen: 127.0.0.1:9470`,
    `max-concurrent: ${num('max-concurrent')}`,
    `source-ports: ${num('source-ports')}`,
    `defaults: {interval: ${interval}, timeout: ${timeout}, rise: 1, fall: 3, initial-state: up}`,
    'services:',
    ...services,
    '',
  ].join('\n');
}

interface Rate {
  /** Probes (checks) per second over the window. */
  readonly perSecond: number;
  /** CPU seconds per probe. */
  readonly cpuPerProbe: number;
  readonly failed: number;
}

// ---------------------------------------------------------------------------------------------- agent vs blackbox

/** A window of the agent: two scrapes and the process's CPU at either end. */
interface AgentWindowStart {
  readonly s0: {m: Metrics; at: number; ms: number};
  readonly cpu0: {user: number; system: number};
  readonly t0: number;
}

async function scrapeAgent(agent: AgentHandle): Promise<{m: Metrics; at: number; ms: number}> {
  const started = performance.now();
  const m = await agent.metrics();
  return {m, at: (started + performance.now()) / 2, ms: performance.now() - started};
}

async function agentWindowStart(agent: AgentHandle, label: string): Promise<AgentWindowStart> {
  const s0 = await scrapeAgent(agent);
  if (s0.m.sum('vipcheck_probes_total', 'result="ok"') === 0) throw new Error(`${label}: no OK probe after the warm-up:\n${agent.log.slice(-10).join('\n')}`);
  return {s0, cpu0: cpuSplit(agent.pid), t0: performance.now()};
}

async function agentWindowEnd(agent: AgentHandle, label: string, start: AgentWindowStart): Promise<Rate & {m0: Metrics; m1: Metrics}> {
  const {s0, cpu0, t0} = start;
  const split1 = cpuSplit(agent.pid);
  const cpu1 = split1.user + split1.system;
  const t1 = performance.now();
  const rss = rssBytes(agent.pid);
  const s1 = await scrapeAgent(agent);
  const cpu2 = cpuSeconds(agent.pid);
  // prom-client resets its event-loop delay histogram at each scrape: s1 covers the window, s2 the scrape s1.
  const s2 = await scrapeAgent(agent);
  const used = cpu1 - (cpu0.user + cpu0.system);
  const probes = s1.m.sum('vipcheck_probes_total') - s0.m.sum('vipcheck_probes_total');
  const ok = s1.m.sum('vipcheck_probes_total', 'result="ok"') - s0.m.sum('vipcheck_probes_total', 'result="ok"');
  const perSecond = probes / ((s1.at - s0.at) / 1000);
  const cpuPerProbe = used / (perSecond * ((t1 - t0) / 1000));
  const duration = bucketDelta(s0.m.buckets('vipcheck_probe_duration_seconds'), s1.m.buckets('vipcheck_probe_duration_seconds'));
  const late = bucketDelta(s0.m.buckets('vipcheck_agent_probe_start_delay_seconds'), s1.m.buckets('vipcheck_agent_probe_start_delay_seconds'));
  const lag = (m: Metrics, q: string) => ms(m.sum(`nodejs_eventloop_lag_${q}_seconds`));
  console.log(`  agent (${label}): ${probes} probes in ${((s1.at - s0.at) / 1000).toFixed(1)} s after a ${num('agent-warmup')} s warm-up = ${perSecond.toFixed(0)} checks/s, ${ok} ok, ${probes - ok} not ok`);
  if (probes > ok) await printFailures(agent);
  console.log(`    CPU ${used.toFixed(2)} s in ${((t1 - t0) / 1000).toFixed(1)} s (${((100 * used) / ((t1 - t0) / 1000)).toFixed(0)}% of a core) = ${us(cpuPerProbe)} per check (user ${(split1.user - cpu0.user).toFixed(2)} s, system ${(split1.system - cpu0.system).toFixed(2)} s); RSS ${mib(rss)} MiB`);
  console.log(
    `    probe duration p50 ${ms(quantile(0.5, duration))}, p99 ${ms(quantile(0.99, duration))}, <= 5 ms: ${(100 * shareWithin(0.005, duration)).toFixed(2)}%;` +
      ` start delay p99 ${ms(quantile(0.99, late))}, <= 10 ms: ${(100 * shareWithin(0.01, late)).toFixed(2)}%`,
  );
  console.log(`    event loop delay in the window p99 ${lag(s1.m, 'p99')}, max ${lag(s1.m, 'max')}; max while serving one /metrics scrape ${lag(s2.m, 'max')}`);
  console.log(`    at the end of the window ${memory(s1.m)}`);
  console.log(`    one /metrics scrape: ${(s1.m.bytes / MIB).toFixed(1)} MiB in ${s1.ms.toFixed(0)} ms, agent CPU meanwhile ${((cpu2 - cpu1) * 1000).toFixed(0)} ms (probes included; outside the per-check window)`);
  return {perSecond, cpuPerProbe, failed: probes - ok, m0: s0.m, m1: s1.m};
}

async function stopAgent(agent: AgentHandle): Promise<void> {
  const code = await agent.stop();
  if (code !== 0) console.log(`    agent exited ${code}:\n${agent.log.slice(-10).join('\n')}`);
}

/** Runs the agent on `yaml`, measures one window between two scrapes. */
async function measureAgent(b: BenchLab, label: string, yaml: string, profile?: string): Promise<Rate & {m0: Metrics; m1: Metrics}> {
  const agent = await startAgent(b, yaml, agentFlags(profile));
  try {
    await sleep(num('agent-warmup') * 1000);
    const start = await agentWindowStart(agent, label);
    await sleep(num('seconds') * 1000);
    return await agentWindowEnd(agent, label, start);
  } finally {
    await stopAgent(agent);
  }
}

function agentFlags(profile: string | undefined): string[] {
  return [...nodeFlags, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [])];
}

/** The agent's own view of its memory (prom-client's process and Node.js metrics). */
function memory(m: Metrics): string {
  const v = (name: string) => mib(m.sum(name));
  return `memory: RSS ${v('process_resident_memory_bytes')} MiB, V8 heap ${v('nodejs_heap_size_used_bytes')} used of ${v('nodejs_heap_size_total_bytes')} MiB, external ${v('nodejs_external_memory_bytes')} MiB`;
}

/** The most frequent last-probe summaries of failing targets (numbers blanked, so alike ones group). */
async function printFailures(agent: AgentHandle): Promise<void> {
  const counts = new Map<string, number>();
  for (const service of (await agent.status()).services) {
    for (const rs of service.realServers) {
      if (!rs.lastProbe || rs.lastProbe.status === 'OK') continue;
      const text = `${rs.lastProbe.status}: ${rs.lastProbe.summary.replace(/\d+(\.\d+)?/g, '#')}`;
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
  }
  for (const [text, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 3)) console.log(`    ${n} targets last said ${text}`);
}

/** blackbox_exporter and its load generator, driven like Prometheus. */
interface BlackboxRun {
  readonly exporter: {pid: number; stop: () => Promise<number | null>};
  readonly load: ReturnType<typeof startLoad>;
  readonly module: string;
  readonly targets: number;
}

async function startBlackboxRun(b: BenchLab, module: string, targets: readonly string[], rate: number): Promise<BlackboxRun> {
  const exporter = await startBlackbox(b, 0.5);
  return {exporter, load: startLoad(b, module, targets.map(encodeURIComponent), rate, num('concurrency')), module, targets: targets.length};
}

function blackboxWindowStart(run: BlackboxRun) {
  return {c0: run.load.latest(), cpu0: cpuSplit(run.exporter.pid), t0: performance.now()};
}

function blackboxWindowEnd(run: BlackboxRun, start: ReturnType<typeof blackboxWindowStart>): Rate {
  const {c0, cpu0, t0} = start;
  const split1 = cpuSplit(run.exporter.pid);
  const used = split1.user + split1.system - (cpu0.user + cpu0.system);
  const t1 = performance.now();
  const c1 = run.load.latest();
  const rss = rssBytes(run.exporter.pid);
  const done = c1.ok + c1.failed - (c0.ok + c0.failed);
  const failed = c1.failed - c0.failed;
  const perSecond = done / ((c1.at - c0.at) / 1000);
  const cpuPerProbe = used / (perSecond * ((t1 - t0) / 1000));
  console.log(`  blackbox_exporter (${run.module}, ${run.targets} RIP targets): ${done} probes = ${perSecond.toFixed(0)}/s, ${failed} failed, ${c1.skipped - c0.skipped} turns skipped at ${num('concurrency')} in flight`);
  console.log(`    CPU ${used.toFixed(2)} s in ${((t1 - t0) / 1000).toFixed(1)} s (${((100 * used) / ((t1 - t0) / 1000)).toFixed(0)}% of a core) = ${us(cpuPerProbe)} per probe (user ${(split1.user - cpu0.user).toFixed(2)} s, system ${(split1.system - cpu0.system).toFixed(2)} s); RSS ${mib(rss)} MiB`);
  return {perSecond, cpuPerProbe, failed};
}

async function stopBlackboxRun(run: BlackboxRun): Promise<void> {
  await run.load.stop();
  await run.exporter.stop();
}

/** blackbox_exporter probing `targets` round robin at `rate` a second, as Prometheus would drive it. */
async function measureBlackbox(b: BenchLab, module: string, targets: readonly string[], rate: number): Promise<Rate> {
  const run = await startBlackboxRun(b, module, targets, rate);
  try {
    await sleep(num('warmup') * 1000);
    const start = blackboxWindowStart(run);
    await sleep(num('seconds') * 1000);
    return blackboxWindowEnd(run, start);
  } finally {
    await stopBlackboxRun(run);
  }
}

/**
 * `--pairing concurrent`: the agent and blackbox_exporter run at the same time and are measured over the same
 * window, so a change in the machine's speed between two windows cannot move their ratio (sequential windows
 * on this host gave HTTP ratios of 0.46-0.64x within one day). Each still does its full rate of probes.
 */
async function measurePair(b: BenchLab, label: string, yaml: string, profile: string | undefined, module: string, targets: readonly string[], rate: number): Promise<{agent: Rate & {m0: Metrics; m1: Metrics}; blackbox: Rate}> {
  if (opt('pairing') === 'sequential') {
    const agent = await measureAgent(b, label, yaml, profile);
    return {agent, blackbox: await measureBlackbox(b, module, targets, rate)};
  }
  const agent = await startAgent(b, yaml, agentFlags(profile));
  try {
    await sleep(Math.max(0, num('agent-warmup') - num('warmup')) * 1000);
    const run = await startBlackboxRun(b, module, targets, rate);
    try {
      await sleep(num('warmup') * 1000);
      const agentStart = await agentWindowStart(agent, label);
      const blackboxStart = blackboxWindowStart(run);
      await sleep(num('seconds') * 1000);
      const blackboxRate = blackboxWindowEnd(run, blackboxStart);
      return {agent: await agentWindowEnd(agent, label, agentStart), blackbox: blackboxRate};
    } finally {
      await stopBlackboxRun(run);
    }
  } finally {
    await stopAgent(agent);
  }
}

function profileFor(phase: string): string | undefined {
  if (!profileDir) return undefined;
  const dir = join(profileDir, phase);
  rmSync(dir, {recursive: true, force: true});
  mkdirSync(dir, {recursive: true});
  return dir;
}

function printProfile(dir: string | undefined): void {
  if (!dir) return;
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return console.log(`    (no profile written in ${dir})`);
  for (const line of summarizeProfile(join(dir, file))) console.log(`    ${line}`);
}

async function tcpPart(b: BenchLab): Promise<void> {
  const interval = num('interval');
  const targets = targetsOver(b.vips, tcpTargets);
  console.log(`\n## tcp: ${targets.length} VIP:port targets (${b.vips.length} VIPs x ${Math.ceil(targets.length / b.vips.length)} ports, one RS) every ${interval} s`);
  const profile = profileFor('tcp');
  const ports = [...new Set(targets.map((t) => t.port))];
  const yaml = agentYaml(b, targets, 'tcp', interval, Math.min(0.5, interval / 2));
  const {agent, blackbox} = await measurePair(b, 'tcp', yaml, profile, 'tcp', ports.map((p) => `${b.rip}:${p}`), targets.length / interval);
  printProfile(profile);
  const ratio = agent.cpuPerProbe / blackbox.cpuPerProbe;
  console.log(`  CPU per check, agent / blackbox: ${ratio.toFixed(2)} (target <= 0.4)`);
  // 1% tolerance: the window's ends are two scrapes' midpoints.
  const where = vipsOnDirector ? `${b.vips.length} VIPs on the director` : 'VIPs not on the director';
  verdict(`TCP checks/s sustained (>= 2000, ${where})`, `${agent.perSecond.toFixed(0)}/s of ${(targets.length / interval).toFixed(0)} scheduled, ${agent.failed} not ok`, agent.perSecond >= 0.99 * 2000 && agent.failed === 0);
  verdict(`CPU per VIP-path TCP check <= 0.4x blackbox TCP probe (${where})`, `${us(agent.cpuPerProbe)} vs ${us(blackbox.cpuPerProbe)} = ${ratio.toFixed(2)}x`, ratio <= 0.4);
  const duration = bucketDelta(agent.m0.buckets('vipcheck_probe_duration_seconds'), agent.m1.buckets('vipcheck_probe_duration_seconds'));
  const p99 = quantile(0.99, duration);
  verdict(`p99 TCP probe latency < 5 ms (${where})`, `${ms(p99)} (${(100 * shareWithin(0.005, duration)).toFixed(2)}% within 5 ms)`, shareWithin(0.005, duration) >= 0.99);
}

async function httpPart(b: BenchLab): Promise<void> {
  const interval = num('interval');
  const targets = targetsOver(b.vips, httpTargets);
  console.log(`\n## http: ${targets.length} VIP:port targets, http-status GET / every ${interval} s`);
  const profile = profileFor('http');
  const ports = [...new Set(targets.map((t) => t.port))];
  const yaml = agentYaml(b, targets, 'http-status', interval, Math.min(0.5, interval / 2), ', path: /');
  const {agent, blackbox} = await measurePair(b, 'http-status', yaml, profile, 'http', ports.map((p) => `http://${b.rip}:${p}/`), targets.length / interval);
  printProfile(profile);
  const ratio = agent.cpuPerProbe / blackbox.cpuPerProbe;
  console.log(`  CPU per check, agent / blackbox: ${ratio.toFixed(2)} (target <= 0.5)`);
  verdict('CPU per VIP-path HTTP check <= 0.5x blackbox HTTP probe', `${us(agent.cpuPerProbe)} vs ${us(blackbox.cpuPerProbe)} = ${ratio.toFixed(2)}x (${agent.perSecond.toFixed(0)} vs ${blackbox.perSecond.toFixed(0)}/s)`, ratio <= 0.5);
}

// ---------------------------------------------------------------------------------------------- memory

/** The NODE_OPTIONS the shipped systemd unit runs the agent with (contrib/systemd/vipcheck-agent.service). */
function unitNodeFlags(): string[] {
  const unit = readFileSync(join(REPO, 'contrib/systemd/vipcheck-agent.service'), 'utf8');
  return (/^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1] ?? '').split(' ').filter(Boolean);
}

/** Twice: as `vipcheck agent` runs bare, and with the V8 settings of the shipped systemd unit. */
async function memoryPart(b: BenchLab): Promise<void> {
  await memoryRun(b, 'bare `vipcheck agent`', nodeFlags);
  const unit = unitNodeFlags();
  if (unit.length > 0) await memoryRun(b, `as the systemd unit runs it (${unit.join(' ')})`, [...nodeFlags, ...unit]);
}

async function memoryRun(b: BenchLab, how: string, flags: readonly string[]): Promise<void> {
  const interval = num('mem-interval');
  const targets = targetsOver(b.vips, memTargets);
  console.log(`\n## memory: ${targets.length} tcp targets every ${interval} s, RSS over ${num('mem-seconds')} s, ${how}`);
  const agent = await startAgent(b, agentYaml(b, targets, 'tcp', interval, 1), flags);
  try {
    await sleep(5000);
    const afterStart = rssBytes(agent.pid);
    const samples = [afterStart];
    const end = Date.now() + (num('mem-seconds') - 5) * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(num('sample-seconds') * 1000, Math.max(0, end - Date.now())));
      samples.push(rssBytes(agent.pid));
    }
    const afterRun = samples.at(-1)!;
    const m = await agent.metrics();
    const afterScrape = rssBytes(agent.pid);
    const probes = m.sum('vipcheck_probes_total');
    console.log(`  RSS after start ${mib(afterStart)} MiB, after ${num('mem-seconds')} s ${mib(afterRun)} MiB (max ${mib(Math.max(...samples))}), after one /metrics scrape (${mib(m.bytes)} MiB) ${mib(afterScrape)} MiB`);
    console.log(`  RSS curve (MiB, every ${num('sample-seconds')} s): ${samples.map(mib).join(' ')}`);
    console.log(`  ${probes} probes so far, ${m.sum('vipcheck_probes_total', 'result="ok"')} ok; at the scrape ${memory(m)}`);
    const worst = Math.max(...samples, afterScrape);
    verdict(`RSS with ${targets.length} targets <= 150 MiB, ${how}`, `${mib(afterStart)} after start, ${mib(afterRun)} after ${num('mem-seconds')} s, ${mib(afterScrape)} after a scrape`, worst <= 150 * MIB);
  } finally {
    await agent.stop();
  }
}

/**
 * One `--trace-gc` line of a mark-compact (V8 11, Node 20):
 * `[pid:0x...]    8123 ms: Mark-Compact 45.1 (62.3) -> 30.4 (58.0) MB, ...`: the heap's size before and after.
 */
const MARK_COMPACT = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/;

/**
 * 10,000 targets at 2,000 probes/s, with the shipped unit's V8 settings (as an operator runs it), for
 * --soak-probes probes. RSS alone cannot tell a leak from the collector's pacing: V8 lets the heap fill to a
 * limit it sets from its own timings before it collects, and RSS follows that limit (docs/benchmarks.md). So the
 * leak criterion is the live heap, what is left after each mark-compact (--trace-gc); the RSS curve and its
 * growth are reported and judged as before.
 */
async function soakPart(b: BenchLab): Promise<void> {
  const rate = num('soak-rate');
  const targets = targetsOver(b.vips, memTargets);
  const interval = targets.length / rate;
  const seconds = num('soak-probes') / rate;
  const flags = [...nodeFlags, ...unitNodeFlags(), '--trace-gc'];
  console.log(`\n## soak: ${targets.length} tcp targets every ${interval} s (${rate} probes/s) for ${seconds.toFixed(0)} s (${num('soak-probes')} probes), node ${flags.join(' ')}`);
  const live: Array<{atS: number; mb: number}> = [];
  const onStdout = (line: string) => {
    const m = MARK_COMPACT.exec(line);
    if (m) live.push({atS: Number(m[1]) / 1000, mb: Number(m[2])});
  };
  const agent = await startAgent(b, agentYaml(b, targets, 'tcp', interval, Math.min(1, interval / 2)), flags, onStdout);
  try {
    const samples: number[] = [];
    const started = Date.now();
    while (Date.now() - started < seconds * 1000) {
      await sleep(Math.min(num('sample-seconds') * 1000, Math.max(0, started + seconds * 1000 - Date.now())));
      samples.push(rssBytes(agent.pid));
    }
    // What the final scrape below allocates (tens of MB of text for 10,000 targets) is not the soak's.
    const liveInWindow = live.slice();
    const m = await agent.metrics();
    const probes = m.sum('vipcheck_probes_total');
    const ok = m.sum('vipcheck_probes_total', 'result="ok"');
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    const first = mean(samples.slice(0, quarter));
    const last = mean(samples.slice(-quarter));
    const elapsed = (Date.now() - started) / 1000;
    console.log(`  ${probes} probes (${ok} ok) in ${elapsed.toFixed(0)} s = ${(probes / elapsed).toFixed(0)}/s of ${rate} scheduled; CPU ${cpuSeconds(agent.pid).toFixed(1)} s in all; at the end ${memory(m)}`);
    console.log(`  RSS curve (MiB, every ${num('sample-seconds')} s): ${samples.map(mib).join(' ')}`);
    console.log(`  mean RSS first quarter ${mib(first)} MiB, last quarter ${mib(last)} MiB: growth ${mib(last - first)} MiB (${((100 * (last - first)) / first).toFixed(1)}%)`);
    console.log(`  live heap after each mark-compact (MB at s): ${liveInWindow.map((x) => `${x.mb}@${x.atS.toFixed(0)}`).join(' ') || 'none'}`);
    // The first mark-compacts run while the agent is still starting (config, targets, code): those of its first
    // 10 s (--trace-gc's times count from the isolate's start) are left out.
    const steady = liveInWindow.filter((x) => x.atS >= 10);
    if (steady.length < 4) {
      verdict(`no live-heap growth over ${probes} probes`, `only ${steady.length} mark-compacts after the first 10 s: run longer (--soak-probes)`, false);
    } else {
      const q = Math.max(1, Math.floor(steady.length / 4));
      const heapFirst = mean(steady.slice(0, q).map((x) => x.mb));
      const heapLast = mean(steady.slice(-q).map((x) => x.mb));
      const growth = (100 * (heapLast - heapFirst)) / heapFirst;
      // "No growth": within 5% between the first and the last quarter of the mark-compacts.
      verdict(`no live-heap growth over ${probes} probes (after each of ${steady.length} mark-compacts)`, `${heapFirst.toFixed(1)} -> ${heapLast.toFixed(1)} MB (${growth.toFixed(1)}%)`, growth <= 5);
    }
    // RSS as before: within 5% between the first and the last quarter of the run. It breathes with the
    // collector's limit (a sawtooth of tens of MiB), so this one can miss without a leak; the live heap tells them apart.
    verdict(`no RSS growth over ${probes} probes`, `${mib(first)} -> ${mib(last)} MiB (${((100 * (last - first)) / first).toFixed(1)}%), max ${mib(Math.max(...samples))}`, last - first <= 0.05 * first);
  } finally {
    await agent.stop();
  }
}

// ---------------------------------------------------------------------------------------------- transfer

async function transferPart(b: BenchLab): Promise<void> {
  const runs = num('transfer-runs');
  const url = `http://${b.rip}:${BULK_PORT}/1mib`;
  console.log(`\n## transfer: 1 MiB, agent http check through ${b.lab.vip4}:${BULK_PORT} vs curl ${url}`);
  const curl = async () => Number((await b.lab.execOk('director', ['curl', '-sS', '--fail', '-o', '/dev/null', '-w', '%{time_total}', url])).stdout);
  const curlTimes: number[] = [];
  await curl(); // warm the server
  for (let i = 0; i < Math.ceil(runs / 2); i++) curlTimes.push(await curl());
  const interval = 0.5;
  const target = [{vip: b.lab.vip4, port: BULK_PORT}];
  const agent = await startAgent(b, agentYaml(b, target, 'http', interval, 0.45, `, path: /1mib, size: "${MIB}:${MIB}"`), nodeFlags);
  const agentTimes: number[] = [];
  let m0: Metrics;
  let m1: Metrics;
  try {
    // Warm, as the issue asks: the same --agent-warmup as the other parts. At a probe every 0.5 s the transfer's
    // own code (the bulk hand-off, the HTTP client's body path) is still baseline code after a few seconds:
    // medians 5.88 and 6.94 ms after 3 s against 4.42 and 5.35 ms after 30 s (2026-12-04, alternating runs).
    await sleep(num('agent-warmup') * 1000);
    m0 = await agent.metrics();
    const seen = new Set<string>();
    while (agentTimes.length < runs) {
      await sleep(interval * 1000 * 1.3);
      const last = (await agent.status()).services[0]?.realServers[0]?.lastProbe;
      if (last && !seen.has(last.at)) {
        seen.add(last.at);
        if (last.status !== 'OK') throw new Error(`transfer probe not OK: ${JSON.stringify(last)}`);
        agentTimes.push(last.durationSeconds);
      }
    }
    m1 = await agent.metrics();
  } finally {
    await agent.stop();
  }
  for (let i = 0; i < Math.floor(runs / 2); i++) curlTimes.push(await curl());
  const count = m1.sum('vipcheck_probe_duration_seconds_count') - m0.sum('vipcheck_probe_duration_seconds_count');
  const mean = (m1.sum('vipcheck_probe_duration_seconds_sum') - m0.sum('vipcheck_probe_duration_seconds_sum')) / count;
  const curlMean = curlTimes.reduce((a, x) => a + x, 0) / curlTimes.length;
  console.log(`  agent: mean ${ms(mean)} over ${count} probes (histogram sum/count), median ${ms(median(agentTimes))} of ${agentTimes.length} sampled`);
  console.log(`  curl:  mean ${ms(curlMean)}, median ${ms(median(curlTimes))} of ${curlTimes.length} (half before, half after the agent)`);
  const ratio = mean / curlMean;
  console.log(`  ratio agent / curl: mean ${ratio.toFixed(2)}, median ${(median(agentTimes) / median(curlTimes)).toFixed(2)} (target <= 2)`);
  // Judged on medians: curl's mean carries an outlier run now and then (4.7 ms mean against a 2.0 ms median),
  // which once made a 4x transfer pass by means.
  const medianRatio = median(agentTimes) / median(curlTimes);
  verdict('1 MiB via the warm agent <= 2x curl to RIP', `${ms(median(agentTimes))} vs ${ms(median(curlTimes))} = ${medianRatio.toFixed(2)}x (medians; means ${ratio.toFixed(2)}x)`, medianRatio <= 2);
}

// ---------------------------------------------------------------------------------------------- main

const neededTargets = Math.max(parts.has('tcp') ? tcpTargets : 0, parts.has('http') ? httpTargets : 0, parts.has('memory') || parts.has('soak') ? memTargets : 0, 1);
const ports = Math.ceil(neededTargets / vipCount);
for (const file of ['dist/fast-path.cjs', 'dist/agent/config-validator.cjs', 'dist/agent/agent.js']) {
  if (!existsSync(join(REPO, file))) throw new Error(`${file} is missing: run npm run build first`);
}
const built = new Date(Math.max(...readdirSync(join(REPO, 'dist/agent')).map((f) => statSync(join(REPO, 'dist/agent', f)).mtimeMs)));
console.log(`dist/agent built ${built.toISOString()}, node ${process.version}`);
const vipsOnDirector = opt('director-vips') !== 'no';
const b = await createBenchLab(vipCount, ports, vipsOnDirector);
console.log(`lab ${b.lab.id}: ${vipCount} VIPs on the good server's lo${vipsOnDirector ? ' and the director\'s eth0' : ' (not on the director)'}, listeners on ${ports} ports; load ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
try {
  if (parts.has('tcp')) await tcpPart(b);
  if (parts.has('http')) await httpPart(b);
  if (parts.has('memory')) await memoryPart(b);
  if (parts.has('soak')) await soakPart(b);
  if (parts.has('transfer')) await transferPart(b);
} finally {
  await b.destroy();
}
console.log(`\n## summary (${(await import('node:os')).cpus().length} CPUs, load ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')})`);
for (const line of verdicts) console.log(line);
