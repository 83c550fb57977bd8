// Runs INSIDE the VM lab's guest (Debian's kernel with real IPVS), as root, in the guest's own namespace: a dummy
// interface carries the lab's networks and the director's VIP, and ipvsadm builds the tables. It measures and
// records; the host asserts (test/vm/ipvs-netlink.test.ts).
//
//   1. discovery: a table with DR (thresholds on one), TUN (GUE with a port, IPIP, GRE), NAT, fwmark and IPv6
//      services is read through vipcheck's netlink client, and by `ipvsadm -S -n`, `-Ln --tun-info`,
//      `-Ln --thresholds`; and through the /proc fallback by a process without CAP_NET_ADMIN.
//   2. writes: weight changes through updateDestination on every kind, then add and remove; ipvsadm reads back.
//   3. ipvs-audit: a table built for each finding, judged in this process; the clean and one broken table also
//      through the command line (exit codes, --json).
//   4. figures: a table of 100 services x 10 real servers read through netlink, /proc and `ipvsadm -Ln`.
//
//   node dist/lab/vm/guest/ipvs-netlink.js --out FILE
//   node dist/lab/vm/guest/ipvs-netlink.js --print-table      (step 1's /proc reader: the table and notices as JSON)

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { newDestination, type IpvsControl, type IpvsServiceKey, type IpvsTable } from '../../../core/ipvs/model.js';
import { NetlinkIpvsControl } from '../../../core/ipvs/netlink-control.js';
import { openIpvsControl } from '../../../core/ipvs/open.js';
import { IpAddress } from '../../../core/wire/address.js';
import { stateName } from '../../../core/result/state.js';
import { ipvsAuditResult } from '../../../plugins/ipvs-audit/audit.js';
import { gatherIpvsAuditFacts } from '../../../plugins/ipvs-audit/facts.js';
import { run, runOk } from '../../proc.js';
import type { IpvsAuditCase, IpvsNetlinkResult, IpvsTiming } from '../scenarios.js';

const VIPCHECK_BIN = fileURLToPath(new URL('../../../../bin/run.cjs', import.meta.url));
const THIS_SCRIPT = fileURLToPath(import.meta.url);
const ip = (text: string): IpAddress => IpAddress.parse(text)!;
const tcp = (address: string, port: number): IpvsServiceKey => ({ kind: 'address', protocol: 'tcp', address: ip(address), port });

// Table pieces ipvsadm -R reads: the discovery table is the codec's fixture table (test/fixtures/ipvs/capture.sh).
const NAT_FWMARK_IPV6 = [
  '-A -u 198.51.100.102:53 -s rr',
  '-a -u 198.51.100.102:53 -r 203.0.113.31:5353 -m -w 1',
  '-A -f 7 -s rr',
  '-a -f 7 -r 198.51.100.13:0 -g -w 1',
  '-A -t [2001:db8::100]:80 -s rr',
  '-a -t [2001:db8::100]:80 -r [2001:db8::11]:80 -g -w 4',
];

export const DISCOVERY_TABLE = [
  '-A -t 198.51.100.100:80 -s rr',
  '-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 5',
  '-a -t 198.51.100.100:80 -r 198.51.100.12:80 -g -w 3 -x 100 -y 10',
  '-A -t 198.51.100.101:443 -s wrr -p 300',
  '-a -t 198.51.100.101:443 -r 203.0.113.21:443 -i -w 2 --tun-type gue --tun-port 6080',
  '-a -t 198.51.100.101:443 -r 203.0.113.22:443 -i -w 1',
  '-a -t 198.51.100.101:443 -r 203.0.113.23:443 -i -w 1 --tun-type gre',
  ...NAT_FWMARK_IPV6,
];

/** Nothing for ipvs-audit to find (with both expire sysctls 1): DR on-link, TUN GUE, NAT, fwmark, IPv6. */
const CLEAN_TABLE = [
  '-A -t 198.51.100.100:80 -s wrr',
  '-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 5',
  '-a -t 198.51.100.100:80 -r 198.51.100.12:80 -g -w 3',
  '-A -t 198.51.100.100:443 -s wrr -p 300',
  '-a -t 198.51.100.100:443 -r 203.0.113.21:443 -i -w 2 --tun-type gue --tun-port 6080',
  ...NAT_FWMARK_IPV6,
];

interface AuditPlan {
  readonly name: string;
  readonly table: readonly string[];
  readonly sysctl?: { expire_quiescent_template?: number; expire_nodest_conn?: number };
  readonly onDown?: 'drain' | 'remove';
  /** Changes ipvsadm cannot make (it stores a DR real server on the service's port). */
  readonly netlink?: (control: NetlinkIpvsControl) => Promise<void>;
  /** Also through `vipcheck ipvs-audit --json`. */
  readonly cli?: boolean;
}

const SAFE_SYSCTL = { expire_quiescent_template: 1, expire_nodest_conn: 1 };

