// Runs INSIDE the VM lab's guest (its kernel has ip_vs, ipip, fou, ip_gre, ip6_tunnel, ip6_gre), as root: the
// tunnel-mode (IPVS TUN) scenario. Its own namespaces, documentation addresses only:
//
//   segment A (bridge in "sw"): 198.51.100.0/24, 2001:db8:100::/64
//     dir  .2  / ::2   the director: the VIP on eth0, IPVS TUN to the three real servers, and vipcheck
//     cli  .50 / ::50  a client of VIP:80
//     ipip .11 / ::11  IPIP real server (tunl0; an ip6tnl device of mode any for IPv6 and IPv4 in IPv6)
//     gue  .12 / ::12  GUE real server (ip fou add port 6080 gue)
//     rtr  .1  / ::1   a router to segment B
//   segment B (veth rtr <-> gre): 203.0.113.0/24, 2001:db8:203::/64
//     gre  .13 / ::13  GRE real server (gre0, ip6gre0), reached only through rtr: routed, not on-link
// Every real server holds the VIPs on lo and serves HTTP on :80 whose body names it.
//
// Steps: a capture on dir's eth0 (the outer packets of IPVS and of vipcheck both leave there); the client's
// requests through IPVS; vipcheck tcp for every tunnel variant with the VIP present and then missing; http
// over TUN; DR against TUN timing on the IPIP server (which is on-link, so DR works too), all captured; arp-audit --local on
// good and broken TUN real servers; vipcheck agent with three TUN services writing FILE_CHECK files.
// Assertions are the host's (test/vm/tunnel-mode.test.ts); this script only runs and records into result.json.
//
//   node dist/lab/vm/guest/tunnel-mode.js --out FILE

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpSeriesArgv, parseHttpSeries, type HttpAttempt } from '../../http-client.js';
import { labPython } from '../../tcp-probe.js';
import { addExitCleanup, run, runOk, sleep, type RunResult } from '../../proc.js';
import type { TunnelModeResult, TunnelProbe, CapturedPacket, TimedRun } from '../scenarios.js';

const VIPCHECK_BIN = fileURLToPath(new URL('../../../../bin/run.cjs', import.meta.url));
const VIP4 = '198.51.100.100';
const VIP6 = '2001:db8:100::100';
const GUE_PORT = 6080;
const HTTP_PORT = 80;
/** The UDP echo on the GUE server (UDP over TUN); the port above it has no listener (ICMP port unreachable). */
const UDP_ECHO_PORT = 7007;
const TIMING_ROUNDS = 5;
const ID = `vt${process.pid}`;
const NS = ['sw', 'dir', 'cli', 'ipip', 'gue', 'rtr', 'gre'] as const;
type Ns = (typeof NS)[number];
const ns = (name: Ns): string => `${ID}-${name}`;

function log(message: string): void {
  process.stdout.write(`[${(performance.now() / 1000).toFixed(1)} s] ${message}\n`);
}

function inNs(name: Ns, argv: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  return run(['ip', 'netns', 'exec', ns(name), ...argv], { timeoutMs });
}

async function inNsOk(name: Ns, argv: readonly string[]): Promise<RunResult> {
  return runOk(['ip', 'netns', 'exec', ns(name), ...argv], { timeoutMs: 20_000 });
}

/** `ip -batch` lines in one namespace: one process per host instead of one per command. */
async function batch(name: Ns, lines: readonly string[]): Promise<void> {
  await runOk(['ip', '-n', ns(name), '-batch', '-'], { input: lines.join('\n') + '\n' });
}

async function sysctls(name: Ns, settings: readonly string[]): Promise<void> {
  await inNsOk(name, ['sysctl', '-q', '-w', ...settings]);
}

function destroy(): void {
  for (const name of NS) spawn('ip', ['netns', 'del', ns(name)], { stdio: 'ignore' });
}

