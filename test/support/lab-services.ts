/**
 * Extra servers and network conditions in a lab real server's namespace, for checks beyond the lab's basic
 * port-80 HTTP server: the Node fixture servers (servers/fixture-servers.cjs), nginx from Debian with HTTPS
 * (a throwaway CA made here with openssl), and packet loss on the real server's egress (nftables numgen).
 * Everything is stopped with the lab (processes are tracked by lab.spawn; files live in the lab's tmpDir).
 */
import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {Lab, HostName} from '../../src/lab/lab.js';

const FIXTURE_SERVERS = fileURLToPath(new URL('./servers/fixture-servers.cjs', import.meta.url));

/** The body fixture-servers.cjs sends for /chunked?bytes=N, and its MD5 (what `--digest` is given). */
export function fixtureBody(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = 0x61 + ((i * 7 + (i >> 10)) % 26);
  return out;
}

export function fixtureBodyMd5(bytes: number): string {
  return createHash('md5').update(fixtureBody(bytes)).digest('hex');
}

export const FIXTURE_PORTS = {http: 8080, lfOnly: 8081, closeDelimited: 8082, banner: 2222, redis: 6379} as const;
export const TLS_PORT = 443;
/** The name in the server certificate (and the SNI the tests send). */
export const TLS_NAME = 'www.example.test';

async function waitListening(lab: Lab, host: HostName, ports: readonly number[], address: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    for (;;) {
      if ((await lab.tcpConnect(host, address, port, {timeoutMs: 500})) === 'open') break;
      if (Date.now() > deadline) throw new Error(`${host}: nothing listens on ${address}:${port} after 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts the Node fixture servers in `host` and waits until every port accepts connections. */
export async function startFixtureServers(lab: Lab, host: HostName): Promise<void> {
  lab.spawn(host, [process.execPath, FIXTURE_SERVERS]);
  await waitListening(lab, host, Object.values(FIXTURE_PORTS), lab.hosts[host].ipv4);
}

export interface TlsFixture {
  readonly caFile: string;
  readonly dir: string;
}

/** A CA and a server certificate for TLS_NAME and the VIP, valid for `days` days (openssl CLI). */
export function makeCertificates(dir: string, vip: string, days = 30): TlsFixture {
  mkdirSync(dir, {recursive: true});
  const openssl = (...args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: ['ignore', 'ignore', 'pipe']});
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-days', '30', '-subj', '/CN=vipcheck lab CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', `/CN=${TLS_NAME}`);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=DNS:${TLS_NAME},IP:${vip}\n`);
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem',
    '-days', String(days), '-extfile', 'san.ext');
  return {caFile: join(dir, 'ca.pem'), dir};
}

