// Helpers of bench/agent.ts: a namespace lab with many VIPs and listeners on the good real server, the agent and
// blackbox_exporter as processes in the director namespace, a load generator playing Prometheus, and readers of
// /metrics, /status and /proc.
import type {ChildProcess} from 'node:child_process';
import {createWriteStream, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {createLab, type Lab} from '../src/lab/lab.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const AGENT_PORT = 9470;
export const BLACKBOX_PORT = 9115;
/** First listener port on the good server; targets use FIRST_PORT.. and the 1 MiB body is on BULK_PORT. */
export const FIRST_PORT = 8000;
export const BULK_PORT = 7999;
export const MIB = 1024 * 1024;
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------- the lab

/** Extra VIPs: 203.0.113.1-254 first, then 198.51.100.128-254 (free in the lab's plan). Documentation ranges only. */
export function extraVips(count: number): string[] {
  const pool = [...range(1, 254).map((i) => `203.0.113.${i}`), ...range(128, 254).map((i) => `198.51.100.${i}`)];
  if (count > pool.length) throw new Error(`at most ${pool.length} VIPs (asked ${count})`);
  return pool.slice(0, count);
}

export interface Target {
  readonly vip: string;
  readonly port: number;
}

/** `count` distinct VIP:port pairs over `vips`: VIP-major, so a port is needed per `vips.length` targets. */
export function targetsOver(vips: readonly string[], count: number): Target[] {
  return range(0, count - 1).map((i) => ({vip: vips[i % vips.length]!, port: FIRST_PORT + Math.floor(i / vips.length)}));
}

export interface BenchLab {
  readonly lab: Lab;
  readonly rip: string;
  readonly vips: readonly string[];
  /** Ports the target server listens on (FIRST_PORT..). */
  readonly ports: number;
  destroy(): Promise<void>;
}

/**
 * The lab, plus: `vipCount` VIPs on the good server's lo (arp_ignore/arp_announce are set by the lab) and, as on
 * a real director, on the director's eth0 (unless `vipsOnDirector` is false: the agent's frames need no VIP on the
 * director, its kernel then drops the answers by rp_filter); one Node server on the good server answering HTTP (and TCP connects)
 * on `ports` ports from FIRST_PORT, and a 1 MiB body on BULK_PORT; the director's ephemeral range widened and
 * TIME_WAIT reuse on, for blackbox_exporter's thousands of kernel connections a second.
 */
export async function createBenchLab(vipCount: number, ports: number, vipsOnDirector: boolean): Promise<BenchLab> {
  const lab = await createLab({ipv6: false, prefix: 'vcab'});
  try {
    const vips = extraVips(vipCount);
    await lab.execOk('good', ['ip', '-batch', '-'], {input: vips.map((v) => `address add ${v}/32 dev lo`).join('\n') + '\n'});
    if (vipsOnDirector) await lab.execOk('director', ['ip', '-batch', '-'], {input: vips.map((v) => `address add ${v}/32 dev eth0`).join('\n') + '\n'});
    await lab.execOk('director', ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=10000 65000', 'net.ipv4.tcp_tw_reuse=1']);
    await lab.execOk('good', ['sysctl', '-q', '-w', 'net.core.somaxconn=8192', 'net.ipv4.tcp_max_syn_backlog=8192']);
    const server = lab.spawn('good', [process.execPath, '-e', TARGET_SERVER_JS, String(FIRST_PORT), String(ports), String(BULK_PORT)]);
    await firstLine(server, /^ready$/, 10_000, 'target server');
    return {lab, rip: lab.hosts.good.ipv4, vips, ports, destroy: () => lab.destroy()};
  } catch (error) {
    await lab.destroy();
    throw error;
  }
}

/** Runs in the good server: `ok` on every port (HTTP/1.1, connection per request as probes do), 1 MiB on the bulk port. */
const TARGET_SERVER_JS = `
const http = require('node:http');
const [first, count, bulk] = process.argv.slice(1).map(Number);
const big = Buffer.alloc(${MIB}, 0x61);
const handler = (req, res) => {
  const body = req.url === '/1mib' ? big : Buffer.from('ok\\n');
  res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': body.length});
  res.end(body);
};
const ports = [bulk, ...Array.from({length: count}, (_, i) => first + i)];
let ready = 0;
for (const port of ports) {
  const server = http.createServer(handler);
  server.on('clientError', (e, socket) => socket.destroy());
  server.listen({port, host: '0.0.0.0', backlog: 8192}, () => { if (++ready === ports.length) console.log('ready'); });
}
`;

// ---------------------------------------------------------------------------------------------- processes

/** Resolves with the first line of `child`'s stdout (or stderr) matching `pattern`; keeps both drained. */
export function firstLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no line ${pattern} within ${timeoutMs} ms:\n${seen.slice(-2000)}`)), timeoutMs);
    const onLine = (line: string) => {
      seen += line + '\n';
      if (pattern.test(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    for (const stream of [child.stdout, child.stderr]) lines(stream, onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${seen.slice(-2000)}`));
    });
  });
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let rest = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const line of parts) onLine(line);
  });
}