interface RealServer {
  readonly name: 'ipip' | 'gue' | 'gre';
  readonly ipv4: string;
  readonly ipv6: string;
}
const SERVERS: Record<RealServer['name'], RealServer> = {
  ipip: { name: 'ipip', ipv4: '198.51.100.11', ipv6: '2001:db8:100::11' },
  gue: { name: 'gue', ipv4: '198.51.100.12', ipv6: '2001:db8:100::12' },
  gre: { name: 'gre', ipv4: '203.0.113.13', ipv6: '2001:db8:203::13' },
};
const DIRECTOR = { ipv4: '198.51.100.2', ipv6: '2001:db8:100::2' };
const CLIENT = { ipv4: '198.51.100.50', ipv6: '2001:db8:100::50' };

const NO_DAD = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_ra=0', 'net.ipv6.conf.default.accept_ra=0'];
/** The TUN real-server recipe (agent-anchors.md): rp_filter relaxed, and the ARP settings of a host on the VIP's segment. */
const REAL_SERVER_SYSCTLS = ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2'];

async function buildTopology(): Promise<void> {
  for (const name of NS) await runOk(['ip', 'netns', 'add', ns(name)]);
  addExitCleanup(destroy);
  await batch('sw', ['link add br0 type bridge stp_state 0 mcast_snooping 0', 'link set br0 up']);
  for (const name of ['dir', 'cli', 'ipip', 'gue', 'rtr'] as const) {
    await sysctls(name, NO_DAD);
    await batch('sw', [`link add p-${name} type veth peer name eth0 netns ${ns(name)}`, `link set p-${name} master br0 up`]);
  }
  await sysctls('gre', NO_DAD);
  await batch('rtr', [`link add eth1 type veth peer name eth0 netns ${ns('gre')}`]);
  await sysctls('rtr', ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);

  const segmentA = (octet: number): string[] => [`address add 198.51.100.${octet}/24 dev eth0`, `address add 2001:db8:100::${octet}/64 dev eth0 nodad`];
  // The director holds the VIP (deprecated IPv6, so it is never chosen as a source: keepalived issue #1483).
  await batch('dir', [
    'link set lo up', ...segmentA(2), `address add ${VIP4}/32 dev eth0`, `address add ${VIP6}/128 dev eth0 nodad preferred_lft 0`, 'link set eth0 up',
    'route add 203.0.113.0/24 via 198.51.100.1', 'route add 2001:db8:203::/64 via 2001:db8:100::1',
  ]);
  await batch('cli', ['link set lo up', ...segmentA(50), 'link set eth0 up', 'route add 203.0.113.0/24 via 198.51.100.1', 'route add 2001:db8:203::/64 via 2001:db8:100::1']);
  await batch('rtr', ['link set lo up', ...segmentA(1), 'address add 203.0.113.1/24 dev eth1', 'address add 2001:db8:203::1/64 dev eth1 nodad', 'link set eth0 up', 'link set eth1 up']);

  for (const server of Object.values(SERVERS)) {
    const name = server.name;
    await sysctls(name, REAL_SERVER_SYSCTLS);
    const lines = ['link set lo up', `address add ${VIP4}/32 dev lo`, `address add ${VIP6}/128 dev lo`];
    if (name === 'gre') {
      lines.push('address add 203.0.113.13/24 dev eth0', 'address add 2001:db8:203::13/64 dev eth0 nodad', 'link set eth0 up', 'route add default via 203.0.113.1', 'route add default via 2001:db8:203::1');
      lines.push('link set gre0 up', 'link set ip6gre0 up');
    } else {
      // GUE hands the inner packet to the IPIP (tunl0) or IPv6-in-IPv6 (ip6tnl0) receive path.
      lines.push(...segmentA(name === 'ipip' ? 11 : 12), 'link set eth0 up', 'link set tunl0 up', 'link set ip6tnl0 up');
    }
    if (name === 'ipip') {
      // IPv4 in IPv6 needs an ip6tnl device of mode ipip6 or any (the fallback ip6tnl0 takes IPv6 in IPv6 only).
      // Mode any: a device of mode ipip6 with this local address would also be chosen for IPv6 in IPv6 (the
      // lookup prefers a local-address match to the fallback) and drop it for its protocol.
      lines.push(`link add ip6any type ip6tnl mode any local ${server.ipv6}`, 'link set ip6any up');
    }
    await batch(name, lines);
    await sysctls(name, ['net.ipv4.conf.tunl0.rp_filter=0', ...(name === 'gre' ? ['net.ipv4.conf.gre0.rp_filter=0'] : []), ...(name === 'ipip' ? ['net.ipv4.conf.ip6any.rp_filter=0'] : [])]);
  }
  await inNsOk('gue', ['ip', 'fou', 'add', 'port', String(GUE_PORT), 'gue']);
  await inNsOk('gue', ['ip', '-6', 'fou', 'add', 'port', String(GUE_PORT), 'gue']);
}

