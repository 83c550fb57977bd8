// A throwaway LVS-DR segment built from network namespaces, for tests and the demo.
//
//   switch ns: br0 ── p-director ── director  eth0 198.51.100.2/24   + VIP 198.51.100.100/32 on eth0
//                 ├── p-backup   ── backup    eth0 198.51.100.3/24     (backup director, no VIP)
//                 ├── p-good     ── good      eth0 198.51.100.11/24  + VIP on lo, HTTP :80
//                 ├── p-novip    ── novip     eth0 198.51.100.12/24    no VIP, HTTP :80 (the classic fault)
//                 ├── p-closed   ── closed    eth0 198.51.100.13/24  + VIP on lo, nothing on :80
//                 └── p-client   ── client    eth0 198.51.100.50/24    ordinary host (ARP audits)
//   IPv6 (unless {ipv6: false}): 2001:db8:100::<same last octet>/64, VIP 2001:db8:100::100/128.
//
// Everything is created inside namespaces owned by this lab; nothing is added to the caller's namespace.
// Teardown happens on destroy(), and also, synchronously, when the process exits (normally or through an
// uncaught exception) or gets SIGINT/SIGTERM/SIGHUP. Labs left behind by a SIGKILLed owner are removed by
// cleanupStaleLabs(), which createLab() calls first.

import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanupStaleLabs,
  checkPrefix,
  DEFAULT_PREFIX,
  deleteNamespaces,
  killNamespaceProcesses,
  labTmpDir,
  listNamespaces,
  newLabId,
  nsName,
  pidsInNamespaces,
  type StaleCleanupReport,
} from './netns.js';
import { addExitCleanup, DEFAULT_TIMEOUT_MS, describeFailure, run, runOk, type RunResult, sleep, Tail, waitForExit } from './proc.js';
import { labPython, parseTcpProbe, tcpProbeArgv, type TcpProbeStatus } from './tcp-probe.js';
import {
  HOST_NAMES,
  HOSTS,
  hostBatch,
  hostSysctls,
  HTTP_PORT,
  IFACE,
  linkLocalFromMac,
  SUBNET4,
  SUBNET6,
  SWITCH_SYSCTLS,
  switchBatch,
  VIP4,
  VIP6,
  type HostName,
  type HostPlan,
} from './topology.js';

export { cleanupStaleLabs, type StaleCleanupReport } from './netns.js';
export { HOST_NAMES, VIP4, VIP6, HTTP_PORT, type HostName, type HostRole } from './topology.js';
export type { RunResult } from './proc.js';
export type { TcpProbeStatus } from './tcp-probe.js';

export interface LabOptions {
  /** Configure IPv6 (addresses, VIP6, dual-stack HTTP). Default true. When false IPv6 is disabled in every host. */
  ipv6?: boolean;
  /** Namespace name prefix, 1-8 lowercase letters/digits starting and ending with a letter. Default 'vc'. */
  prefix?: string;
}

export interface LabHost extends HostPlan {
  /** Network namespace name, e.g. `vc4242x1f0c-good`. */
  readonly ns: string;
  readonly iface: 'eth0';
  /** EUI-64 link-local address of eth0 (only configured when the lab has IPv6). */
  readonly linkLocal: string;
}

export interface ExecOptions {
  /** Default 10 000 ms; the command is SIGKILLed when it overruns and the result has timedOut=true. */
  timeoutMs?: number;
  input?: string;
  /** Added to (and overriding) this process's environment. */
  env?: NodeJS.ProcessEnv;
}

export interface SpawnOptions {
  /** Default ['ignore', 'pipe', 'pipe']. Piped output must be consumed, or the process blocks when the pipe fills. */
  stdio?: StdioOptions;
}

/** Where a command runs: a host name ('director', ...), 'switch', or one of this lab's namespace names. */
export type NsRef = HostName | 'switch' | string;

const BUILD_STEP_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 10_000;
const TERM_GRACE_MS = 1_000;
const KILL_WAIT_MS = 3_000;

/** Labs not yet destroyed, for the exit/signal handlers. */
const liveLabs = new Set<Lab>();

