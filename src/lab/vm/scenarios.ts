// The VM lab's scenarios: what the host asks a guest to do, and the results the guest hands back.
// Each scenario is one boot and one Node process in the guest (src/lab/vm/guest/*.ts, run from dist/), since
// every Node start costs about a second there and a boot about ten.

import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpAttempt } from '../http-client.js';
import { GUEST_SAFE_PATH, runGuest, type GuestResult } from './qemu.js';
import { VmLabUnavailable } from './kernel.js';

/** The checkout: this file is src/lab/vm/scenarios.ts or dist/lab/vm/scenarios.js. */
export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');

export interface VmScenario {
  readonly description: string;
  /** Built JavaScript run in the guest, relative to the checkout. */
  readonly guestScript: string;
  readonly guestArgs: readonly string[];
  /** Guest kernel modules loaded before it starts. */
  readonly modules: readonly string[];
  /** Hard deadline of the whole boot. */
  readonly timeoutMs: number;
}

const DR_MODULES = ['ip_vs', 'ip_vs_rr', 'veth', 'bridge'];

export const SCENARIOS = {
  'keepalived-tcp-check': {
    description: "IPVS DR with keepalived's own TCP_CHECK: a real server that loses its VIP stays in the table and clients' requests fail",
    guestScript: 'dist/lab/vm/guest/keepalived-dr.js',
    guestArgs: ['--check', 'tcp'],
    modules: DR_MODULES,
    timeoutMs: 300_000,
  },
  'keepalived-misc-check': {
    description: 'IPVS DR with MISC_CHECK running vipcheck tcp --exit-codes keepalived: the real server that loses its VIP is removed, clients never fail',
    guestScript: 'dist/lab/vm/guest/keepalived-dr.js',
    guestArgs: ['--check', 'misc'],
    modules: DR_MODULES,
    timeoutMs: 300_000,
  },
  'keepalived-file-check': {
    description: "IPVS DR with keepalived's FILE_CHECK on the files vipcheck agent writes: the real server that loses its VIP leaves the table, and comes back with it",
    guestScript: 'dist/lab/vm/guest/keepalived-file-check.js',
    guestArgs: [],
    // nf_tables: the agent's RST guard (it would also load on the kernel's own request).
    modules: [...DR_MODULES, 'nf_tables'],
    timeoutMs: 300_000,
  },
  'ipvs-weights': {
    description: 'vipcheck agent discovers real servers from the IPVS table and manages their weights (5, 3, 2): drain, restore 3, kill -9 and restart, panic, a foreign service untouched, on-down: remove and its kill -9',
    guestScript: 'dist/lab/vm/guest/ipvs-weights.js',
    guestArgs: [],
    modules: [...DR_MODULES, 'ip_vs_wrr', 'nf_tables'],
    timeoutMs: 420_000,
  },
  'ipvs-netlink': {
    description: "vipcheck's IPVS netlink client against real IPVS: discovery equal to ipvsadm's, weight changes that keep every other field, the /proc fallback without CAP_NET_ADMIN, ipvs-audit's findings, read times",
    guestScript: 'dist/lab/vm/guest/ipvs-netlink.js',
    guestArgs: [],
    // dummy: the lab's networks on one interface, no namespaces needed (only this process talks to IPVS).
    modules: ['ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'dummy'],
    timeoutMs: 300_000,
  },
  'tunnel-mode': {
    description: 'IPVS TUN (IPIP, GUE, GRE; IPv4 and IPv6, one real server behind a router): vipcheck probes through each tunnel as the director forwards clients, OK with the VIP and CRITICAL without; http, arp-audit --local and the agent in TUN mode',
    guestScript: 'dist/lab/vm/guest/tunnel-mode.js',
    guestArgs: [],
    // ipip/ip_gre/ip6_tunnel/ip6_gre: each creates its fallback device (tunl0, gre0, ip6tnl0, ip6gre0) in every
    // namespace; fou/fou6 for GUE over IPv4/IPv6; nf_tables for the agent's RST guard.
    modules: [...DR_MODULES, 'ipip', 'fou', 'fou6', 'ip_gre', 'ip6_tunnel', 'ip6_gre', 'nf_tables'],
    timeoutMs: 420_000,
  },
} as const satisfies Record<string, VmScenario>;

export type ScenarioName = keyof typeof SCENARIOS;

export function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(SCENARIOS, name);
}