const servers: Array<ReturnType<typeof spawn>> = [];

/**
 * UDP over TUN (GUE): an echo bound to the VIP itself, since a UDP server bound to the wildcard would answer from
 * its own address, not the VIP; and a port nothing listens on, whose ICMP port unreachable comes from the VIP.
 */
async function udpOverTunnel(): Promise<{udp: TimedRun; udpClosed: TimedRun}> {
  const echo = 'import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((sys.argv[1],int(sys.argv[2])))\nwhile True:\n d,a=s.recvfrom(65535)\n s.sendto(d,a)\n';
  const child = spawn('ip', ['netns', 'exec', ns('gue'), labPython(), '-c', echo, VIP4, String(UDP_ECHO_PORT)], { stdio: 'ignore' });
  addExitCleanup(() => child.kill('SIGKILL'));
  await sleep(1500);
  const common = ['udp', '--vip', VIP4, '--rs', SERVERS.gue.ipv4, ...tunArgs('gue'), '--send', 'ping', '--expect', 'ping', '--timeout', '8', '--json'];
  const udp = await vipcheck([...common, '--port', String(UDP_ECHO_PORT)]);
  const udpClosed = await vipcheck([...common, '--port', String(UDP_ECHO_PORT + 1)]);
  child.kill('SIGKILL');
  log(`udp over gue: ${udp.code}, udp to a closed port over gue: ${udpClosed.code}`);
  return {udp, udpClosed};
}

function startHttp(name: RealServer['name'], dir: string): void {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'index.html'), `<html><body>real server ${name}</body></html>\n`);
  const child = spawn('ip', ['netns', 'exec', ns(name), labPython(), '-m', 'http.server', String(HTTP_PORT), '--bind', '::', '--directory', root], { stdio: 'ignore' });
  servers.push(child);
  addExitCleanup(() => child.kill('SIGKILL'));
}

async function waitForHttp(name: RealServer['name']): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await inNs(name, ['sh', '-c', `grep -q ':0050 ' /proc/net/tcp6`]);
    if (r.code === 0) return;
    await sleep(100);
  }
  throw new Error(`http.server in ${name} did not start`);
}

async function ipvs(): Promise<void> {
  const tcp = (vip: string) => (vip.includes(':') ? `[${vip}]:${HTTP_PORT}` : `${vip}:${HTTP_PORT}`);
  for (const vip of [VIP4, VIP6]) {
    const rs = (server: RealServer) => (vip.includes(':') ? `[${server.ipv6}]:${HTTP_PORT}` : `${server.ipv4}:${HTTP_PORT}`);
    await inNsOk('dir', ['ipvsadm', '-A', '-t', tcp(vip), '-s', 'rr']);
    await inNsOk('dir', ['ipvsadm', '-a', '-t', tcp(vip), '-r', rs(SERVERS.ipip), '-i']);
    await inNsOk('dir', ['ipvsadm', '-a', '-t', tcp(vip), '-r', rs(SERVERS.gue), '-i', '--tun-type', 'gue', '--tun-port', String(GUE_PORT)]);
    await inNsOk('dir', ['ipvsadm', '-a', '-t', tcp(vip), '-r', rs(SERVERS.gre), '-i', '--tun-type', 'gre']);
  }
}