const AUDIT_PLANS: readonly AuditPlan[] = [
  { name: 'clean', table: CLEAN_TABLE, onDown: 'remove', cli: true },
  {
    name: 'I1',
    table: ['-A -t 198.51.100.100:80 -s rr', '-a -t 198.51.100.100:80 -r 198.51.100.11:10 -g -w 1'],
    netlink: (control) =>
      control.addDestination(tcp('198.51.100.100', 80), newDestination(ip('198.51.100.12'), 10)),
  },
  { name: 'I2', table: ['-A -t 198.51.100.100:80 -s rr', '-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1', '-a -t 198.51.100.100:80 -r 192.0.2.11:80 -g -w 1'] },
  { name: 'I3', table: ['-A -t 198.51.100.100:80 -s rr'] },
  { name: 'I4', table: ['-A -t 198.51.100.100:80 -s rr', '-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 0', '-a -t 198.51.100.100:80 -r 198.51.100.12:80 -g -w 0'] },
  {
    name: 'I5',
    table: ['-A -t 198.51.100.100:80 -s rr -p 300', '-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1', '-a -t 198.51.100.100:80 -r 198.51.100.12:80 -g -w 0'],
    sysctl: { expire_quiescent_template: 0 },
  },
  { name: 'I6', table: CLEAN_TABLE, sysctl: { expire_nodest_conn: 0 }, onDown: 'remove', cli: true },
  { name: 'I8', table: ['-A -t 198.51.100.200:80 -s rr', '-a -t 198.51.100.200:80 -r 198.51.100.11:80 -g -w 1'] },
];

function log(message: string): void {
  process.stdout.write(`[${(performance.now() / 1000).toFixed(1)} s] ${message}\n`);
}

async function sh(...argv: string[]): Promise<string> {
  return (await runOk(argv, { timeoutMs: 60_000 })).stdout;
}

/** `ipvsadm -R` of these lines after clearing the table: one process for the whole table. */
async function restoreTable(lines: readonly string[]): Promise<void> {
  await runOk(['ipvsadm', '-C']);
  if (lines.length > 0) await runOk(['ipvsadm', '-R'], { input: `${lines.join('\n')}\n`, timeoutMs: 120_000 });
}

function setSysctl(values: { expire_quiescent_template?: number; expire_nodest_conn?: number }): void {
  for (const [name, value] of Object.entries(values)) writeFileSync(`/proc/sys/net/ipv4/vs/${name}`, `${value}\n`);
}

async function setUpNetworks(): Promise<void> {
  // The kernel refuses real servers it has no unicast route to; the VIP is local (I8 needs it absent elsewhere).
  await sh('ip', 'link', 'add', 'lab0', 'type', 'dummy');
  await sh('ip', 'link', 'set', 'lab0', 'up');
  for (const address of ['198.51.100.1/24', '203.0.113.1/24', '198.51.100.100/32']) await sh('ip', 'address', 'add', address, 'dev', 'lab0');
  for (const address of ['2001:db8::1/64', '2001:db8::100/128']) await sh('ip', '-6', 'address', 'add', address, 'dev', 'lab0', 'nodad');
  // 192.0.2.0/24 behind a router: a DR real server there is not on-link (I2).
  await sh('ip', 'route', 'add', '192.0.2.0/24', 'via', '198.51.100.254');
}

async function ipvsadmViews(): Promise<{ save: string; tunInfo: string; thresholds: string }> {
  return {
    save: await sh('ipvsadm', '-S', '-n'),
    tunInfo: await sh('ipvsadm', '-L', '-n', '--tun-info'),
    thresholds: await sh('ipvsadm', '-L', '-n', '--thresholds'),
  };
}