export class Lab {
  /** `<prefix><owner pid>x<4 hex>`; every namespace name is `<id>-<role>`. */
  readonly id: string;
  /** Whether IPv6 is configured. hosts[*].ipv6/linkLocal and vip6 always hold the planned addresses. */
  readonly ipv6: boolean;
  readonly vip4 = VIP4;
  readonly vip6 = VIP6;
  readonly subnet4 = SUBNET4;
  readonly subnet6 = SUBNET6;
  readonly httpPort = HTTP_PORT;
  readonly switchNs: string;
  readonly hosts: Readonly<Record<HostName, LabHost>>;
  /** Every namespace of the lab, switch first. */
  readonly namespaces: readonly string[];
  /** Real servers in declaration order: good, novip, closed. */
  readonly realServers: readonly LabHost[];
  /** Scratch directory (HTTP document roots); removed on destroy. */
  readonly tmpDir: string;
  /** Milliseconds createLab took, for reports. */
  setupMs = 0;

  private readonly children = new Set<ChildProcess>();
  private readonly serverLogs = new Map<HostName, Tail>();
  private closed = false;
  private destroying: Promise<void> | null = null;

  constructor(id: string, ipv6: boolean) {
    this.id = id;
    this.ipv6 = ipv6;
    this.switchNs = nsName(id, 'switch');
    const hosts = {} as Record<HostName, LabHost>;
    for (const name of HOST_NAMES) {
      const plan = HOSTS[name];
      hosts[name] = { ...plan, ns: nsName(id, name), iface: IFACE, linkLocal: linkLocalFromMac(plan.mac) };
    }
    this.hosts = hosts;
    this.namespaces = [this.switchNs, ...HOST_NAMES.map((n) => hosts[n].ns)];
    this.realServers = HOST_NAMES.filter((n) => HOSTS[n].role === 'realserver').map((n) => hosts[n]);
    this.tmpDir = labTmpDir(id);
  }

  get destroyed(): boolean {
    return this.closed;
  }

  /** Resolves a host name, 'switch' or a namespace name of this lab to a namespace name. Throws for anything else. */
  nsOf(ref: NsRef): string {
    if (ref === 'switch') return this.switchNs;
    if ((HOST_NAMES as readonly string[]).includes(ref)) return this.hosts[ref as HostName].ns;
    if (this.namespaces.includes(ref)) return ref;
    throw new Error(`${ref} is not a namespace of lab ${this.id}`);
  }

  /** Runs argv inside a namespace (`ip netns exec`) and collects its output. Never throws for a non-zero exit. */
  async exec(ns: NsRef, argv: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    const target = this.nsOf(ns);
    this.assertOpen();
    return run(['ip', 'netns', 'exec', target, ...argv], { ...options, track: (c) => this.track(c) });
  }

  /** Like exec() but throws (with the command's stderr) unless it exits 0. */
  async execOk(ns: NsRef, argv: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    const r = await this.exec(ns, argv, options);
    if (r.code !== 0) throw new Error(describeFailure(['ip', 'netns', 'exec', this.nsOf(ns), ...argv], r));
    return r;
  }