/** One vipcheck run in the director's namespace (or another), timed from spawn to exit. */
async function vipcheck(args: readonly string[], where: Ns = 'dir'): Promise<TimedRun> {
  const started = performance.now();
  const r = await inNs(where, [process.execPath, VIPCHECK_BIN, ...args], 30_000);
  const ms = Math.round(performance.now() - started);
  let json: unknown = null;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = null;
  }
  return { args: [...args], code: r.code, stdout: r.stdout.trim(), stderr: r.stderr.trim().split('\n').slice(-5).join('\n'), ms, json };
}

interface Variant {
  readonly label: string;
  readonly server: RealServer['name'];
  readonly vip: string;
  readonly rs: string;
  readonly type: 'ipip' | 'gue' | 'gre';
  /** Where the VIP lives on the server, to take it away. */
  readonly vipDev: string;
}

const VARIANTS: readonly Variant[] = [
  { label: 'ipip v4 in v4', server: 'ipip', vip: VIP4, rs: SERVERS.ipip.ipv4, type: 'ipip', vipDev: 'lo' },
  { label: 'gue v4 in v4', server: 'gue', vip: VIP4, rs: SERVERS.gue.ipv4, type: 'gue', vipDev: 'lo' },
  { label: 'gre v4 in v4, routed', server: 'gre', vip: VIP4, rs: SERVERS.gre.ipv4, type: 'gre', vipDev: 'lo' },
  { label: 'ipip v6 in v6', server: 'ipip', vip: VIP6, rs: SERVERS.ipip.ipv6, type: 'ipip', vipDev: 'lo' },
  { label: 'ipip v4 in v6', server: 'ipip', vip: VIP4, rs: SERVERS.ipip.ipv6, type: 'ipip', vipDev: 'lo' },
  { label: 'gue v6 in v6', server: 'gue', vip: VIP6, rs: SERVERS.gue.ipv6, type: 'gue', vipDev: 'lo' },
  { label: 'gre v6 in v6, routed', server: 'gre', vip: VIP6, rs: SERVERS.gre.ipv6, type: 'gre', vipDev: 'lo' },
];

function tunArgs(type: Variant['type']): string[] {
  return ['--forwarding', 'tun', '--tun-type', type, ...(type === 'gue' ? ['--tun-port', String(GUE_PORT)] : [])];
}

async function probeVariant(v: Variant): Promise<TunnelProbe> {
  // A passing check ends at its SYN-ACK, so its deadline only has to cover a slow Node start on a busy TCG guest
  // (3 s was overrun once); a failing one runs into it, so keep that short.
  const args = ['tcp', '--vip', v.vip, '--rs', v.rs, '--port', String(HTTP_PORT), ...tunArgs(v.type), '--json', '--timeout'];
  const withVip = await vipcheck([...args, '8']);
  const prefix = v.vip.includes(':') ? '128' : '32';
  await inNsOk(v.server, ['ip', 'address', 'del', `${v.vip}/${prefix}`, 'dev', v.vipDev]);
  const withoutVip = await vipcheck([...args, '4']);
  await inNsOk(v.server, ['ip', 'address', 'add', `${v.vip}/${prefix}`, 'dev', v.vipDev]);
  log(`${v.label}: with the VIP exit ${withVip.code}, without ${withoutVip.code}`);
  return { label: v.label, server: v.server, vip: v.vip, rs: v.rs, type: v.type, withVip, withoutVip };
}