/** utime + stime of a process (all threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const {user, system} = cpuSplit(pid);
  return user + system;
}

/** User and system CPU seconds of a process (system time includes what the kernel does in its syscalls). */
export function cpuSplit(pid: number): {user: number; system: number} {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return {user: Number(fields[11]) / 100, system: Number(fields[12]) / 100}; // USER_HZ
}

export function rssBytes(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

async function stopChild(child: ChildProcess, timeoutMs = 3000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

export interface AgentHandle {
  readonly pid: number;
  readonly log: string[];
  metrics(): Promise<Metrics>;
  /** /status, for few targets only. */
  status(): Promise<StatusDoc>;
  stop(): Promise<number | null>;
}

export interface StatusDoc {
  services: Array<{name: string; realServers: Array<{rs: string; state: string; lastProbe: {status: string; summary: string; durationSeconds: number; at: string} | null}>}>;
}

/**
 * Starts `node [nodeFlags] bin/run.cjs agent --config <yaml>` in the director namespace, resolves once it logged
 * "started". onStdoutLine sees the agent's stdout, where V8's --trace-gc writes.
 */
export async function startAgent(b: BenchLab, yaml: string, nodeFlags: readonly string[] = [], onStdoutLine?: (line: string) => void): Promise<AgentHandle> {
  const config = join(b.lab.tmpDir, `agent-${Date.now()}.yaml`);
  writeFileSync(config, yaml);
  const child = b.lab.spawn('director', [process.execPath, ...nodeFlags, join(REPO, 'bin/run.cjs'), 'agent', '--config', config]);
  const log: string[] = [];
  lines(child.stderr, (line) => log.length < 10_000 && log.push(line));
  if (process.env.AGENT_BENCH_STDOUT) child.stdout?.pipe(createWriteStream(process.env.AGENT_BENCH_STDOUT));
  if (onStdoutLine) lines(child.stdout, onStdoutLine);
  else if (!process.env.AGENT_BENCH_STDOUT) child.stdout?.resume();
  await firstLine(child, /^vipcheck agent: started: /, 60_000, 'the agent');
  const get = (path: string) => curlToFile(b.lab, `http://127.0.0.1:${AGENT_PORT}${path}`);
  return {
    pid: child.pid!,
    log,
    metrics: async () => new Metrics(await get('/metrics')),
    status: async () => JSON.parse(await get('/status')) as StatusDoc,
    stop: () => stopChild(child),
  };
}

/** A GET from inside the director namespace, through a file (a 10,000-target /metrics is tens of MB). */
async function curlToFile(lab: Lab, url: string): Promise<string> {
  const file = join(lab.tmpDir, 'curl.out');
  await lab.execOk('director', ['curl', '-sS', '--fail', '--max-time', '60', '-o', file, url], {timeoutMs: 65_000});
  return readFileSync(file, 'utf8');
}

export async function startBlackbox(b: BenchLab, timeoutS: number): Promise<{pid: number; stop: () => Promise<number | null>}> {
  const config = join(b.lab.tmpDir, 'blackbox.yml');
  writeFileSync(
    config,
    [
      'modules:',
      '  tcp:',
      '    prober: tcp',
      `    timeout: ${timeoutS}s`,
      '    tcp: {preferred_ip_protocol: ip4, ip_protocol_fallback: false}',
      '  http:',
      '    prober: http',
      `    timeout: ${timeoutS}s`,
      '    http: {preferred_ip_protocol: ip4, ip_protocol_fallback: false}',
      '',
    ].join('\n'),
  );
  const child = b.lab.spawn('director', [
    '/usr/bin/prometheus-blackbox-exporter',
    `--config.file=${config}`,
    `--web.listen-address=127.0.0.1:${BLACKBOX_PORT}`,
    '--log.level=warn',
  ]);
  child.stdout?.resume();
  child.stderr?.resume();
  const deadline = Date.now() + 10_000;
  while ((await b.lab.exec('director', ['curl', '-sf', '-o', '/dev/null', `http://127.0.0.1:${BLACKBOX_PORT}/-/healthy`])).code !== 0) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('blackbox_exporter did not start');
    await sleep(100);
  }
  return {pid: child.pid!, stop: () => stopChild(child)};
}

export interface LoadCounts {
  readonly at: number;
  readonly ok: number;
  readonly failed: number;
  /** Turns not sent because `concurrency` requests were already in flight. */
  readonly skipped: number;
}

/**
 * Prometheus' part: GET /probe?module=M&target=T at `rate` per second, open loop, at most `concurrency` in
 * flight, over keep-alive connections; reports cumulative counts every 250 ms (latest()).
 */
export function startLoad(b: BenchLab, module: string, targets: readonly string[], rate: number, concurrency: number) {
  const child = b.lab.spawn('director', [process.execPath, '-e', LOADGEN_JS, `127.0.0.1:${BLACKBOX_PORT}`, module, targets.join(','), String(rate), String(concurrency)]);
  let last: LoadCounts = {at: Date.now(), ok: 0, failed: 0, skipped: 0};
  lines(child.stdout, (line) => {
    if (line.startsWith('{')) last = JSON.parse(line) as LoadCounts;
  });
  child.stderr?.resume();
  return {latest: () => last, stop: () => stopChild(child)};
}

const LOADGEN_JS = `
const http = require('node:http');
const [hostPort, module, list, rate, concurrency] = process.argv.slice(1);
const [host, port] = hostPort.split(':');
const targets = list.split(',');
const agent = new http.Agent({keepAlive: true, maxSockets: Number(concurrency)});
let turns = 0, ok = 0, failed = 0, skipped = 0, inFlight = 0;
const started = performance.now();
function fire(target) {
  inFlight++;
  const done = (good) => { inFlight--; good ? ok++ : failed++; };
  http.get({host, port, agent, path: '/probe?module=' + module + '&target=' + target}, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => done(/^probe_success 1$/m.test(body)));
  }).on('error', () => done(false));
}
setInterval(() => {
  const due = Math.floor(((performance.now() - started) / 1000) * Number(rate));
  for (; turns < due; turns++) {
    if (inFlight >= Number(concurrency)) skipped++;
    else fire(targets[turns % targets.length]);
  }
}, 2);
setInterval(() => console.log(JSON.stringify({at: Date.now(), ok, failed, skipped})), 250);
`;

// ---------------------------------------------------------------------------------------------- metrics

/** One /metrics scrape, summed over every target's series. */
export class Metrics {
  private readonly samples: Array<{name: string; labels: string; value: number}> = [];
  readonly bytes: number;

  constructor(text: string) {
    this.bytes = text.length;
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (m) this.samples.push({name: m[1]!, labels: m[2] ?? '', value: Number(m[3])});
    }
  }

  /** Sum of every series of `name` whose labels contain `label="value"` (if given). */
  sum(name: string, label?: string): number {
    let total = 0;
    for (const s of this.samples) if (s.name === name && (label === undefined || s.labels.includes(label))) total += s.value;
    return total;
  }

  /** A histogram's cumulative buckets summed over all series: upper bound -> count. */
  buckets(name: string): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.samples) {
      if (s.name !== `${name}_bucket`) continue;
      const le = /le="([^"]+)"/.exec(s.labels)?.[1];
      const bound = le === '+Inf' ? Infinity : Number(le);
      out.set(bound, (out.get(bound) ?? 0) + s.value);
    }
    return new Map([...out].sort((a, b) => a[0] - b[0]));
  }
}