/** Reads through the /proc fallback in a process whose bounding set lacks CAP_NET_ADMIN (root, otherwise). */
async function readWithoutNetAdmin(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await run(['setpriv', '--bounding-set=-net_admin', process.execPath, THIS_SCRIPT, '--print-table'], { timeoutMs: 60_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

async function printTable(): Promise<void> {
  const notices: string[] = [];
  const control = await openIpvsControl({ notice: (line) => notices.push(line) });
  const table = await control.read();
  control.close();
  process.stdout.write(`${JSON.stringify({ canWrite: control.canWrite, table, notices })}\n`);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: Math.round((performance.now() - start) * 10) / 10, value };
}

async function measure(control: IpvsControl, services: number, perService: number): Promise<IpvsTiming> {
  const lines: string[] = [];
  for (let s = 0; s < services; s++) {
    const port = 1000 + s;
    lines.push(`-A -t 198.51.100.100:${port} -s wrr`);
    for (let d = 0; d < perService; d++) lines.push(`-a -t 198.51.100.100:${port} -r 198.51.100.${11 + d}:${port} -g -w ${1 + d}`);
  }
  await restoreTable(lines);
  const rounds = 3;
  const netlinkMs: number[] = [];
  const ipvsadmMs: number[] = [];
  const procMs: number[] = [];
  let destinations = 0;
  for (let i = 0; i < rounds; i++) {
    const read = await timed(() => control.read());
    destinations = read.value.services.reduce((n, e) => n + e.destinations.length, 0);
    netlinkMs.push(read.ms);
    ipvsadmMs.push((await timed(() => sh('ipvsadm', '-L', '-n'))).ms);
    procMs.push((await timed(() => sh('cat', '/proc/net/ip_vs'))).ms);
  }
  const update = await timed(() => control.updateDestination(tcp('198.51.100.100', 1050), { address: ip('198.51.100.15'), port: 1050 }, { weight: 0 }));
  return { services, perService, destinationsRead: destinations, netlinkMs, ipvsadmMs, procCatMs: procMs, updateDestinationMs: update.ms };
}

async function runAudits(control: NetlinkIpvsControl): Promise<IpvsAuditCase[]> {
  const cases: IpvsAuditCase[] = [];
  for (const plan of AUDIT_PLANS) {
    await restoreTable(plan.table);
    setSysctl({ ...SAFE_SYSCTL, ...plan.sysctl });
    await plan.netlink?.(control);
    const onDown = plan.onDown ?? 'drain';
    const result = ipvsAuditResult(await control.read(), gatherIpvsAuditFacts(), { onDown });
    const ipvsadmList = await sh('ipvsadm', '-L', '-n');
    let cli: IpvsAuditCase['cli'] = null;
    if (plan.cli) {
      const r = await run([process.execPath, VIPCHECK_BIN, 'ipvs-audit', '--on-down', onDown, '--json'], { timeoutMs: 60_000 });
      cli = { code: r.code, stdout: r.stdout, stderr: r.stderr };
    }
    cases.push({ name: plan.name, onDown, state: stateName(result.state), summary: result.summary, details: [...result.details], ipvsadmList, cli });
    log(`audit ${plan.name}: ${stateName(result.state)} ${result.summary}`);
  }
  setSysctl({ expire_quiescent_template: 0, expire_nodest_conn: 0 });
  return cases;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--print-table') return printTable();
  if (argv[0] !== '--out' || !argv[1]) throw new Error('ipvs-netlink: usage: --out FILE | --print-table');
  const out = argv[1];
  await setUpNetworks();
  await restoreTable(DISCOVERY_TABLE);
  const control = await NetlinkIpvsControl.open();
  try {
    log('discovery');
    const netlinkTable: IpvsTable = await control.read();
    const discovery = { netlink: netlinkTable, ipvsadm: await ipvsadmViews(), proc: await readWithoutNetAdmin() };

    log('weight changes');
    const before = await ipvsadmViews();
    const changes: Array<[IpvsServiceKey, string, number, number]> = [
      [tcp('198.51.100.101', 443), '203.0.113.21', 443, 0],
      [tcp('198.51.100.101', 443), '203.0.113.23', 443, 6],
      [tcp('198.51.100.100', 80), '198.51.100.12', 80, 9],
      [{ kind: 'address', protocol: 'udp', address: ip('198.51.100.102'), port: 53 }, '203.0.113.31', 5353, 4],
      [{ kind: 'fwmark', family: 4, fwmark: 7 }, '198.51.100.13', 0, 2],
      [tcp('2001:db8::100', 80), '2001:db8::11', 80, 0],
    ];
    const returned = [];
    for (const [service, address, port, weight] of changes) returned.push(await control.updateDestination(service, { address: ip(address), port }, { weight }));
    const after = await ipvsadmViews();
    await control.addDestination(
      tcp('198.51.100.101', 443),
      newDestination(ip('203.0.113.24'), 443, { forwarding: 'tun', weight: 3, upperThreshold: 50, lowerThreshold: 5, tunnelType: 'gue', tunnelPort: 6081 }),
    );
    const afterAdd = await ipvsadmViews();
    await control.removeDestination(tcp('198.51.100.101', 443), { address: ip('203.0.113.24'), port: 443 });
    const afterRemove = await sh('ipvsadm', '-S', '-n');
    let missingError = '';
    await control.updateDestination(tcp('198.51.100.101', 443), { address: ip('203.0.113.99'), port: 443 }, { weight: 1 }).catch((e: Error) => (missingError = e.message));

    log('ipvs-audit');
    const audits = await runAudits(control);

    log('figures');
    const timing = await measure(control, 100, 10);
    const result: IpvsNetlinkResult = {
      kernel: (await sh('uname', '-r')).trim(),
      discovery,
      writes: { before, after, returned, afterAdd, afterRemove, missingError },
      audits,
      timing,
      totalMs: Math.round(performance.now()),
    };
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    control.close();
    await run(['ipvsadm', '-C']);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`ipvs-netlink: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