/** The records of a classic pcap file (tcpdump -w), as hex. */
function readPcap(file: string): CapturedPacket[] {
  const bytes = readFileSync(file);
  if (bytes.length < 24) return [];
  const little = bytes.readUInt32LE(0) === 0xa1b2c3d4 || bytes.readUInt32LE(0) === 0xa1b23c4d;
  const u32 = (at: number) => (little ? bytes.readUInt32LE(at) : bytes.readUInt32BE(at));
  const packets: CapturedPacket[] = [];
  for (let at = 24; at + 16 <= bytes.length; ) {
    const length = u32(at + 8);
    const data = bytes.subarray(at + 16, at + 16 + length);
    packets.push({ atUs: u32(at) * 1_000_000 + u32(at + 4), hex: data.toString('hex') });
    at += 16 + length;
  }
  return packets;
}

async function arpAudit(name: RealServer['name'], type: Variant['type'], vip: string): Promise<TimedRun> {
  const started = performance.now();
  const args = ['arp-audit', '--vip', vip, '--local', ...tunArgs(type), '--json'];
  const r = await inNs(name, [process.execPath, VIPCHECK_BIN, ...args], 30_000);
  let json: unknown = null;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = null;
  }
  return { args, code: r.code, stdout: r.stdout.trim(), stderr: r.stderr.trim(), ms: Math.round(performance.now() - started), json };
}

async function auditRealServers(): Promise<TunnelModeResult['arpAudit']> {
  const good = {
    ipip: await arpAudit('ipip', 'ipip', VIP4),
    gue: await arpAudit('gue', 'gue', VIP4),
    gre: await arpAudit('gre', 'gre', VIP4),
  };
  const fouShow = (await inNsOk('gue', ['ip', 'fou', 'show'])).stdout;
  // The three classic TUN faults: strict rp_filter on tunl0, the (IPv4) GUE port missing, gre0 down.
  await sysctls('ipip', ['net.ipv4.conf.tunl0.rp_filter=1']);
  await inNsOk('gue', ['ip', 'fou', 'del', 'port', String(GUE_PORT)]);
  await inNsOk('gre', ['ip', 'link', 'set', 'gre0', 'down']);
  const broken = {
    ipip: await arpAudit('ipip', 'ipip', VIP4),
    gue: await arpAudit('gue', 'gue', VIP4),
    gre: await arpAudit('gre', 'gre', VIP4),
  };
  await sysctls('ipip', ['net.ipv4.conf.tunl0.rp_filter=0']);
  await inNsOk('gue', ['ip', 'fou', 'add', 'port', String(GUE_PORT), 'gue']);
  await inNsOk('gre', ['ip', 'link', 'set', 'gre0', 'up']);
  return { good, broken, fouShow };
}

const AGENT_DIR = '/run/vipcheck-tun';

function agentConfig(): string {
  const service = (type: Variant['type'], rs: string) =>
    [
      `  - name: ${type}`,
      `    vip: ${VIP4}`,
      `    port: ${HTTP_PORT}`,
      '    check: tcp',
      '    forwarding: tun',
      `    tun-type: ${type}`,
      ...(type === 'gue' ? [`    tun-port: ${GUE_PORT}`] : []),
      `    real-servers: [${rs}]`,
      `    file-check: ${AGENT_DIR}/${type}-{rs}.state`,
    ].join('\n');
  return [
    'listen: 127.0.0.1:9471',
    'defaults: {interval: 1, timeout: 0.9, rise: 2, fall: 2}',
    'services:',
    service('ipip', SERVERS.ipip.ipv4),
    service('gue', SERVERS.gue.ipv4),
    service('gre', SERVERS.gre.ipv4),
    '',
  ].join('\n');
}