/** Milliseconds since keepalived started, and the real servers in the IPVS table from then on. */
export interface TableSnapshot {
  atMs: number;
  realServers: string[];
}

/** What the keepalived-dr guest script writes to result.json. */
export interface KeepalivedDrResult {
  check: 'tcp' | 'misc';
  vip: string;
  port: number;
  hosts: { good: string; novip: string; closed: string };
  /** The keepalived.conf used. */
  config: string;
  /** Node start to the end of createLab() in the guest. */
  labSetupMs: number;
  /** keepalived start to the moment both good and novip (VIP still present) were in the table. */
  bothUpAfterMs: number | null;
  /** Milliseconds after the VIP was removed from novip's lo until keepalived took novip out; null if it never did. */
  novipRemovedAfterMs: number | null;
  /** How long the table was watched after the VIP was removed. */
  watchedAfterFaultMs: number;
  /** Every change of the table's real servers (the first entry is the table right after keepalived started). */
  timeline: TableSnapshot[];
  /** The table after the client's requests. */
  tableAfterRequests: string[];
  requests: HttpAttempt[];
  /** Tail of keepalived's own log (stderr/stdout). */
  keepalivedLog: string;
  /** Total time of the guest script. */
  totalMs: number;
}

/** A line of a process's output and when it arrived. */
export interface StampedLine {
  atMs: number;
  line: string;
}

/**
 * What followed one change of novip's VIP (deleted or restored), in milliseconds after it was done (a stamp taken
 * in novip's namespace right after `ip address`); null: not seen. Output lines are stamped on arrival.
 */
export interface FileCheckReaction {
  /** How long `ip address` itself ran: the change happened within this window before the origin. */
  vipChangeWindowMs: number;
  /** The agent's state-change log line (`... rs X: up -> down after N failures: ...`). */
  agentLogAfterMs: number | null;
  agentLogLine: string | null;
  /** novip's FILE_CHECK file changed content (polled every 50 ms). */
  fileAfterMs: number | null;
  /** keepalived logged the tracked file entering or leaving FAULT. */
  keepalivedLogAfterMs: number | null;
  /** keepalived logged removing the real server from IPVS, or adding it. */
  keepalivedIpvsLogAfterMs: number | null;
  /** `ipvsadm -L -n` showed the change (polled every 200 ms). */
  tableAfterMs: number | null;
}

/**
 * What the keepalived-file-check guest script writes to result.json. Every atMs (table timeline, file changes,
 * log lines) is milliseconds since keepalived started; negative is before it (the agent starts first).
 */
export interface KeepalivedFileCheckResult {
  vip: string;
  port: number;
  hosts: { good: string; novip: string; closed: string };
  /** The keepalived.conf used. */
  config: string;
  /** The agent's configuration file. */
  agentConfig: string;
  agent: { intervalS: number; timeoutS: number; rise: number; fall: number };
  /** The FILE_CHECK file of each real server. */
  files: { good: string; novip: string; closed: string };
  /** Node start to the end of createLab() in the guest. */
  labSetupMs: number;
  /** The agent's spawn to its "started" log line. */
  agentStartMs: number;
  /** The CPU time (user + system) the agent had used by then; null if /proc did not tell. */
  agentStartCpuMs: number | null;
  /** keepalived start to both good and novip (VIP still present) in the table. */
  bothUpAfterMs: number | null;
  /** The VIP deleted from novip's lo; null when the scenario did not get that far. */
  removal: FileCheckReaction | null;
  /** How long the table was watched for novip's removal. */
  watchedAfterFaultMs: number;
  /** The client's requests once novip had left the table (or the watch ended). */
  requestsAfterRemoval: HttpAttempt[];
  tableAfterRemovalRequests: string[];
  /** The VIP restored on novip's lo. */
  restore: FileCheckReaction | null;
  watchedAfterRestoreMs: number;
  /** The client's requests once novip was back. */
  requestsAfterRestore: HttpAttempt[];
  /**
   * SIGTERM to the agent: its exit and how long it took (kill() to the exit seen here), and when its
   * "SIGTERM: stopping" line arrived; null when it did not exit within 5 s.
   */
  agentStop: { code: number | null; signal: string | null; ms: number; stoppingLineAfterMs: number | null } | null;
  /** `nft list tables` in the director namespace after the agent stopped (its RST guard table must be gone). */
  nftTablesAfterStop: string;
  /** Each file's content after the agent stopped (null: missing). */
  filesAfterStop: { good: string | null; novip: string | null; closed: string | null };
  /** The table 2 s after the agent stopped: keepalived keeps acting on the last content. */
  tableAfterAgentStop: string[];
  /** Every change of the table's real servers (the first entry is the table right after keepalived started). */
  timeline: TableSnapshot[];
  /** Every content change of a FILE_CHECK file, from the first read (before keepalived starts). */
  fileChanges: Array<{ atMs: number; host: 'good' | 'novip' | 'closed'; content: string | null }>;
  /** The agent's stderr, line by line. */
  agentLog: StampedLine[];
  /** keepalived's output, line by line (the last 400 lines). */
  keepalivedLog: StampedLine[];
  /** Total time of the guest script. */
  totalMs: number;
}

