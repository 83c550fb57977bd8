// A 1 MiB HTTP body through the VIP path (`vipcheck http --digest`, userspace TCP, Node's HTTP client) against
// `curl` fetching the same body from RIP:port with the kernel's TCP, both from the director namespace, interleaved
// in one run, at 0% and at 5% loss on the real server's side of the bridge. Both include process start-up.
// Target: vipcheck / curl <= 2 at 0% loss. Reported twice: whole processes (start-up included: node and the packet socket
// release dominate, see docs/benchmarks.md) and the transfer alone, as each tool times it.
// Usage (root): npx tsx bench/transfer.ts [runs]      (needs `npm run build` first)
import {createHash} from 'node:crypto';
import {fileURLToPath} from 'node:url';
import {createLab} from '../src/lab/lab.js';
import {addEgressLoss, removeEgressLoss, startFixtureServers} from '../test/support/lab-services.js';
import {median, report, runInterleaved} from './measure.js';

const runs = Number(process.argv[2] ?? 15);
const repo = fileURLToPath(new URL('..', import.meta.url));
const MIB = 1024 * 1024;

function fixtureBody(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = 0x61 + ((i * 7 + (i >> 10)) % 26);
  return out;
}

const lab = await createLab({ipv6: false});
try {
  await startFixtureServers(lab, 'good');
  const md5 = createHash('md5').update(fixtureBody(MIB)).digest('hex');
  const inNs = (...argv: string[]) => ['ip', 'netns', 'exec', lab.hosts.director.ns, ...argv];
  const path = `/chunked?bytes=${MIB}`;
  const variants = {
    'curl http://RIP:8080 (kernel TCP)': {
      argv: inNs('curl', '-sS', '--fail', '-o', '/dev/null', '-w', '%{time_total}', `http://${lab.hosts.good.ipv4}:8080${path}`),
      expect: 0,
      inner: (stdout: string) => Number(stdout) * 1000,
    },
    'vipcheck http --digest (VIP path, userspace TCP)': {
      argv: inNs(process.execPath, `${repo}/bin/run.cjs`, 'http', '--vip', lab.vip4, '--rs', lab.hosts.good.ipv4, '-p', '8080', '-u', path, '--digest', md5, '-t', '30'),
      expect: 0,
      // perfdata time: from the connection attempt to the last body byte, as curl's time_total.
      inner: (stdout: string) => Number(/ time=([\d.]+)s/.exec(stdout)?.[1]) * 1000,
    },
  };
  for (const loss of [0, 5]) {
    if (loss) await addEgressLoss(lab, 'good', 8080, loss);
    try {
      const samples = runInterleaved(variants, runs);
      console.log(`\n1 MiB body, ${loss}% loss on the real server's egress, ${runs} interleaved runs each`);
      report(samples, 'curl http://RIP:8080 (kernel TCP)');
      const ours = samples['vipcheck http --digest (VIP path, userspace TCP)']!;
      const curl = samples['curl http://RIP:8080 (kernel TCP)']!;
      console.log(`whole process, wall ratio vipcheck / curl: ${(median(ours.wall) / median(curl.wall)).toFixed(2)}`);
      console.log(
        `transfer only (connect to last byte): vipcheck ${median(ours.inner).toFixed(1)} ms, curl ${median(curl.inner).toFixed(1)} ms, ` +
          `ratio ${(median(ours.inner) / median(curl.inner)).toFixed(2)}${loss === 0 ? ' (target <= 2)' : ''}`,
      );
    } finally {
      if (loss) await removeEgressLoss(lab);
    }
  }
} finally {
  await lab.destroy();
}
