#!/usr/bin/env node
// Start-up budget of a check run (issues 2 and 3): every check is a new process under Nagios or keepalived, so the
// wall time of one `vipcheck tcp` run against a healthy real server is compared with `node -e 0`, both run in
// the same lab namespace in the same session, interleaved so machine noise hits both alike.
// Prints medians of wall and CPU time and the ratios. Targets: wall ratio <= 1.5 (tcp), <= 1.6 (http-status). A third variant measures the
// floor: node, loading the addon, opening and releasing vipcheck's packet socket (the release waits for an RCU
// grace period in the kernel, see docs/benchmarks.md).
// The code caches are removed first and help runs come before any check, as a user's first steps would: a help
// run once wrote a poor cache that V8 kept for good (issue 7), so the ratios are measured after one.
// Usage (root): node bench/startup.js [runs]      (needs `npm run build` first)
import {spawnSync} from 'node:child_process';
import {readdirSync, unlinkSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import {median, report, runInterleaved} from './measure.js';

const runs = Number(process.argv[2] ?? 30);
const repo = fileURLToPath(new URL('..', import.meta.url));
const {createLab} = await import(`${repo}/dist/lab/lab.js`);

const lab = await createLab({ipv6: false});
try {
  const ns = lab.hosts.director.ns;
  const inNs = (...argv) => ['ip', 'netns', 'exec', ns, ...argv];
  const variants = {
    'node -e 0': {argv: inNs(process.execPath, '-e', '0')},
    'floor: node + packet socket open/close': {argv: inNs(process.execPath, `${repo}/bench/packet-socket-floor.cjs`), expect: 0},
    'vipcheck tcp (good server)': {
      argv: inNs(process.execPath, `${repo}/bin/run.cjs`, 'tcp', '--vip', lab.vip4, '--rs', lab.hosts.good.ipv4, '--port', '80'),
      expect: 0,
    },
    'vipcheck http-status (good server)': {
      argv: inNs(process.execPath, `${repo}/bin/run.cjs`, 'http-status', '--vip', lab.vip4, '--rs', lab.hosts.good.ipv4, '--port', '80'),
      expect: 0,
    },
    'vipcheck tcp via oclif (VIPCHECK_OCLIF=1)': {
      argv: inNs(process.execPath, `${repo}/bin/run.cjs`, 'tcp', '--vip', lab.vip4, '--rs', lab.hosts.good.ipv4, '--port', '80'),
      env: {VIPCHECK_OCLIF: '1'},
      expect: 0,
    },
  };
  const dist = `${repo}/dist`;
  for (const name of readdirSync(dist).filter((f) => f.includes('.v8cache'))) unlinkSync(`${dist}/${name}`);
  for (const help of [['tcp', '--help'], ['http-status', '--help'], ['help']]) {
    spawnSync(process.execPath, [`${repo}/bin/run.cjs`, ...help], {stdio: 'ignore'});
  }
  const cachesAfterHelp = readdirSync(dist).filter((f) => f.includes('.v8cache'));
  console.log(`code caches after help runs: ${cachesAfterHelp.length === 0 ? 'none' : cachesAfterHelp.join(', ')}`);
  const samples = runInterleaved(variants, runs);
  console.log(`startup benchmark, ${runs} interleaved runs each, in a lab namespace (ip netns exec included in all)`);
  report(samples, 'node -e 0');
  const base = samples['node -e 0'];
  const tcpWall = median(samples['vipcheck tcp (good server)'].wall);
  const floorWall = median(samples['floor: node + packet socket open/close'].wall);
  console.log(`wall ratio vipcheck tcp / node -e 0: ${(tcpWall / median(base.wall)).toFixed(2)} (target <= 1.5)`);
  console.log(`wall ratio packet socket floor / node -e 0: ${(floorWall / median(base.wall)).toFixed(2)} (the kernel's share, see docs/benchmarks.md)`);
  console.log(`vipcheck tcp above the floor: ${(tcpWall - floorWall).toFixed(1)} ms`);
  const httpWall = median(samples['vipcheck http-status (good server)'].wall);
  console.log(`wall ratio vipcheck http-status / node -e 0: ${(httpWall / median(base.wall)).toFixed(2)} (target <= 1.6)`);
} finally {
  await lab.destroy();
}