/** The web service's weights as `ipvsadm -L -n` showed them (null: not in the table), ms since the script's start. */
export interface WeightSnapshot {
  atMs: number;
  weights: { good: number | null; novip: number | null; closed: number | null };
}

type Weights = WeightSnapshot['weights'];

/** What the ipvs-weights guest script writes to result.json; every atMs is since the script's start. */
export interface IpvsWeightsResult {
  vip: string;
  port: number;
  hosts: { good: string; novip: string; closed: string };
  /** The weights the operator gave (ipvsadm -w): what a restore must bring back. */
  operatorWeights: { good: number; novip: number; closed: number };
  agent: { intervalS: number; timeoutS: number; rise: number; fall: number; ipvsIntervalS: number };
  agentConfig: string;
  labSetupMs: number;
  /** Step 1: the table (ipvsadm -S -n), the discovery agent's configuration, its /status, its log. */
  discovery: { table: string; config: string; status: unknown; log: string[] };
  agentStartMs: number;
  /** The agent's start to all three real servers up; null if not. */
  settledMs: number | null;
  requestsBefore: HttpAttempt[];
  /** novip's VIP deleted -> ipvsadm shows weight 0 (polled every 100 ms), and the agent's log line. */
  drain: { ms: number | null; logLine: string | null; logAfterMs: number | null };
  requestsAfterDrain: HttpAttempt[];
  /** novip's VIP restored -> ipvsadm shows a weight again, and which. */
  restore: { ms: number | null; weight: number | null; logLine: string | null };
  /** kill -9 while novip was drained, a restart while still down, then its VIP back. */
  kill: {
    drainMs: number | null;
    weightsAtKill: Weights;
    stateFileAtKill: string | null;
    /** When the second agent had started, and when novip's VIP came back (ms since the script's start). */
    restartAtMs: number;
    vipBackAtMs: number;
    weightsAfterRestartWhileDown: Weights;
    /** Every change ipvsadm showed between the restart and novip's VIP coming back. */
    writesAfterRestartWhileDown: Weights[];
    restoreMs: number | null;
    weightAfter: number | null;
  };
  /** Every real server's VIP deleted. */
  panic: {
    logLine: string | null;
    logAfterMs: number | null;
    weightsInPanic: Weights;
    timeline: Array<{ afterMs: number; weights: Weights }>;
    /** vipcheck_panic and vipcheck_ipvs_* lines of /metrics during the panic. */
    metrics: string[];
    status: unknown;
    overAfterMs: number | null;
    weightsAfter: Weights;
  };
  /** SIGTERM: how long the exit took, and the weights before and 1 s after. */
  stop: { ms: number | null; weightsBefore: Weights; weightsAfter: Weights };
  /**
   * Step 8, on-down: remove: novip's `ipvsadm -S -n` line and its thresholds (`-L --thresholds`) before (-x 100 -y 50 set), while removed
   * (null) and after it came back; the time from the VIP's deletion to the destination's; the client's requests
   * meanwhile; the state file at a kill -9 while removed; the table's changes between the restart and the VIP's
   * return (none expected); the time from the VIP's return to weight 3.
   */
  remove: {
    lineBefore: string | null;
    settledMs: number | null;
    ms: number | null;
    logLine: string | null;
    lineWhileRemoved: string | null;
    requestsAfter: HttpAttempt[];
    stateFileWhileRemoved: string | null;
    /** On the scenario's clock, like the agent log's `atMs`: the restart after the kill -9, and the VIP's return. */
    restartAtMs: number;
    vipBackAtMs: number;
    writesAfterRestart: Weights[];
    addBackMs: number | null;
    addBackLogLine: string | null;
    lineAfter: string | null;
  };
  /** The foreign service's ipvsadm -S -n lines at every step. */
  foreign: Array<{ step: string; lines: string }>;
  timeline: WeightSnapshot[];
  agentLog: StampedLine[];
  totalMs: number;
}