  /**
   * Starts a long-running process inside a namespace. It is tracked: destroy() sends it SIGTERM, then
   * SIGKILL after 1 s. `ip netns exec` execs the command, so child.pid is the command itself.
   */
  spawn(ns: NsRef, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const target = this.nsOf(ns);
    this.assertOpen();
    const child = spawn('ip', ['netns', 'exec', target, ...argv], { stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
    this.track(child);
    return child;
  }

  /** `sysctl -w key=value` inside a namespace. key uses dots: net.ipv4.conf.eth0.arp_ignore. */
  async setSysctl(ns: NsRef, key: string, value: string | number): Promise<void> {
    await this.execOk(ns, ['sysctl', '-q', '-w', `${checkSysctlKey(key)}=${value}`]);
  }

  async getSysctl(ns: NsRef, key: string): Promise<string> {
    return (await this.execOk(ns, ['sysctl', '-n', checkSysctlKey(key)])).stdout.trim();
  }

  /** A kernel TCP connect() from inside `from` to host:port. */
  async tcpConnect(from: NsRef, host: string, port: number, options: { timeoutMs?: number } = {}): Promise<TcpProbeStatus> {
    const timeoutMs = options.timeoutMs ?? 2_000;
    const targets = [{ host, port }];
    const r = await this.execOk(from, tcpProbeArgv('once', targets, timeoutMs, timeoutMs), { timeoutMs: timeoutMs + 5_000 });
    return parseTcpProbe(r.stdout, targets)[0] ?? 'error';
  }

  /** Plain description (what `cli.js up` prints). */
  toJSON(): object {
    return {
      id: this.id,
      ipv6: this.ipv6,
      vip4: this.vip4,
      vip6: this.ipv6 ? this.vip6 : null,
      subnet4: this.subnet4,
      subnet6: this.ipv6 ? this.subnet6 : null,
      httpPort: this.httpPort,
      switchNs: this.switchNs,
      hosts: this.hosts,
    };
  }

  /**
   * Stops every process of the lab and deletes its namespaces and scratch directory. Idempotent and safe to
   * call concurrently; when it resolves, no process is left in any lab namespace.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  /** The emergency variant for exit/signal handlers: SIGKILL everything, delete, no waiting. */
  destroySync(): void {
    this.closed = true;
    for (const child of this.children) child.kill('SIGKILL');
    killNamespaceProcesses(this.namespaces);
    deleteNamespaces(this.namespaces);
    rmSync(this.tmpDir, { recursive: true, force: true });
    liveLabs.delete(this);
  }

  private async teardown(): Promise<void> {
    this.closed = true;
    // Polite first: SIGTERM lets tools such as tcpdump flush what they captured.
    const children = [...this.children];
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => waitForExit(c, TERM_GRACE_MS)));
    for (const child of this.children) child.kill('SIGKILL');
    // Untracked leftovers: anything a test started in the background inside a lab namespace.
    const deadline = Date.now() + KILL_WAIT_MS;
    while (killNamespaceProcesses(this.namespaces).length > 0 && Date.now() < deadline) await sleep(20);
    const survivors = pidsInNamespaces(this.namespaces);
    deleteNamespaces(this.namespaces);
    rmSync(this.tmpDir, { recursive: true, force: true });
    liveLabs.delete(this);
    if (survivors.length > 0) throw new Error(`lab ${this.id}: processes ${survivors.join(', ')} survived SIGKILL`);
  }

  /** Builds the topology. Called once by createLab; not for other callers. */
  async build(): Promise<void> {
    const started = Date.now();
    this.writeDocumentRoots();
    // One `ip -batch` per step and namespace keeps this to ~20 process starts.
    await this.ip([], this.namespaces.map((ns) => `netns add ${ns}`));
    // The switch must not run IPv6 on its ports; set before the ports exist so they inherit it.
    await this.sysctls('switch', SWITCH_SYSCTLS);
    const hostNs = Object.fromEntries(HOST_NAMES.map((n) => [n, this.hosts[n].ns])) as Record<HostName, string>;
    await this.ip(['-n', this.switchNs], switchBatch(hostNs));
    // Sysctls before addresses and before eth0 comes up: a real server must never be seen answering ARP for its VIP.
    await Promise.all(
      HOST_NAMES.map(async (name) => {
        const host = this.hosts[name];
        await this.sysctls(name, hostSysctls(host, this.ipv6));
        await this.ip(['-n', host.ns], hostBatch(host, this.ipv6));
      }),
    );
    for (const host of this.realServers) if (host.http) this.startHttpServer(host);
    await Promise.all([this.waitHttpReady(), this.ipv6 ? this.waitNoTentative() : Promise.resolve()]);
    this.setupMs = Date.now() - started;
  }

  private writeDocumentRoots(): void {
    mkdirSync(this.tmpDir, { recursive: false, mode: 0o755 });
    for (const host of this.realServers) {
      const dir = join(this.tmpDir, host.name);
      mkdirSync(dir);
      // Says which server answered, so a test can tell a VIP-path response from the good server apart from any other.
      writeFileSync(join(dir, 'index.html'), `<!doctype html><title>vipcheck lab ${host.name}</title>\n<p>vipcheck lab real server ${host.name} (${host.ipv4})</p>\n`);
    }
  }

