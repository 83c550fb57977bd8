/**
 * The demo behind `./scripts/demo`: builds the namespace lab and runs vipcheck against it from the director,
 * showing what the VIP path sees that an ordinary RIP check does not. Tears the lab down on every exit path.
 */
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {createLab, type Lab} from './lab.js';

const BIN = fileURLToPath(new URL('../../bin/run.cjs', import.meta.url));

interface Step {
  readonly title: string;
  readonly ns: string;
  readonly args: readonly string[];
}

async function show(lab: Lab, step: Step): Promise<void> {
  console.log(`\n# ${step.title}`);
  console.log(`[${step.ns}]$ vipcheck ${step.args.join(' ')}`);
  const r = await lab.exec(step.ns, [process.execPath, BIN, ...step.args], {timeoutMs: 20_000});
  process.stdout.write(r.stdout);
  if (r.stderr) process.stdout.write(`(stderr) ${r.stderr}`);
  console.log(`(exit code ${r.code})`);
}

async function main(): Promise<void> {
  console.log('Building the lab: a director holding the VIP, a backup director, three real servers on a bridge...');
  const lab = await createLab();
  try {
    const h = lab.hosts;
    console.log(`Lab ${lab.id} ready in ${lab.setupMs} ms. VIP ${lab.vip4} / ${lab.vip6}.`);
    console.log(`  good   ${h.good.ipv4} (${h.good.mac}): VIP on lo, HTTP on port 80`);
    console.log(`  novip  ${h.novip.ipv4} (${h.novip.mac}): HTTP on port 80 but the VIP is MISSING from lo`);
    console.log(`  closed ${h.closed.ipv4} (${h.closed.mac}): VIP on lo, nothing listening on port 80`);
    const tcp = (rs: string, ...extra: string[]) => ['tcp', '--vip', lab.vip4, '--rs', rs, '--port', '80', ...extra];
    const steps: Step[] = [
      {title: 'A healthy real server, checked through the VIP path', ns: 'director', args: tcp(h.good.ipv4)},
      {title: 'The classic fault: the VIP is missing on the real server', ns: 'director', args: tcp(h.novip.ipv4, '--timeout', '2')},
      {title: '...while an ordinary check of RIP:port (what keepalived TCP_CHECK does) stays green', ns: 'director', args: tcp(h.novip.ipv4, '--role', 'backup')},
      {title: 'VIP present but nothing listens', ns: 'director', args: tcp(h.closed.ipv4)},
      {title: 'The same check as keepalived MISC_CHECK sees it (exit 0 = up, 1 = down)', ns: 'director', args: tcp(h.closed.ipv4, '--exit-codes', 'keepalived')},
      {title: 'On the backup director, --role auto falls back to a kernel connect (the VIP is not local there)', ns: 'backup', args: tcp(h.good.ipv4, '--role', 'auto')},
      {title: 'Thresholds on the response time, JSON output', ns: 'director', args: tcp(h.good.ipv4, '-w', '0.5', '-c', '1', '--json')},
      {title: 'An IPv6 VIP through the same real server', ns: 'director', args: ['tcp', '--vip', lab.vip6, '--rs', h.good.ipv4, '--port', '80']},
      {title: 'A packet trace (-vvv): ARP for the RIP, then SYN to the VIP at the real server MAC', ns: 'director', args: tcp(h.good.ipv4, '-vvv')},
      {
        title: "HTTP through the VIP path: a whole TCP conversation over vipcheck's own TCP, parsed by Node's HTTP client",
        ns: 'director',
        args: ['http', '--vip', lab.vip4, '--rs', h.good.ipv4, '--port', '80', '--string', 'vipcheck lab real server good', '-E'],
      },
      {title: 'http-status against the real server without the VIP', ns: 'director', args: ['http-status', '--vip', lab.vip4, '--rs', h.novip.ipv4, '--port', '80', '--timeout', '2']},
      {title: 'ARP audit from an ordinary host: exactly one MAC (the director) answers for the VIP', ns: 'client', args: ['arp-audit', '--vip', lab.vip4, '--expect-mac', h.director.mac, '--rs', h.good.ipv4, '--rs', h.novip.ipv4, '--rs', h.closed.ipv4]},
      {title: "Local ARP audit on the real server that lost its VIP", ns: 'novip', args: ['arp-audit', '--vip', lab.vip4, '--local']},
      {title: 'The same audit for the IPv6 VIP speaks Neighbor Discovery', ns: 'client', args: ['arp-audit', '--vip', lab.vip6, '--expect-mac', h.director.mac, '--rs', h.good.ipv6]},
      {title: "The plugin's own problems are UNKNOWN (exit 3) with one line", ns: 'director', args: ['tcp', '--vip', lab.vip4, '--rs', h.good.ipv4, '--port', '99999']},
    ];
    for (const step of steps) await show(lab, step);
    await showAgent(lab);
  } finally {
    await lab.destroy();
    console.log('\nLab torn down.');
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The agent: every real server in one process, /metrics, a FILE_CHECK file, and a state change as it happens. */
async function showAgent(lab: Lab): Promise<void> {
  const h = lab.hosts;
  const config = join(lab.tmpDir, 'agent.yaml');
  const stateFile = (rs: string) => join(lab.tmpDir, `web-${rs}.state`);
  writeFileSync(
    config,
    `listen: 127.0.0.1:9470
defaults: {interval: 0.5, timeout: 0.4, rise: 2, fall: 2}
services:
  - name: web
    vip: ${lab.vip4}
    port: 80
    check: http-status
    real-servers: [${h.good.ipv4}, ${h.novip.ipv4}, ${h.closed.ipv4}]
    file-check: ${join(lab.tmpDir, 'web-{rs}.state')}
`,
  );
  console.log('\n# The agent: every real server of the director in one long-running process');
  console.log(readFileSync(config, 'utf8').replace(/^/gm, '    '));
  console.log(`[director]$ vipcheck agent --config ${config} &`);
  const agent = lab.spawn('director', [process.execPath, BIN, 'agent', '--config', config]);
  let log = '';
  let partial = '';
  agent.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) console.log(`  (agent log) ${line}`);
  });
  agent.stdout!.resume();
  const metrics = async () =>
    (await lab.exec('director', ['curl', '-s', 'http://127.0.0.1:9470/metrics'])).stdout
      .split('\n')
      .filter((line) => line.startsWith('vipcheck_up{'))
      .join('\n');
  try {
    for (let i = 0; i < 40 && !log.includes(`rs ${h.good.ipv4}: down -> up`); i++) await sleep(100);
    console.log('\n[director]$ curl -s 127.0.0.1:9470/metrics | grep ^vipcheck_up');
    console.log(await metrics());
    console.log(`FILE_CHECK files (keepalived track_file: 0 up, 1 down): good ${readFileSync(stateFile(h.good.ipv4), 'utf8').trim()}, novip ${readFileSync(stateFile(h.novip.ipv4), 'utf8').trim()}`);
    console.log(`\n# The VIP disappears from the good real server's lo (a netplan apply, a reboot without the config)...`);
    console.log(`[good]$ ip addr del ${lab.vip4}/32 dev lo`);
    await lab.execOk('good', ['ip', 'addr', 'del', `${lab.vip4}/32`, 'dev', 'lo']);
    for (let i = 0; i < 40 && !log.includes(`rs ${h.good.ipv4}: up -> down`); i++) await sleep(100);
    console.log('[director]$ curl -s 127.0.0.1:9470/metrics | grep ^vipcheck_up');
    console.log(await metrics());
    console.log(`FILE_CHECK file of good now: ${readFileSync(stateFile(h.good.ipv4), 'utf8').trim()} (keepalived takes it out of IPVS)`);
  } finally {
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('exit', resolve));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