/** `ipvsadm -S -n`, `-L -n --tun-info` and `-L -n --thresholds` at one moment. */
export interface IpvsadmViews {
  save: string;
  tunInfo: string;
  thresholds: string;
}

/** One table ipvs-audit judged in the guest (src/lab/vm/guest/ipvs-netlink.ts). */
export interface IpvsAuditCase {
  /** `clean`, or the finding the table was built to show. */
  name: string;
  onDown: 'drain' | 'remove';
  state: string;
  summary: string;
  details: string[];
  ipvsadmList: string;
  /** `vipcheck ipvs-audit --json` on the same table, when run. */
  cli: { code: number | null; stdout: string; stderr: string } | null;
}

/** Reads of a table of `services` x `perService` real servers, each timed `netlinkMs.length` times (ms). */
export interface IpvsTiming {
  services: number;
  perService: number;
  destinationsRead: number;
  netlinkMs: number[];
  /** `ipvsadm -L -n`, process start included. */
  ipvsadmMs: number[];
  /** `cat /proc/net/ip_vs`, process start included. */
  procCatMs: number[];
  updateDestinationMs: number;
}

/** What the ipvs-netlink guest script writes to result.json (tables as JSON: addresses are strings). */
export interface IpvsNetlinkResult {
  kernel: string;
  discovery: {
    netlink: unknown;
    ipvsadm: IpvsadmViews;
    /** The --print-table run without CAP_NET_ADMIN: {canWrite, table, notices} on stdout. */
    proc: { code: number | null; stdout: string; stderr: string };
  };
  writes: {
    before: IpvsadmViews;
    after: IpvsadmViews;
    /** What updateDestination returned for each change. */
    returned: unknown[];
    afterAdd: IpvsadmViews;
    afterRemove: string;
    /** The error of an update of a real server that is not in the table. */
    missingError: string;
  };
  audits: IpvsAuditCase[];
  timing: IpvsTiming;
  totalMs: number;
}

export interface ScenarioRun<T> {
  guest: GuestResult;
  /** The guest's result.json; null when the scenario did not produce one (see guest.output). */
  result: T | null;
}

export interface RunScenarioOptions {
  /** Serial console on this terminal and a root shell after the scenario (keep-up mode). */
  interactive?: boolean;
  timeoutMs?: number;
  onConsoleLine?: (line: string) => void;
}

function checkPathForGuest(label: string, path: string): string {
  // keepalived splits misc_path on whitespace and the scenario line is plain shell: keep paths simple.
  if (!GUEST_SAFE_PATH.test(path)) throw new VmLabUnavailable(`${label} ${JSON.stringify(path)} must be an absolute path without spaces or shell characters`);
  return path;
}

/** The scenario.sh of a scenario: one exec of Node on the built guest script, results into the share. */
export function scenarioScript(scenario: VmScenario, node = process.execPath, repo = REPO_ROOT): string {
  const script = join(checkPathForGuest('the checkout', repo), scenario.guestScript);
  return [
    '#!/bin/sh',
    `# ${scenario.description}`,
    `exec ${checkPathForGuest('node', node)} ${script} ${scenario.guestArgs.join(' ')} --out "$VIPCHECK_VM_SHARE/result.json"`,
    '',
  ].join('\n');
}

