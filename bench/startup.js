#!/usr/bin/env node
// Start-up budget of a check run (issue 2): every check is a new process under Nagios or keepalived, so the
// wall time of one `vipcheck tcp` run against a healthy real server is compared with `node -e 0`, both run in
// the same lab namespace in the same session, interleaved so machine noise hits both alike.
// Prints medians of wall and CPU time and the ratios. Target: wall ratio <= 1.5. A third variant measures the
// floor no check using libpcap can go below (opening and releasing the capture ring).
// Usage (root): node bench/startup.js [runs]      (needs `npm run build` first)
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const runs = Number(process.argv[2] ?? 30);
const repo = fileURLToPath(new URL('..', import.meta.url));
const {createLab} = await import(`${repo}/dist/lab/lab.js`);

/** CPU time of waited-for children (utime+stime of reaped children, /proc/self/stat fields 16-17), in ms. */
function childrenCpuMs() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function measure(argv, env) {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', env: {...process.env, ...env}});
  const wall = performance.now() - t0;
  return {wall, cpu: childrenCpuMs() - cpu0, status: r.status, stdout: r.stdout};
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const lab = await createLab({ipv6: false});
try {
  const ns = lab.hosts.director.ns;
  const inNs = (...argv) => ['ip', 'netns', 'exec', ns, ...argv];
  const variants = {
    'node -e 0': {argv: inNs(process.execPath, '-e', '0')},
    'floor: node + pcap open/close (bench/pcap-floor.cjs)': {argv: inNs(process.execPath, `${repo}/bench/pcap-floor.cjs`), expect: 0},
    'vipcheck tcp (good server)': {
      argv: inNs(process.execPath, `${repo}/bin/run.cjs`, 'tcp', '--vip', lab.vip4, '--rs', lab.hosts.good.ipv4, '--port', '80'),
      expect: 0,
    },
    'vipcheck tcp via oclif (VIPCHECK_OCLIF=1)': {
      argv: inNs(process.execPath, `${repo}/bin/run.cjs`, 'tcp', '--vip', lab.vip4, '--rs', lab.hosts.good.ipv4, '--port', '80'),
      env: {VIPCHECK_OCLIF: '1'},
      expect: 0,
    },
  };
  const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, {wall: [], cpu: []}]));
  for (const v of Object.values(variants)) measure(v.argv, v.env); // warm the page cache
  for (let i = 0; i < runs; i++) {
    for (const [name, v] of Object.entries(variants)) {
      const m = measure(v.argv, v.env);
      if (v.expect !== undefined && m.status !== v.expect) {
        throw new Error(`${name} exited ${m.status}: ${m.stdout}`);
      }
      samples[name].wall.push(m.wall);
      samples[name].cpu.push(m.cpu);
    }
  }
  const base = samples['node -e 0'];
  console.log(`startup benchmark, ${runs} interleaved runs each, in a lab namespace (ip netns exec included in all)`);
  for (const [name, s] of Object.entries(samples)) {
    const wall = median(s.wall);
    const cpu = s.cpu.reduce((a, b) => a + b, 0) / s.cpu.length;
    console.log(
      `${name.padEnd(44)} wall median ${wall.toFixed(1).padStart(6)} ms (x${(wall / median(base.wall)).toFixed(2)})` +
        `  cpu mean ${cpu.toFixed(1).padStart(6)} ms (x${(cpu / (base.cpu.reduce((a, b) => a + b, 0) / base.cpu.length)).toFixed(2)})`,
    );
  }
  const tcpWall = median(samples['vipcheck tcp (good server)'].wall);
  const floorWall = median(samples['floor: node + pcap open/close (bench/pcap-floor.cjs)'].wall);
  console.log(`wall ratio vipcheck tcp / node -e 0: ${(tcpWall / median(base.wall)).toFixed(2)} (target <= 1.5)`);
  console.log(`wall ratio pcap floor / node -e 0: ${(floorWall / median(base.wall)).toFixed(2)} (the kernel's share, see docs/benchmarks.md)`);
  console.log(`vipcheck tcp above the floor: ${(tcpWall - floorWall).toFixed(1)} ms`);
} finally {
  await lab.destroy();
}