/** Bucket counts of `after` minus `before`. */
export function bucketDelta(before: Map<number, number>, after: Map<number, number>): Map<number, number> {
  return new Map([...after].map(([le, n]) => [le, n - (before.get(le) ?? 0)]));
}

/** histogram_quantile(): linear within the bucket holding the rank (Prometheus' estimate). */
export function quantile(q: number, buckets: Map<number, number>): number {
  const entries = [...buckets];
  const total = entries.at(-1)?.[1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of entries) {
    if (count >= rank) return le === Infinity ? lower : lower + ((le - lower) * (rank - below)) / Math.max(1, count - below);
    lower = le;
    below = count;
  }
  return lower;
}

/** Share of observations at or under `bound` (exact when `bound` is a bucket boundary). */
export function shareWithin(bound: number, buckets: Map<number, number>): number {
  const total = [...buckets].at(-1)?.[1] ?? 0;
  return (buckets.get(bound) ?? Number.NaN) / total;
}

// ---------------------------------------------------------------------------------------------- misc

export function range(from: number, to: number): number[] {
  return Array.from({length: Math.max(0, to - from + 1)}, (_, i) => from + i);
}

export const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export const mib = (bytes: number) => (bytes / MIB).toFixed(1);

/**
 * Where a V8 .cpuprofile's (node --cpu-prof) busy time goes (idle excluded): top functions by self time, top
 * functions by inclusive time (the function and what it called), and self time by script.
 */