async function runAgent(dir: string): Promise<TunnelModeResult['agent']> {
  const config = agentConfig();
  const configPath = join(dir, 'agent.yaml');
  writeFileSync(configPath, config);
  const files = { ipip: `${AGENT_DIR}/ipip-${SERVERS.ipip.ipv4}.state`, gue: `${AGENT_DIR}/gue-${SERVERS.gue.ipv4}.state`, gre: `${AGENT_DIR}/gre-${SERVERS.gre.ipv4}.state` };
  const read = (file: string): string | null => (existsSync(file) ? readFileSync(file, 'utf8').trim() : null);
  const agent = spawn('ip', ['netns', 'exec', ns('dir'), process.execPath, VIPCHECK_BIN, 'agent', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  addExitCleanup(() => agent.kill('SIGKILL'));
  let logText = '';
  for (const stream of [agent.stdout, agent.stderr]) stream?.setEncoding('utf8').on('data', (s: string) => (logText += s));
  const started = performance.now();
  let allUpAfterMs: number | null = null;
  let downAfterMs: number | null = null;
  while (performance.now() - started < 90_000 && agent.exitCode === null) {
    if (Object.values(files).every((f) => read(f) === '0')) {
      allUpAfterMs = Math.round(performance.now() - started);
      break;
    }
    await sleep(200);
  }
  const filesWhenUp = { ipip: read(files.ipip), gue: read(files.gue), gre: read(files.gre) };
  if (allUpAfterMs !== null) {
    // The GRE server (behind the router) loses its VIP: its file must turn to 1, the others stay 0.
    await inNsOk('gre', ['ip', 'address', 'del', `${VIP4}/32`, 'dev', 'lo']);
    const faultAt = performance.now();
    while (performance.now() - faultAt < 20_000) {
      if (read(files.gre) === '1') {
        downAfterMs = Math.round(performance.now() - faultAt);
        break;
      }
      await sleep(100);
    }
    await inNsOk('gre', ['ip', 'address', 'add', `${VIP4}/32`, 'dev', 'lo']);
  }
  const filesAfterFault = { ipip: read(files.ipip), gue: read(files.gue), gre: read(files.gre) };
  agent.kill('SIGTERM');
  await new Promise<void>((resolve) => {
    if (agent.exitCode !== null) resolve();
    agent.on('exit', () => resolve());
    setTimeout(resolve, 5000);
  });
  return { config, allUpAfterMs, filesWhenUp, greDownAfterMs: downAfterMs, filesAfterFault, exitCode: agent.exitCode, log: logText.split('\n').slice(-40).join('\n') };
}

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = process.argv[outIndex + 1];
  if (outIndex < 0 || !out) throw new Error('tunnel-mode: --out FILE is required');
  const dir = mkdtempSync(join(tmpdir(), 'vipcheck-tun-'));
  addExitCleanup(() => rmSync(dir, { recursive: true, force: true }));
  await buildTopology();
  const labSetupMs = Math.round(performance.now());
  log('topology up');
  for (const name of ['ipip', 'gue', 'gre'] as const) startHttp(name, dir);
  await ipvs();
  for (const name of ['ipip', 'gue', 'gre'] as const) await waitForHttp(name);

  const pcap = join(dir, 'dir.pcap');
  // IPVS's and vipcheck's encapsulations as they leave the director, and the plain TCP of VIP:80 (DR probes,
  // and the replies from the VIP) for the wire times of the DR and TUN probes.
  const filter =
    `(ip proto 4 or ip proto 41 or ip proto 47 or udp port ${GUE_PORT}) or (ip6 and (ip6 proto 4 or ip6 proto 41 or ip6 proto 47 or udp port ${GUE_PORT}))` +
    ` or (tcp port ${HTTP_PORT} and (host ${VIP4} or host ${VIP6}))`;
  const tcpdump = spawn('ip', ['netns', 'exec', ns('dir'), 'tcpdump', '-i', 'eth0', '-Z', 'root', '--immediate-mode', '-U', '-s', '0', '-w', pcap, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  addExitCleanup(() => tcpdump.kill('SIGKILL'));
  let tcpdumpLog = '';
  tcpdump.stderr?.setEncoding('utf8').on('data', (s: string) => (tcpdumpLog += s));
  for (let i = 0; i < 50 && !tcpdumpLog.includes('listening'); i++) await sleep(100);

  const requests: Record<'ipv4' | 'ipv6', HttpAttempt[]> = { ipv4: [], ipv6: [] };
  for (const [family, url] of [['ipv4', `http://${VIP4}/`], ['ipv6', `http://[${VIP6}]/`]] as const) {
    const series = await inNsOk('cli', httpSeriesArgv(url, 6, 3000));
    requests[family] = parseHttpSeries(series.stdout);
    log(`client ${family}: ${requests[family].filter((r) => r.ok).map((r) => r.server).join(', ')}`);
  }

  const probes: TunnelProbe[] = [];
  for (const v of VARIANTS) probes.push(await probeVariant(v));

  const http = await vipcheck(['http', '--vip', VIP4, '--rs', SERVERS.gre.ipv4, '--port', String(HTTP_PORT), ...tunArgs('gre'), '--string', 'real server gre', '--timeout', '10', '--json']);
  const httpStatus = await vipcheck(['http-status', '--vip', VIP6, '--rs', SERVERS.gue.ipv6, '--port', String(HTTP_PORT), ...tunArgs('gue'), '--timeout', '10', '--json']);
  const conversation = await vipcheck(['tcp', '--vip', VIP4, '--rs', SERVERS.ipip.ipv4, '--port', String(HTTP_PORT), ...tunArgs('ipip'), '--send', 'HEAD / HTTP/1.0\\r\\n\\r\\n', '--expect', 'HTTP/1.0 200', '--timeout', '10', '--json']);
  // From the client, which does not hold the VIP: its kernel would answer the server's segments with RSTs to the
  // VIP, which the conversation's nftables guard drops (docs/lvs-dr-notes.md), exactly as in DR.
  const fromClient = await vipcheck(['http', '--vip', VIP4, '--rs', SERVERS.gue.ipv4, '--port', String(HTTP_PORT), ...tunArgs('gue'), '--string', 'real server gue', '--timeout', '10', '--json', '-v'], 'cli');
  const clientNftAfter = (await inNsOk('cli', ['nft', 'list', 'tables'])).stdout;
  const {udp, udpClosed} = await udpOverTunnel();
  log(`http over gre: ${http.code}, http-status over gue v6: ${httpStatus.code}, tcp --send/--expect over ipip: ${conversation.code}, http from the client: ${fromClient.code}`);

  const timing: { dr: TimedRun[]; tun: TimedRun[] } = { dr: [], tun: [] };
  for (let i = 0; i < TIMING_ROUNDS; i++) {
    const common = ['tcp', '--vip', VIP4, '--rs', SERVERS.ipip.ipv4, '--port', String(HTTP_PORT), '--timeout', '8', '--json'];
    timing.dr.push(await vipcheck(common));
    timing.tun.push(await vipcheck([...common, ...tunArgs('ipip')]));
  }

  await sleep(500);
  tcpdump.kill('SIGTERM');
  await new Promise((resolve) => tcpdump.on('exit', resolve));
  const captured = readPcap(pcap);
  log(`captured ${captured.length} packets`);

  const arpAuditResult = await auditRealServers();
  const agent = await runAgent(dir);
  log(`agent: all up after ${agent.allUpAfterMs} ms, gre down after ${agent.greDownAfterMs} ms`);

  const ipvsTable = (await inNsOk('dir', ['ipvsadm', '-L', '-n', '--tun-info'])).stdout;
  const result: TunnelModeResult = {
    vip4: VIP4,
    vip6: VIP6,
    director: DIRECTOR,
    client: CLIENT,
    servers: SERVERS,
    guePort: GUE_PORT,
    labSetupMs,
    ipvsTable,
    requests,
    probes,
    http,
    httpStatus,
    conversation,
    udp,
    udpClosed,
    fromClient,
    clientNftAfter,
    captured,
    timing,
    arpAudit: arpAuditResult,
    agent,
    totalMs: Math.round(performance.now()),
  };
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  for (const child of servers) child.kill('SIGKILL');
}

// The HTTP servers, tcpdump and the agent are children: exit explicitly (the exit cleanups kill them and delete
// the namespaces) instead of waiting for them.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`tunnel-mode: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
