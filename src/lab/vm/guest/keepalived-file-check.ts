// Runs INSIDE the VM lab's guest (a real kernel with ip_vs), as root: scenario 4 of the VM lab. `vipcheck agent`
// probes the real servers through the VIP path and writes a keepalived FILE_CHECK file per real server;
// keepalived (checker only, in the director namespace) tracks those files and manages the IPVS table.
//
//   1. novip gets the VIP on lo too, so good and novip are healthy; closed has the VIP but no listener.
//   2. The agent starts in the director namespace and writes every file at once (1 = down until rise passes).
//   3. keepalived starts with a FILE_CHECK per real server; good and novip must join once the agent says 0.
//   4. The VIP is deleted from novip's lo. Timed: the agent's log line, the file's change, keepalived's log line,
//      novip's removal from `ipvsadm -L -n`. Then the client's requests through the director.
//   5. The VIP is restored; the same timings until novip is back, and the client's requests again.
//   6. SIGTERM to the agent: it must exit within a second and leave every file, which keepalived keeps acting on.
// Assertions are the host's (test/vm/keepalived-file-check.test.ts); this script only measures and writes result.json.
//
//   node dist/lab/vm/guest/keepalived-file-check.js --out FILE [--requests N]
//
// Imported (the unit tests do), it only exports the two configurations, so docs/vm-lab.md can show the exact
// files this scenario runs, and a test can hold the docs to them.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpSeriesArgv, parseHttpSeries, type HttpAttempt } from '../../http-client.js';
import { keepalivedArgv, keepalivedConfig, parseIpvsadmList, trackFileName } from '../../ipvs.js';
import { createLab } from '../../lab.js';
import { sleep, waitForExit } from '../../proc.js';
import type { FileCheckReaction, KeepalivedFileCheckResult, StampedLine, TableSnapshot } from '../scenarios.js';
import {
  AGENT_START_TIMEOUT_MS,
  collectLines,
  guestLog as log,
  isMainModule,
  REACTION_TIMEOUT_MS,
  readOrNull,
  REQUEST_TIMEOUT_MS,
  RS_HOSTS,
  type RsName,
  SETTLE_TIMEOUT_MS,
} from './guest-support.js';

const VIPCHECK_BIN = fileURLToPath(new URL('../../../../bin/run.cjs', import.meta.url));
/** Where the agent writes the FILE_CHECK files (the guest's /run is a tmpfs of its own). */
export const FILE_DIR = '/run/vipcheck';
const SERVICE = 'web';
/**
 * The timeout is below the interval on purpose: with timeout == interval a probe that runs into its deadline (a
 * real server without the VIP drops the SYN) is still in flight when its next turn is due, the agent's scheduler
 * skips that turn, and a silent server is probed every other interval only (measured: 5 probes in 10 s).
 */
export const AGENT_TIMING = { intervalS: 1, timeoutS: 0.9, rise: 2, fall: 2 } as const;
const TABLE_POLL_MS = 200;
const FILE_POLL_MS = 50;
const HOSTS = RS_HOSTS;

interface Args {
  out: string;
  requests: number;
}

function parseArgs(argv: readonly string[]): Args {
  let out: string | undefined;
  let requests = 8;
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--out' && value) out = value;
    else if (flag === '--requests' && value && /^[1-9]\d*$/.test(value)) requests = Number(value);
    else throw new Error(`keepalived-file-check: bad argument ${JSON.stringify(flag)} (usage: --out FILE [--requests N])`);
    i++;
  }
  if (!out) throw new Error('keepalived-file-check: --out FILE is required');
  return { out, requests };
}

export interface ScenarioAddresses {
  vip: string;
  port: number;
  realServers: { good: string; novip: string; closed: string };
}

/** The FILE_CHECK file of a real server: the agent's `file-check` with {rs} filled in. */
export function fileCheckPath(rs: string): string {
  return join(FILE_DIR, `${SERVICE}-${rs}.state`);
}

/** The agent's configuration: one tcp service over the three real servers, each with its FILE_CHECK file. */
export function scenarioAgentConfig(a: ScenarioAddresses): string {
  const { good, novip, closed } = a.realServers;
  const t = AGENT_TIMING;
  return [
    'listen: 127.0.0.1:9470',
    `defaults: {interval: ${t.intervalS}, timeout: ${t.timeoutS}, rise: ${t.rise}, fall: ${t.fall}}`,
    'services:',
    `  - name: ${SERVICE}`,
    `    vip: ${a.vip}`,
    `    port: ${a.port}`,
    '    check: tcp',
    `    real-servers: [${good}, ${novip}, ${closed}]`,
    `    file-check: ${FILE_DIR}/${SERVICE}-{rs}.state`,
    '',
  ].join('\n');
}