  private startHttpServer(host: LabHost): void {
    // `--bind ::` makes python's http.server listen dual-stack (it clears IPV6_V6ONLY), i.e. on every
    // IPv4 and IPv6 address of the host including the VIP on lo.
    const bind = this.ipv6 ? '::' : '0.0.0.0';
    const argv = [labPython(), '-m', 'http.server', String(HTTP_PORT), '--bind', bind, '--directory', join(this.tmpDir, host.name)];
    const child = this.spawn(host.ns, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    // Access logs go to stderr; keep the tail for error messages and keep the pipe drained.
    const log = new Tail(4096);
    child.stderr?.setEncoding('utf8').on('data', (s: string) => log.push(s));
    this.serverLogs.set(host.name, log);
    // Let a forgotten lab not keep the event loop alive; the exit handler still tears it down.
    child.unref();
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  }

  /** Waits until every HTTP server accepts a kernel TCP connection from the director, on IPv4 and IPv6. */
  private async waitHttpReady(): Promise<void> {
    const targets = this.realServers
      .filter((h) => h.http)
      .flatMap((h) => (this.ipv6 ? [h.ipv4, h.ipv6] : [h.ipv4]).map((host) => ({ host, port: HTTP_PORT })));
    const r = await this.execOk('director', tcpProbeArgv('until-open', targets, READY_TIMEOUT_MS, 500), {
      timeoutMs: READY_TIMEOUT_MS + 5_000,
    });
    const statuses = parseTcpProbe(r.stdout, targets);
    if (statuses.every((s) => s === 'open')) return;
    const detail = targets.map((t, i) => `${t.host}:${t.port} ${statuses[i]}`).join(', ');
    const logs = [...this.serverLogs].map(([name, log]) => `${name}: ${log.toString().trim() || '(no output)'}`).join('\n');
    throw new Error(`lab ${this.id}: HTTP servers not ready after ${READY_TIMEOUT_MS} ms (${detail})\n${logs}`);
  }

  /** Bounded wait until no IPv6 address in any host is tentative (DAD is off, so this normally passes at once). */
  private async waitNoTentative(): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const out = await Promise.all(HOST_NAMES.map((n) => this.execOk(n, ['ip', '-6', '-o', 'address', 'show', 'tentative'])));
      const busy = out.map((r, i) => (r.stdout.trim() ? HOST_NAMES[i] : null)).filter((n) => n !== null);
      if (busy.length === 0) return;
      if (Date.now() >= deadline) throw new Error(`lab ${this.id}: IPv6 addresses still tentative in ${busy.join(', ')}`);
      await sleep(50);
    }
  }

  private async ip(globalArgs: readonly string[], lines: readonly string[]): Promise<void> {
    this.assertOpen();
    await runOk(['ip', ...globalArgs, '-batch', '-'], {
      input: lines.join('\n') + '\n',
      timeoutMs: BUILD_STEP_TIMEOUT_MS,
      track: (c) => this.track(c),
    });
  }

  private async sysctls(ns: NsRef, settings: readonly string[]): Promise<void> {
    await this.execOk(ns, ['sysctl', '-q', '-w', ...settings], { timeoutMs: BUILD_STEP_TIMEOUT_MS });
  }

  private track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    // A spawn failure (ENOENT) would otherwise be an unhandled 'error' event.
    child.once('error', () => this.children.delete(child));
    // Destroyed while this was being started (signal during build): do not let it outlive the lab.
    if (this.closed) child.kill('SIGKILL');
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`lab ${this.id} has been destroyed`);
  }
}

function checkSysctlKey(key: string): string {
  if (!/^[a-z0-9_]+(?:[./][a-zA-Z0-9_@:-]+)+$/.test(key)) throw new Error(`not a sysctl key: ${JSON.stringify(key)}`);
  return key;
}

/**
 * Builds a fresh lab (about 0.2 s on a 2-CPU machine; destroy() about 10 ms) and resolves once every HTTP
 * server accepts connections from the director. Removes stale labs of dead owners first. On failure everything created so far is torn down
 * before the promise rejects. Needs root, iproute2, procps (sysctl) and python3.
 */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  const prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
  cleanupStaleLabs({ prefix });
  addExitCleanup(destroyAllLabsSync);
  // The random part makes ids unique within this process (the PID part across processes); a clash with
  // an existing lab of ours is possible (1 in 65536) and simply avoided.
  let id = newLabId(prefix);
  while (listNamespaces().some((ns) => ns.startsWith(`${id}-`))) id = newLabId(prefix);
  const lab = new Lab(id, options.ipv6 ?? true);
  liveLabs.add(lab); // before the first namespace exists, so an exit mid-build still cleans up
  try {
    await lab.build();
    return lab;
  } catch (err) {
    await lab.destroy().catch(() => lab.destroySync());
    throw err;
  }
}

/** Tears down every live lab of this process synchronously. For exit paths; normally call lab.destroy(). */
export function destroyAllLabsSync(): void {
  for (const lab of [...liveLabs]) {
    try {
      lab.destroySync();
    } catch (err) {
      process.stderr.write(`vipcheck lab ${lab.id}: teardown failed: ${String(err)}\n`);
    }
  }
}