export function summarizeProfile(file: string, top = 20): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{id: number; callFrame: {functionName: string; url: string; lineNumber: number}; children?: number[]}>;
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const script = (id: number) => byId.get(id)!.callFrame.url.replace(/^file:\/\//, '').replace(REPO, '') || '(native/vm)';
  const name = (id: number) => {
    const frame = byId.get(id)!.callFrame;
    return `${frame.functionName || '(anonymous)'} ${script(id)}:${frame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byScript = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    if (byId.get(id)!.callFrame.functionName === '(idle)') return;
    busy += us;
    self.set(name(id), (self.get(name(id)) ?? 0) + us);
    byScript.set(script(id), (byScript.get(script(id)) ?? 0) + us);
    const stack = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) stack.add(name(n));
    for (const f of stack) inclusive.set(f, (inclusive.get(f) ?? 0) + us);
  });
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const rows = (m: Map<string, number>, n: number, skip = /^$/) =>
    [...m].filter(([k]) => !skip.test(k)).sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `  ${pct(us)}  ${k}`);
  return [
    `profile ${file}: ${(busy / 1e6).toFixed(1)} s busy (the whole run: start-up, warm-up, window, scrapes)`,
    'self time by function:',
    ...rows(self, top),
    'inclusive time by function (vipcheck code):',
    ...rows(inclusive, top, /^\S+ (?!dist\/)/),
    'self time by script:',
    ...rows(byScript, 10),
  ];
}