/** keepalived.conf: a track_file (weight 0, init_file 1) per real server and a FILE_CHECK on it. */
export function scenarioKeepalivedConfig(a: ScenarioAddresses): string {
  const { good, novip, closed } = a.realServers;
  return keepalivedConfig({
    vip: a.vip,
    port: a.port,
    realServers: [good, novip, closed],
    check: { kind: 'FILE_CHECK', file: fileCheckPath, initFile: 1 },
    delayLoopS: 5,
  });
}

/** User + system CPU time of a process so far (Linux clock ticks of 10 ms), or null. */
function cpuMsOf(pid: number | undefined): number | null {
  const stat = pid === undefined ? null : readOrNull(`/proc/${pid}/stat`);
  // The fields after the command name (which may contain spaces) start at field 3; utime and stime are 14, 15.
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime] = [Number(fields?.[11]), Number(fields?.[12])];
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * 10 : null;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const lab = await createLab({ ipv6: false, prefix: 'vm' });
  const labSetupMs = Math.round(performance.now());
  log(`lab ${lab.id} up`);
  // Every atMs is relative to keepalived's start; until then to the script's start.
  let keepalivedStartedAt = 0;
  const origin = (): number => keepalivedStartedAt;
  const rel = (t: number): number => Math.round(t - keepalivedStartedAt);
  const agentLog: StampedLine[] = [];
  const keepalivedLog: StampedLine[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const { good, novip, closed } = lab.hosts;
    const ip: Record<RsName, string> = { good: good.ipv4, novip: novip.ipv4, closed: closed.ipv4 };
    const vip = lab.vip4;
    const port = lab.httpPort;
    await lab.execOk('novip', ['ip', 'address', 'add', `${vip}/32`, 'dev', 'lo']);

    // The agent, first: it writes every file at its start, so keepalived never reads a missing one.
    mkdirSync(FILE_DIR, { recursive: true });
    const addresses: ScenarioAddresses = { vip, port, realServers: ip };
    const files = { good: fileCheckPath(ip.good), novip: fileCheckPath(ip.novip), closed: fileCheckPath(ip.closed) };
    const agentConfig = scenarioAgentConfig(addresses);
    const agentConfigPath = join(lab.tmpDir, 'agent.yaml');
    writeFileSync(agentConfigPath, agentConfig);

    const fileChanges: KeepalivedFileCheckResult['fileChanges'] = [];
    const lastContent = new Map<RsName, string | null | undefined>();
    const pollFiles = (): void => {
      for (const host of HOSTS) {
        const content = readOrNull(files[host]);
        if (lastContent.get(host) !== content) {
          lastContent.set(host, content);
          fileChanges.push({ atMs: rel(performance.now()), host, content });
        }
      }
    };
    timers.push(setInterval(pollFiles, FILE_POLL_MS));

    const agentSpawnedAt = performance.now();
    const agent = lab.spawn('director', [process.execPath, VIPCHECK_BIN, 'agent', '--config', agentConfigPath]);
    collectLines(agent.stderr, agentLog, origin);
    agent.stdout?.resume();
    const agentExited = (): boolean => agent.exitCode !== null || agent.signalCode !== null;
    for (;;) {
      if (agentLog.some((l) => l.line.startsWith('vipcheck agent: started: '))) break;
      if (agentExited()) throw new Error(`the agent exited (${agent.exitCode ?? agent.signalCode}):\n${agentLog.map((l) => l.line).join('\n')}`);
      if (performance.now() - agentSpawnedAt > AGENT_START_TIMEOUT_MS) throw new Error(`the agent did not start within ${AGENT_START_TIMEOUT_MS} ms`);
      await sleep(50);
    }
    const agentStartMs = Math.round(performance.now() - agentSpawnedAt);
    const agentStartCpuMs = cpuMsOf(agent.pid);
    log(`agent started ${agentStartMs} ms after its spawn (${agentStartCpuMs ?? '?'} ms of CPU)`);
    for (;;) {
      pollFiles();
      if (HOSTS.every((h) => typeof lastContent.get(h) === 'string')) break;
      if (performance.now() - agentSpawnedAt > AGENT_START_TIMEOUT_MS) throw new Error('the agent did not write its FILE_CHECK files');
      await sleep(FILE_POLL_MS);
    }

    const config = scenarioKeepalivedConfig(addresses);
    const configPath = join(lab.tmpDir, 'keepalived.conf');
    writeFileSync(configPath, config);
    const keepalivedSpawnAt = performance.now();
    const keepalived = lab.spawn('director', keepalivedArgv(configPath, lab.tmpDir));
    keepalivedStartedAt = keepalivedSpawnAt;
    // What was stamped so far (since the script's start) moves to keepalived's origin too.
    for (const stamped of [...fileChanges, ...agentLog]) stamped.atMs -= Math.round(keepalivedSpawnAt);
    collectLines(keepalived.stdout, keepalivedLog, origin, 400);
    collectLines(keepalived.stderr, keepalivedLog, origin, 400);
    const keepalivedExited = (): boolean => keepalived.exitCode !== null || keepalived.signalCode !== null;

    // The IPVS table, polled in the background for the whole run.
    const timeline: TableSnapshot[] = [];
    let table: string[] | null = null;
    let polling = true;
    const readTable = async (): Promise<string[]> =>
      parseIpvsadmList((await lab.execOk('director', ['ipvsadm', '-L', '-n'])).stdout)
        .flatMap((s) => s.realServers.map((x) => x.address))
        .sort();
    const tablePoller = (async () => {
      while (polling) {
        const r = await lab.exec('director', ['ipvsadm', '-L', '-n']);
        if (r.code === 0) {
          const servers = parseIpvsadmList(r.stdout).flatMap((s) => s.realServers.map((x) => x.address)).sort();
          if (table === null || servers.join() !== table.join()) {
            table = servers;
            timeline.push({ atMs: rel(performance.now()), realServers: servers });
            log(`IPVS table: ${servers.join(', ') || '(empty)'}`);
          }
        }
        await sleep(TABLE_POLL_MS);
      }
    })();
    const currentTable = (): string[] => table ?? [];
    const until = async (predicate: () => boolean, timeoutMs: number): Promise<number | null> => {
      const started = performance.now();
      for (;;) {
        if (keepalivedExited()) throw new Error(`keepalived exited (${keepalived.exitCode ?? keepalived.signalCode})`);
        if (agentExited()) throw new Error(`the agent exited (${agent.exitCode ?? agent.signalCode})`);
        if (predicate()) return Math.round(performance.now() - started);
        if (performance.now() - started > timeoutMs) return null;
        await sleep(50);
      }
    };
    const series = async (): Promise<HttpAttempt[]> => {
      log(`client: ${args.requests} requests to http://${vip}:${port}/`);
      const r = await lab.execOk('client', httpSeriesArgv(`http://${vip}:${port}/`, args.requests, REQUEST_TIMEOUT_MS), {
        timeoutMs: args.requests * (REQUEST_TIMEOUT_MS + 2_000) + 10_000,
      });
      const attempts = parseHttpSeries(r.stdout);
      log(`client: ${attempts.filter((a) => a.ok).length} of ${attempts.length} succeeded (${[...new Set(attempts.map((a) => a.server))].join(', ')})`);
      return attempts;
    };
    /**
     * Adds or deletes novip's VIP. Returns when that was done, from stamps taken inside the namespace around `ip`
     * (the command's own start through `ip netns exec` takes most of a second here), and the window it fell in.
     */
    const changeVip = async (op: 'add' | 'del'): Promise<{ at: number; windowMs: number }> => {
      const r = await lab.execOk('novip', ['sh', '-c', `date +%s%N && ip address ${op} ${vip}/32 dev lo && date +%s%N`]);
      const [before, after] = r.stdout.trim().split('\n').map((ns) => Number(BigInt(ns) / 1000n) / 1000 - performance.timeOrigin);
      if (before === undefined || after === undefined || !Number.isFinite(before) || !Number.isFinite(after)) throw new Error(`ip address ${op}: no time stamps: ${r.stdout}`);
      return { at: after, windowMs: Math.round(after - before) };
    };
    /** What followed a change of novip's VIP at `at` (performance.now() time), once the table showed it. */
    const reaction = (change: { at: number; windowMs: number }, to: 'up' | 'down'): FileCheckReaction => {
      const atRel = rel(change.at);
      const after = <T extends { atMs: number }>(x: T | undefined): number | null => (x ? x.atMs - atRel : null);
      const agentLine = agentLog.find((l) => l.atMs >= atRel && l.line.includes(`rs ${ip.novip}: ${to === 'down' ? 'up -> down' : 'down -> up'} after`));
      const file = fileChanges.find((c) => c.atMs >= atRel && c.host === 'novip' && c.content === (to === 'down' ? '1\n' : '0\n'));
      const kaLine = keepalivedLog.find((l) => l.atMs >= atRel && l.line.includes(`tracked file ${trackFileName(ip.novip)} ${to === 'down' ? 'now FAULT' : 'leaving FAULT'}`));
      const ipvsLine = keepalivedLog.find((l) => l.atMs >= atRel && l.line.includes(`${to === 'down' ? 'Removing' : 'Adding'} service [${ip.novip}]:tcp:${port}`));
      const snapshot = timeline.find((t) => t.atMs >= atRel && t.realServers.includes(ip.novip) === (to === 'up'));
      return {
        vipChangeWindowMs: change.windowMs,
        agentLogAfterMs: after(agentLine),
        agentLogLine: agentLine?.line ?? null,
        fileAfterMs: after(file),
        keepalivedLogAfterMs: after(kaLine),
        keepalivedIpvsLogAfterMs: after(ipvsLine),
        tableAfterMs: after(snapshot),
      };
    };
    /** Waits for the table to show the change, then (briefly) for the lines and the file change before it. */
    const watchReaction = async (change: { at: number; windowMs: number }, to: 'up' | 'down'): Promise<FileCheckReaction> => {
      await until(() => currentTable().includes(ip.novip) === (to === 'up'), REACTION_TIMEOUT_MS);
      for (let i = 0; i < 20; i++) {
        const r = reaction(change, to);
        if (r.agentLogAfterMs !== null && r.fileAfterMs !== null && r.keepalivedLogAfterMs !== null && r.keepalivedIpvsLogAfterMs !== null) return r;
        await sleep(50);
      }
      return reaction(change, to);
    };

    const hasBoth = (): boolean => currentTable().includes(ip.good) && currentTable().includes(ip.novip);
    const bothUpAfterMs = await until(hasBoth, SETTLE_TIMEOUT_MS);
    let removal: FileCheckReaction | null = null;
    let restore: FileCheckReaction | null = null;
    let watchedAfterFaultMs = 0;
    let watchedAfterRestoreMs = 0;
    let requestsAfterRemoval: HttpAttempt[] = [];
    let requestsAfterRestore: HttpAttempt[] = [];
    let tableAfterRemovalRequests: string[] = [];
    if (bothUpAfterMs !== null) {
      log(`good and novip in the table ${bothUpAfterMs} ms after keepalived started; deleting the VIP from novip's lo`);
      const fault = await changeVip('del');
      removal = await watchReaction(fault, 'down');
      watchedAfterFaultMs = Math.round(performance.now() - fault.at);
      log(`removal: ${JSON.stringify(removal)}`);

      requestsAfterRemoval = await series();
      tableAfterRemovalRequests = [...currentTable()];

      log("restoring novip's VIP");
      const restored = await changeVip('add');
      restore = await watchReaction(restored, 'up');
      watchedAfterRestoreMs = Math.round(performance.now() - restored.at);
      log(`restore: ${JSON.stringify(restore)}`);
      if (restore.tableAfterMs !== null) requestsAfterRestore = await series();
    }

    // The stop is timed on a quiet guest: no ipvsadm every 200 ms competing for its two TCG CPUs.
    polling = false;
    await tablePoller;
    for (const t of timers) clearInterval(t);
    pollFiles();
    log('SIGTERM to the agent');
    const stopAt = performance.now();
    agent.kill('SIGTERM');
    const exited = await waitForExit(agent, 5_000);
    const stopping = agentLog.find((l) => l.atMs >= rel(stopAt) && l.line.endsWith('SIGTERM: stopping'));
    const agentStop = exited
      ? { code: agent.exitCode, signal: agent.signalCode, ms: Math.round(performance.now() - stopAt), stoppingLineAfterMs: stopping ? stopping.atMs - rel(stopAt) : null }
      : null;
    log(`agent stop: ${JSON.stringify(agentStop)}`);
    // The agent's RST guard table must be gone with it (nft list tables: one line per table).
    const nftTablesAfterStop = (await lab.execOk('director', ['nft', 'list', 'tables'])).stdout.trim();
    const filesAfterStop = { good: readOrNull(files.good), novip: readOrNull(files.novip), closed: readOrNull(files.closed) };
    await sleep(2_000);
    const tableAfterAgentStop = await readTable();

    const result: KeepalivedFileCheckResult = {
      vip,
      port,
      hosts: { good: ip.good, novip: ip.novip, closed: ip.closed },
      config,
      agentConfig,
      agent: AGENT_TIMING,
      files,
      labSetupMs,
      agentStartMs,
      agentStartCpuMs,
      bothUpAfterMs,
      removal,
      watchedAfterFaultMs,
      requestsAfterRemoval,
      tableAfterRemovalRequests,
      restore,
      watchedAfterRestoreMs,
      requestsAfterRestore,
      agentStop,
      nftTablesAfterStop,
      filesAfterStop,
      tableAfterAgentStop,
      timeline,
      fileChanges,
      agentLog,
      keepalivedLog,
      totalMs: Math.round(performance.now()),
    };
    writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n');
  } finally {
    for (const t of timers) clearInterval(t);
    await lab.destroy();
    process.stdout.write(`--- agent log ---\n${agentLog.map((l) => `${l.atMs} ${l.line}`).join('\n')}\n`);
    process.stdout.write(`--- keepalived log (tail) ---\n${keepalivedLog.map((l) => `${l.atMs} ${l.line}`).join('\n')}\n`);
  }
}

if (isMainModule(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`keepalived-file-check: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
