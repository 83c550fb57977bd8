// Shared by the benchmarks: run commands interleaved, collect wall and children's CPU time, report medians.
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';

/** CPU time of waited-for children (utime+stime of reaped children, /proc/self/stat fields 16-17), in ms. */
export function childrenCpuMs() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100; // USER_HZ is 100 on Linux
}

export function measure(argv, env) {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', env: {...process.env, ...env}, maxBuffer: 64 * 1024 * 1024});
  const wall = performance.now() - t0;
  return {wall, cpu: childrenCpuMs() - cpu0, status: r.status, stdout: r.stdout};
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Runs every variant `runs` times, interleaved (so machine noise hits all alike), after one warm-up each.
 * A variant with `expect` fails the benchmark when it exits otherwise; one with `inner(stdout)` also records its
 * own timing of the work in ms. Returns {name: {wall: [], cpu: [], inner: []}}.
 */
export function runInterleaved(variants, runs) {
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, {wall: [], cpu: [], inner: []}]));
  for (const v of Object.values(variants)) measure(v.argv, v.env);
  for (let i = 0; i < runs; i++) {
    for (const [name, v] of Object.entries(variants)) {
      const m = measure(v.argv, v.env);
      if (v.expect !== undefined && m.status !== v.expect) throw new Error(`${name} exited ${m.status}: ${m.stdout}`);
      samples[name].wall.push(m.wall);
      samples[name].cpu.push(m.cpu);
      // A variant's own measure of the work, read from its output (e.g. curl's time_total), without start-up.
      if (v.inner) samples[name].inner.push(v.inner(m.stdout));
    }
  }
  return samples;
}

export function report(samples, baseline) {
  const baseWall = median(samples[baseline].wall);
  const baseCpu = mean(samples[baseline].cpu);
  for (const [name, s] of Object.entries(samples)) {
    const wall = median(s.wall);
    const cpu = mean(s.cpu);
    console.log(
      `${name.padEnd(52)} wall median ${wall.toFixed(1).padStart(7)} ms (x${(wall / baseWall).toFixed(2)})` +
        `  cpu mean ${cpu.toFixed(1).padStart(7)} ms (x${(cpu / baseCpu).toFixed(2)})`,
    );
  }
}