/** Boots a guest for one scenario and returns its parsed result. Throws VmLabUnavailable when it cannot run here. */
export async function runScenario<T = KeepalivedDrResult>(name: ScenarioName, options: RunScenarioOptions = {}): Promise<ScenarioRun<T>> {
  const scenario: VmScenario = SCENARIOS[name];
  const script = join(REPO_ROOT, scenario.guestScript);
  if (!existsSync(script)) throw new VmLabUnavailable(`${script} is missing: build first (npm run build)`);
  const guest = await runGuest({
    script: scenarioScript(scenario),
    modules: scenario.modules,
    // node's installation prefix (bin/node, lib/...) and the checkout, wherever they are.
    keepPaths: [REPO_ROOT, dirname(dirname(realpathSync(process.execPath)))],
    timeoutMs: options.timeoutMs ?? scenario.timeoutMs,
    ...(options.interactive !== undefined ? { interactive: options.interactive } : {}),
    ...(options.onConsoleLine ? { onConsoleLine: options.onConsoleLine } : {}),
  });
  const text = guest.files['result.json'];
  let result: T | null = null;
  if (text !== undefined) {
    try {
      result = JSON.parse(text) as T;
    } catch {
      result = null;
    }
  }
  return { guest, result };
}

/** One vipcheck run in the guest: its arguments, exit status, output and wall time (spawn to exit). */
export interface TimedRun {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** stdout parsed (--json), null when it was not JSON. */
  json: unknown;
}

/** A tunnel variant probed with the VIP on the real server and again with it deleted. */
export interface TunnelProbe {
  label: string;
  server: 'ipip' | 'gue' | 'gre';
  vip: string;
  rs: string;
  type: 'ipip' | 'gue' | 'gre';
  withVip: TimedRun;
  withoutVip: TimedRun;
}

/** One frame of the director's capture (tcpdump -w on its eth0): microseconds of the epoch, the frame as hex. */
export interface CapturedPacket {
  atUs: number;
  hex: string;
}

/** What the tunnel-mode guest script writes to result.json. */
export interface TunnelModeResult {
  vip4: string;
  vip6: string;
  director: { ipv4: string; ipv6: string };
  client: { ipv4: string; ipv6: string };
  servers: Record<'ipip' | 'gue' | 'gre', { name: string; ipv4: string; ipv6: string }>;
  guePort: number;
  labSetupMs: number;
  /** `ipvsadm -L -n --tun-info` on the director. */
  ipvsTable: string;
  /** The client's GETs to VIP:80 through IPVS TUN, per family. */
  requests: { ipv4: HttpAttempt[]; ipv6: HttpAttempt[] };
  probes: TunnelProbe[];
  http: TimedRun;
  httpStatus: TimedRun;
  conversation: TimedRun;
  /** `udp --send/--expect` over GUE to an echo bound to the VIP, and to a port with no listener. */
  udp: TimedRun;
  udpClosed: TimedRun;
  /** `http --forwarding tun` from the client namespace, which does not hold the VIP (the kernel RST guard's case), with -v. */
  fromClient: TimedRun;
  /** `nft list tables` in the client namespace after it: the guard's table must be gone. */
  clientNftAfter: string;
  /** The outer packets that left the director, and the plain TCP of VIP:80, from the client's requests to the timing runs. */
  captured: CapturedPacket[];
  /** The same real server probed alternately in DR and in TUN (IPIP) mode. */
  timing: { dr: TimedRun[]; tun: TimedRun[] };
  /** arp-audit --local --forwarding tun on each real server, configured right and then broken. */
  /** `fouShow`: `ip fou show` on the GUE server with its IPv4 and IPv6 receivers, before the faults. */
  arpAudit: { good: Record<'ipip' | 'gue' | 'gre', TimedRun>; broken: Record<'ipip' | 'gue' | 'gre', TimedRun>; fouShow: string };
  agent: {
    config: string;
    /** Agent spawn to every FILE_CHECK file reading 0; null: not within 90 s. */
    allUpAfterMs: number | null;
    filesWhenUp: Record<string, string | null>;
    /** The GRE server's VIP deleted to its file reading 1. */
    greDownAfterMs: number | null;
    filesAfterFault: Record<string, string | null>;
    exitCode: number | null;
    log: string;
  };
  totalMs: number;
}