/** nginx (Debian's) serving HTTPS on TLS_PORT in `host`, with certificates from makeCertificates. */
export async function startNginxTls(lab: Lab, host: HostName, tls: TlsFixture): Promise<void> {
  const root = join(tls.dir, 'www');
  mkdirSync(root, {recursive: true});
  writeFileSync(join(root, 'index.html'), `hello over TLS from ${host}\n`);
  const conf = join(tls.dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      `pid ${join(tls.dir, 'nginx.pid')};`,
      `error_log ${join(tls.dir, 'error.log')};`,
      'events { worker_connections 64; }',
      'http {',
      `  access_log ${join(tls.dir, 'access.log')};`,
      `  client_body_temp_path ${tls.dir}; proxy_temp_path ${tls.dir}; fastcgi_temp_path ${tls.dir};`,
      `  uwsgi_temp_path ${tls.dir}; scgi_temp_path ${tls.dir};`,
      '  server {',
      `    listen ${TLS_PORT} ssl; listen [::]:${TLS_PORT} ssl;`,
      `    server_name ${TLS_NAME};`,
      `    ssl_certificate ${join(tls.dir, 'server.pem')}; ssl_certificate_key ${join(tls.dir, 'server.key')};`,
      "    ssl_protocols TLSv1.2 TLSv1.3;",
      `    root ${root};`,
      '    location = /health { return 200 "ok\\n"; }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  lab.spawn(host, ['nginx', '-c', conf, '-g', 'daemon off;']);
  await waitListening(lab, host, [TLS_PORT], lab.hosts[host].ipv4);
}

/**
 * Drops `percent` % of the TCP segments `host` sends from `sourcePort`, at random, on the bridge (nftables
 * bridge family in the switch namespace, numgen random), until removed. Loss on the wire, not in the server:
 * a drop in the server's own output hook is a local send error its TCP retries at once, so the receiver would
 * never see a gap (measured: no loss recovery exercised, and stalls at 30 %).
 */
export async function addEgressLoss(lab: Lab, host: HostName, sourcePort: number, percent: number): Promise<void> {
  const rules = [
    'add table bridge vipcheck_loss',
    'add chain bridge vipcheck_loss forward { type filter hook forward priority 0; policy accept; }',
    `add rule bridge vipcheck_loss forward ether saddr ${lab.hosts[host].mac} tcp sport ${sourcePort} numgen random mod 100 < ${percent} drop`,
  ].join('\n');
  await lab.execOk('switch', ['nft', '-f', '-'], {input: `${rules}\n`});
}

/**
 * `host`'s kernel sends every segment from `sourcePort` twice: a copy of each goes to the director's address
 * as well (nftables `dup`), so the director receives every one twice, as after a spurious retransmission.
 */
export async function addEgressDuplicates(lab: Lab, host: HostName, sourcePort: number): Promise<void> {
  const rules = [
    'add table ip vipcheck_dup',
    'add chain ip vipcheck_dup out { type filter hook output priority 0; policy accept; }',
    `add rule ip vipcheck_dup out tcp sport ${sourcePort} dup to ${lab.hosts.director.ipv4} device "${lab.hosts[host].iface}"`,
  ].join('\n');
  await lab.execOk(host, ['nft', '-f', '-'], {input: `${rules}\n`});
}

export async function removeEgressDuplicates(lab: Lab, host: HostName): Promise<void> {
  await lab.exec(host, ['nft', 'delete', 'table', 'ip', 'vipcheck_dup']);
}

export async function removeEgressLoss(lab: Lab): Promise<void> {
  await lab.exec('switch', ['nft', 'delete', 'table', 'bridge', 'vipcheck_loss']);
}

export const UDP_ECHO_PORT = 7007;
/** 12 TXT strings of 60 bytes: over 512 bytes, so a reply without EDNS is truncated and asked again over TCP. */
const BIG_TXT = Array.from({length: 12}, (_, i) => `x${String(i).padStart(2, '0')}`.repeat(20)).join(',');

/**
 * dnsmasq (Debian's dnsmasq-base) in `host` with its whole configuration on the command line: www.lab.example
 * (A 198.51.100.80, AAAA 2001:db8:100::80) and big.lab.example (a TXT answer too big for 512 bytes). It answers
 * from the address a query was sent to (IP_PKTINFO), so from the VIP.
 */
export async function startDnsmasq(lab: Lab, host: HostName): Promise<void> {
  lab.spawn(host, [
    'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=', '--user=root',
    '--host-record=www.lab.example,198.51.100.80,2001:db8:100::80', `--txt-record=big.lab.example,${BIG_TXT}`,
  ]);
  await waitListening(lab, host, [53], lab.hosts[host].ipv4);
}

/** A python3 UDP echo ("echo:" + the datagram) on UDP_ECHO_PORT of the VIPs in `host`. */
export async function startUdpEcho(lab: Lab, host: HostName): Promise<void> {
  const echo = [
    'import socket, threading',
    'def serve(family, address):',
    '    s = socket.socket(family, socket.SOCK_DGRAM)',
    `    s.bind((address, ${UDP_ECHO_PORT}))`,
    '    while True:',
    '        data, peer = s.recvfrom(2048)',
    '        s.sendto(b"echo:" + data, peer)',
    // Bound to the VIPs: a wildcard socket without IP_PKTINFO would answer from the RIP, which clients drop.
    ...(lab.ipv6 ? [`threading.Thread(target=serve, args=(socket.AF_INET6, "${lab.vip6}"), daemon=True).start()`] : []),
    `serve(socket.AF_INET, "${lab.vip4}")`,
  ].join('\n');
  lab.spawn(host, ['python3', '-c', echo]);
  await new Promise((r) => setTimeout(r, 500));
}
