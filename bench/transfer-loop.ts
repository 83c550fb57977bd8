// A profiling aid, not a target: one warm agent fetching the 1 MiB body through the VIP path at a chosen interval,
// so a profiler sees the transfer's per-frame path instead of an idle process (bench/agent.ts's transfer part
// probes every 0.5 s and its profile is ~96% idle). Prints the mean probe duration over the window.
//
//   npx tsx bench/transfer-loop.ts [--interval 0.05] [--seconds 10] [--warmup 15] [--perf FILE] [--node-flags "..."]
//
// --perf FILE runs `perf record -g` on the agent for the window (add --node-flags --perf-basic-prof for JavaScript
// names); AGENT_BENCH_STDOUT=FILE keeps the agent's stdout (--trace-gc output, for example). Root, after
// `npm run build`.
import {execFileSync} from 'node:child_process';
import {parseArgs} from 'node:util';
import {BULK_PORT, MIB, createBenchLab, sleep, startAgent} from './agent-lab.js';

const {values} = parseArgs({
  options: {
    interval: {type: 'string', default: '0.05'},
    seconds: {type: 'string', default: '10'},
    warmup: {type: 'string', default: '15'},
    perf: {type: 'string'},
    'node-flags': {type: 'string', default: ''},
  },
});
const interval = Number(values.interval);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
if (!(interval > 0.01) || !(seconds > 0) || !(warmup >= 0)) throw new Error('--interval must be > 0.01 s, --seconds > 0, --warmup >= 0');
// The deadline stays inside the interval, so probes never queue behind each other.
const timeout = Math.min(2, interval * 0.9);

const b = await createBenchLab(1, 1, true);
try {
  const yaml = [
    'listen: 127.0.0.1:9470',
    `defaults: {interval: ${interval}, timeout: ${timeout}, rise: 1, fall: 3, initial-state: up}`,
    'services:',
    `  - {name: transfer, vip: ${b.lab.vip4}, port: ${BULK_PORT}, check: http, real-servers: [${b.rip}], path: /1mib, size: "${MIB}:${MIB}"}`,
    '',
  ].join('\n');
  const agent = await startAgent(b, yaml, values['node-flags'].split(' ').filter(Boolean));
  try {
    await sleep(warmup * 1000);
    const m0 = await agent.metrics();
    if (values.perf) {
      execFileSync('perf', ['record', '-F', '2999', '-g', '-p', String(agent.pid), '-o', values.perf, '--', 'sleep', String(seconds)], {stdio: 'inherit'});
    } else {
      await sleep(seconds * 1000);
    }
    const m1 = await agent.metrics();
    const count = m1.sum('vipcheck_probe_duration_seconds_count') - m0.sum('vipcheck_probe_duration_seconds_count');
    const sum = m1.sum('vipcheck_probe_duration_seconds_sum') - m0.sum('vipcheck_probe_duration_seconds_sum');
    const notOk = ['warning', 'critical', 'unknown'].reduce((n, r) => n + m1.sum('vipcheck_probes_total', `result="${r}"`), 0);
    console.log(`interval ${interval} s: ${count} probes, mean ${((1000 * sum) / count).toFixed(2)} ms, ${notOk} not OK since start`);
  } finally {
    await agent.stop();
  }
} finally {
  await b.destroy();
}
