// Runs INSIDE the VM lab's guest (a real kernel with ip_vs), as root: `vipcheck agent` discovers real servers
// from the kernel's IPVS table and manages their weights (ipvs-weights: manage), with no keepalived.
//
//   1. Discovery: a table built with ipvsadm (DR, TUN, NAT and fwmark services); an agent with discover: ipvs and
//      real-servers: {fwmark: 7} starts, its /status is read, it stops.
//   2. The weights table: web (DR, wrr) with good 5, novip 3, closed 2, all serving; a foreign service beside it.
//      The agent (real-servers: ipvs, ipvs-weights: manage) starts and sees all three up.
//   3. novip's VIP is deleted: timed until ipvsadm shows weight 0; then the client's requests through the director.
//   4. The VIP is restored: timed until ipvsadm shows weight 3 again.
//   5. The VIP is deleted again; once drained the agent is killed (-9), then started again while novip is still
//      down (it must stay at 0: the state file says the agent drained it); the VIP comes back: weight 3.
//   6. Panic: good, novip and closed all lose the VIP; every weight must end at the operator's, with the panic
//      logged and vipcheck_panic 1; then all VIPs come back.
//   7. SIGTERM: the weights stay as they are.
//   8. on-down: remove. The operator gives novip thresholds (-x 100 -y 50); an agent with on-down: remove starts;
//      novip's VIP is deleted: timed until its destination is gone from the table. The agent is killed (-9) while
//      novip is removed and started again (novip is no longer in the table: only the state file knows it); the
//      VIP comes back: novip is added back with every field it had (its ipvsadm -S -n line and thresholds as before).
// The foreign service's `ipvsadm -S -n` lines are taken at every step. Assertions are the host's
// (test/vm/ipvs-weights.test.ts); this script only measures and writes result.json.
//
//   node dist/lab/vm/guest/ipvs-weights.js --out FILE [--requests N]

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpSeriesArgv, parseHttpSeries, type HttpAttempt } from '../../http-client.js';
import { parseIpvsadmList } from '../../ipvs.js';
import { createLab, type Lab } from '../../lab.js';
import { sleep, waitForExit } from '../../proc.js';
import { labPython } from '../../tcp-probe.js';
import type { IpvsWeightsResult, StampedLine, WeightSnapshot } from '../scenarios.js';
import * as guest from './guest-support.js';
import type { RsName } from './guest-support.js';

const log = guest.guestLog;

const VIPCHECK_BIN = fileURLToPath(new URL('../../../../bin/run.cjs', import.meta.url));
/** The guest's /run is a tmpfs of its own: a state directory that a kill -9 leaves as it is. */
export const STATE_DIR = '/run/vipcheck-state';
export const AGENT_TIMING = { intervalS: 1, timeoutS: 0.9, rise: 2, fall: 2, ipvsIntervalS: 1 } as const;
/** The operator's weights: the drained one must come back as 3, not 1. */
export const WEIGHTS = { good: 5, novip: 3, closed: 2 } as const;
const FOREIGN_VIP = '198.51.100.200';
const TABLE_POLL_MS = 100;
const HOSTS = guest.RS_HOSTS;

function parseArgs(argv: readonly string[]): { out: string; requests: number } {
  let out: string | undefined;
  let requests = 12;
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--out' && value) out = value;
    else if (flag === '--requests' && value && /^[1-9]\d*$/.test(value)) requests = Number(value);
    else throw new Error(`ipvs-weights: bad argument ${JSON.stringify(flag)} (usage: --out FILE [--requests N])`);
  }
  if (!out) throw new Error('ipvs-weights: --out FILE is required');
  return { out, requests };
}

/** The agent of steps 2-7: the web service's real servers from the table, weights managed. */
export function weightsAgentConfig(vip: string, port: number): string {
  const t = AGENT_TIMING;
  return `listen: 127.0.0.1:9470
state-dir: ${STATE_DIR}
ipvs-interval: ${t.ipvsIntervalS}
defaults: {interval: ${t.intervalS}, timeout: ${t.timeoutS}, rise: ${t.rise}, fall: ${t.fall}}
services:
  - name: web
    vip: ${vip}
    port: ${port}
    check: tcp
    real-servers: ipvs
    ipvs-weights: manage
    on-down: drain
    panic-threshold: 50
`;
}

/** The agent of step 8: as steps 2-7, but a real server that is down is deleted from the table. */
export function removeAgentConfig(vip: string, port: number): string {
  return weightsAgentConfig(vip, port).replace('on-down: drain', 'on-down: remove');
}

/** The agent of step 1: everything the table has, and the fwmark service by name. */
export function discoveryAgentConfig(vip: string, port: number): string {
  return `listen: 127.0.0.1:9470
state-dir: ${STATE_DIR}
defaults: {interval: 1, timeout: 0.9}
services:
  - {name: lvs, discover: ipvs, check: tcp}
  - {name: marked, vip: ${vip}, port: ${port}, check: tcp, real-servers: {fwmark: 7}}
`;
}

/** The discovery table: DR and TUN (GUE) services, a NAT service, a fwmark service. */
function discoveryTable(vip: string, ip: Record<RsName, string>): string[][] {
  return [
    ['-A', '-t', `${vip}:80`, '-s', 'wrr'],
    ['-a', '-t', `${vip}:80`, '-r', `${ip.good}:80`, '-g', '-w', '5'],
    ['-a', '-t', `${vip}:80`, '-r', `${ip.novip}:80`, '-g', '-w', '3'],
    ['-A', '-t', '198.51.100.101:80', '-s', 'rr'],
    ['-a', '-t', '198.51.100.101:80', '-r', `${ip.good}:80`, '-i', '--tun-type', 'gue', '--tun-port', '6080'],
    ['-A', '-t', '203.0.113.100:80', '-s', 'rr'],
    ['-a', '-t', '203.0.113.100:80', '-r', `${ip.closed}:8080`, '-m'],
    ['-A', '-f', '7', '-s', 'rr'],
    ['-a', '-f', '7', '-r', `${ip.novip}:0`, '-g'],
  ];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const lab = await createLab({ ipv6: false, prefix: 'vm' });
  const labSetupMs = Math.round(performance.now());
  log(`lab ${lab.id} up`);
  const agentLog: StampedLine[] = [];
  const origin = (): number => 0;
  try {
    const ip = guest.rsAddresses(lab);
    const [vip, port] = [lab.vip4, lab.httpPort];
    // novip starts healthy; closed gets a listener, so all three serve.
    await lab.execOk('novip', ['ip', 'address', 'add', `${vip}/32`, 'dev', 'lo']);
    const closedServer = lab.spawn('closed', [labPython(), '-m', 'http.server', String(port), '--bind', '0.0.0.0', '--directory', join(lab.tmpDir, 'closed')]);
    closedServer.stderr?.resume();
    mkdirSync(STATE_DIR, { recursive: true });
    const ipvsadm = async (argv: string[]): Promise<string> => (await lab.execOk('director', ['ipvsadm', ...argv])).stdout;

    // 1. Discovery.
    for (const argv of discoveryTable(vip, ip)) await ipvsadm(argv);
    const discoveryTableText = await ipvsadm(['-S', '-n']);
    const discoveryConfigPath = join(lab.tmpDir, 'discovery.yaml');
    const discoveryConfig = discoveryAgentConfig(vip, port);
    writeFileSync(discoveryConfigPath, discoveryConfig);
    const discoveryLog: StampedLine[] = [];
    const discoveryAgent = await startAgent(lab, discoveryConfigPath, discoveryLog, origin);
    await sleep(500);
    const discoveryStatus: unknown = JSON.parse(await httpGet(lab, 'http://127.0.0.1:9470/status'));
    discoveryAgent.child.kill('SIGTERM');
    await waitForExit(discoveryAgent.child, 5_000);
    await ipvsadm(['-C']);

    // 2. The weights table and the foreign service.
    await ipvsadm(['-A', '-t', `${vip}:${port}`, '-s', 'wrr']);
    for (const host of HOSTS) await ipvsadm(['-a', '-t', `${vip}:${port}`, '-r', `${ip[host]}:${port}`, '-g', '-w', String(WEIGHTS[host])]);
    await ipvsadm(['-A', '-t', `${FOREIGN_VIP}:8080`, '-s', 'rr']);
    await ipvsadm(['-a', '-t', `${FOREIGN_VIP}:8080`, '-r', `${ip.novip}:8080`, '-g', '-w', '4']);
    await ipvsadm(['-a', '-t', `${FOREIGN_VIP}:8080`, '-r', `${ip.closed}:8080`, '-g', '-w', '0']);
    const foreignLines = async (): Promise<string> =>
      (await ipvsadm(['-S', '-n']))
        .split('\n')
        .filter((l) => l.includes(FOREIGN_VIP))
        .join('\n');
    const foreign: IpvsWeightsResult['foreign'] = [{ step: 'before', lines: await foreignLines() }];

    // The web service's weights, polled in the background for the whole run.
    const timeline: WeightSnapshot[] = [];
    let weights: Record<RsName, number | null> = { good: null, novip: null, closed: null };
    let polling = true;
    const poll = async (): Promise<void> => {
      while (polling) {
        const r = await lab.exec('director', ['ipvsadm', '-L', '-n', '-t', `${vip}:${port}`]);
        if (r.code === 0) {
          const servers = parseIpvsadmList(r.stdout)[0]?.realServers ?? [];
          const next = Object.fromEntries(HOSTS.map((h) => [h, servers.find((s) => s.address === ip[h])?.weight ?? null])) as Record<RsName, number | null>;
          if (JSON.stringify(next) !== JSON.stringify(weights)) {
            weights = next;
            timeline.push({ atMs: Math.round(performance.now()), weights: next });
            log(`weights: ${JSON.stringify(next)}`);
          }
        }
        await sleep(TABLE_POLL_MS);
      }
    };
    let poller = poll();
    const until = async (predicate: () => boolean, timeoutMs: number): Promise<number | null> => {
      const started = performance.now();
      for (;;) {
        if (predicate()) return Math.round(performance.now() - started);
        if (performance.now() - started > timeoutMs) return null;
        await sleep(20);
      }
    };
    const allUp = (): boolean => HOSTS.every((h) => weights[h] === WEIGHTS[h]);
    const changeVip = async (hosts: readonly RsName[], op: 'add' | 'del'): Promise<number> => {
      await Promise.all(hosts.map((h) => lab.execOk(h, ['ip', 'address', op, `${vip}/32`, 'dev', 'lo'])));
      return performance.now();
    };
    const series = async (): Promise<HttpAttempt[]> => {
      const r = await lab.execOk('client', httpSeriesArgv(`http://${vip}:${port}/`, args.requests, guest.REQUEST_TIMEOUT_MS), {
        timeoutMs: args.requests * (guest.REQUEST_TIMEOUT_MS + 2_000) + 10_000,
      });
      const attempts = parseHttpSeries(r.stdout);
      log(`client: ${attempts.filter((a) => a.ok).length} of ${attempts.length} succeeded (${[...new Set(attempts.map((a) => a.server))].join(', ')})`);
      return attempts;
    };
    const agentLine = (after: number, text: string): StampedLine | undefined => agentLog.find((l) => l.atMs >= after && l.line.includes(text));

    const configPath = join(lab.tmpDir, 'agent.yaml');
    const agentConfig = weightsAgentConfig(vip, port);
    writeFileSync(configPath, agentConfig);
    let agent = await startAgent(lab, configPath, agentLog, origin);
    const agentStartMs = agent.startMs;
    const settledMs = await until(() => HOSTS.every((h) => agentLog.some((l) => l.line.includes(`rs ${ip[h]}: down -> up`))), guest.SETTLE_TIMEOUT_MS);
    const requestsBefore = await series();

    // 3. novip loses its VIP: drained to 0.
    log("deleting novip's VIP");
    const drainAt = await changeVip(['novip'], 'del');
    const drainMs = await until(() => weights.novip === 0, guest.REACTION_TIMEOUT_MS);
    const drainLine = agentLine(Math.round(drainAt), `rs ${ip.novip}:${port}: drained`);
    const requestsAfterDrain = await series();
    foreign.push({ step: 'after the drain', lines: await foreignLines() });

    // 4. The VIP comes back: weight 3, not 1.
    log("restoring novip's VIP");
    const restoreAt = await changeVip(['novip'], 'add');
    const restoreMs = await until(() => weights.novip !== 0 && weights.novip !== null, guest.REACTION_TIMEOUT_MS);
    const restoredWeight = weights.novip;
    const restoreLine = agentLine(Math.round(restoreAt), `rs ${ip.novip}:${port}: restored`);
    foreign.push({ step: 'after the restore', lines: await foreignLines() });

    // 5. kill -9 while novip is drained, a restart while it is still down, then its VIP back.
    const killDrainAt = await changeVip(['novip'], 'del');
    const killDrainMs = await until(() => weights.novip === 0, guest.REACTION_TIMEOUT_MS);
    // The agent writes its outcome ("drained") to the state file just after the kernel write that the poller saw;
    // a kill in between leaves the intent ("draining"), which a restart also reads right (unit tests), but this
    // step is the drained state's.
    const stateFile = join(STATE_DIR, 'ipvs-weights.json');
    await until(() => /"state": "drained"/.test(guest.readOrNull(stateFile) ?? ''), guest.REACTION_TIMEOUT_MS);
    agent.child.kill('SIGKILL');
    await waitForExit(agent.child, 5_000);
    const weightsAtKill = { ...weights };
    const stateFileAtKill = guest.readOrNull(stateFile);
    log(`agent killed (-9) ${Math.round(performance.now() - killDrainAt)} ms after the VIP went; weights ${JSON.stringify(weightsAtKill)}`);
    agent = await startAgent(lab, configPath, agentLog, origin);
    const restartAt = performance.now();
    // fall failures of novip (and rise successes of the others) after the restart; nothing may move meanwhile.
    await until(() => agentLog.filter((l) => l.atMs >= Math.round(restartAt) && l.line.includes('down -> up')).length >= 2, guest.SETTLE_TIMEOUT_MS);
    await sleep((AGENT_TIMING.fall * AGENT_TIMING.intervalS + AGENT_TIMING.timeoutS) * 1000 + 1_000);
    const weightsAfterRestartWhileDown = { ...weights };
    const writesAfterRestartWhileDown = timeline.filter((t) => t.atMs >= Math.round(restartAt)).map((t) => t.weights);
    const backAt = await changeVip(['novip'], 'add');
    const restartRestoreMs = await until(() => weights.novip === WEIGHTS.novip, guest.REACTION_TIMEOUT_MS);
    log(`after the restart: novip back to ${weights.novip} ${restartRestoreMs} ms after its VIP (${Math.round(performance.now() - backAt)} ms)`);
    foreign.push({ step: 'after kill -9 and restart', lines: await foreignLines() });

    // 6. Panic: every real server loses the VIP.
    await until(allUp, guest.REACTION_TIMEOUT_MS);
    log('panic: deleting the VIP of every real server');
    const panicAt = await changeVip(HOSTS, 'del');
    const panicLineSeenMs = await until(() => agentLine(Math.round(panicAt), ': panic: ') !== undefined, guest.REACTION_TIMEOUT_MS);
    // Every real server has had time to fail fall times; the weights must be the operator's all along after that.
    await sleep((AGENT_TIMING.fall * AGENT_TIMING.intervalS + AGENT_TIMING.timeoutS) * 1000 + 2_000);
    const weightsInPanic = { ...weights };
    const panicTimeline = timeline.filter((t) => t.atMs >= Math.round(panicAt)).map((t) => ({ afterMs: t.atMs - Math.round(panicAt), weights: t.weights }));
    const metricsInPanic = (await httpGet(lab, 'http://127.0.0.1:9470/metrics'))
      .split('\n')
      .filter((l) => /^vipcheck_(panic|ipvs_)/.test(l));
    const statusInPanic: unknown = JSON.parse(await httpGet(lab, 'http://127.0.0.1:9470/status'));
    const panicBackAt = await changeVip(HOSTS, 'add');
    const panicOverMs = await until(() => agentLine(Math.round(panicBackAt), 'panic over') !== undefined, guest.REACTION_TIMEOUT_MS);
    await sleep(3_000);
    const weightsAfterPanic = { ...weights };
    foreign.push({ step: 'after panic', lines: await foreignLines() });

    // 7. SIGTERM: weights stay.
    polling = false;
    await poller;
    const weightsBeforeStop = { ...weights };
    const stopAt = performance.now();
    agent.child.kill('SIGTERM');
    const exited = await waitForExit(agent.child, 5_000);
    const stopMs = exited ? Math.round(performance.now() - stopAt) : null;
    await sleep(1_000);
    const afterStop = parseIpvsadmList(await ipvsadm(['-L', '-n', '-t', `${vip}:${port}`]))[0]?.realServers ?? [];
    const weightsAfterStop = Object.fromEntries(HOSTS.map((h) => [h, afterStop.find((s) => s.address === ip[h])?.weight ?? null])) as Record<RsName, number | null>;
    foreign.push({ step: 'after the agent stopped', lines: await foreignLines() });

    // 8. on-down: remove, with a kill -9 while the destination is out of the table.
    // `ipvsadm -S` leaves the thresholds out; `-L --thresholds` gives them (Uthreshold, Lthreshold).
    const novipLine = async (): Promise<string | null> => {
      const saved = (await ipvsadm(['-S', '-n'])).split('\n').find((l) => l.startsWith(`-a -t ${vip}:${port} -r ${ip.novip}:${port} `));
      if (!saved) return null;
      const row = (await ipvsadm(['-L', '-n', '--thresholds', '-t', `${vip}:${port}`])).split('\n').find((l) => l.includes(`-> ${ip.novip}:${port} `));
      const [upper, lower] = row?.trim().split(/\s+/).slice(2, 4) ?? [];
      return `${saved} | thresholds ${upper ?? '?'} ${lower ?? '?'}`;
    };
    await ipvsadm(['-e', '-t', `${vip}:${port}`, '-r', `${ip.novip}:${port}`, '-g', '-w', String(WEIGHTS.novip), '-x', '100', '-y', '50']);
    const removeLineBefore = await novipLine();
    const removeConfigPath = join(lab.tmpDir, 'agent-remove.yaml');
    writeFileSync(removeConfigPath, removeAgentConfig(vip, port));
    polling = true;
    poller = poll();
    const removeStartAt = performance.now();
    agent = await startAgent(lab, removeConfigPath, agentLog, origin);
    const removeSettledMs = await until(() => HOSTS.every((h) => agentLog.some((l) => l.atMs >= Math.round(removeStartAt) && l.line.includes(`rs ${ip[h]}: down -> up`))), guest.SETTLE_TIMEOUT_MS);
    log("on-down: remove: deleting novip's VIP");
    const removeAt = await changeVip(['novip'], 'del');
    const removeMs = await until(() => weights.novip === null, guest.REACTION_TIMEOUT_MS);
    const removeLogLine = agentLine(Math.round(removeAt), `rs ${ip.novip}:${port}: removed from the table`);
    const lineWhileRemoved = await novipLine();
    const requestsAfterRemove = await series();
    // As in step 5: the kill lands after the outcome ("removed") reached the state file, not between.
    await until(() => /"state": "removed"/.test(guest.readOrNull(stateFile) ?? ''), guest.REACTION_TIMEOUT_MS);
    agent.child.kill('SIGKILL');
    await waitForExit(agent.child, 5_000);
    const stateFileWhileRemoved = guest.readOrNull(stateFile);
    agent = await startAgent(lab, removeConfigPath, agentLog, origin);
    const removeRestartAt = performance.now();
    // The restarted agent probes novip from the state file alone; it must stay out of the table while down.
    await sleep((AGENT_TIMING.fall * AGENT_TIMING.intervalS + AGENT_TIMING.timeoutS) * 1000 + 1_000);
    const writesWhileRemoved = timeline.filter((t) => t.atMs >= Math.round(removeRestartAt)).map((t) => t.weights);
    const addBackAt = await changeVip(['novip'], 'add');
    const addBackMs = await until(() => weights.novip === WEIGHTS.novip, guest.REACTION_TIMEOUT_MS);
    const addBackLogLine = agentLine(Math.round(addBackAt), `rs ${ip.novip}:${port}: added back with weight ${WEIGHTS.novip}`);
    const removeLineAfter = await novipLine();
    foreign.push({ step: 'after on-down: remove', lines: await foreignLines() });
    polling = false;
    await poller;
    agent.child.kill('SIGTERM');
    await waitForExit(agent.child, 5_000);

    const result: IpvsWeightsResult = {
      vip,
      port,
      hosts: ip,
      operatorWeights: WEIGHTS,
      agent: AGENT_TIMING,
      agentConfig,
      labSetupMs,
      discovery: { table: discoveryTableText, config: discoveryConfig, status: discoveryStatus, log: discoveryLog.map((l) => l.line) },
      agentStartMs,
      settledMs,
      requestsBefore,
      drain: { ms: drainMs, logLine: drainLine?.line ?? null, logAfterMs: drainLine ? drainLine.atMs - Math.round(drainAt) : null },
      requestsAfterDrain,
      restore: { ms: restoreMs, weight: restoredWeight, logLine: restoreLine?.line ?? null },
      kill: {
        drainMs: killDrainMs,
        weightsAtKill,
        stateFileAtKill,
        restartAtMs: Math.round(restartAt),
        vipBackAtMs: Math.round(backAt),
        weightsAfterRestartWhileDown,
        writesAfterRestartWhileDown,
        restoreMs: restartRestoreMs,
        weightAfter: weightsAfterPanic.novip,
      },
      panic: {
        logLine: agentLine(Math.round(panicAt), ': panic: ')?.line ?? null,
        logAfterMs: panicLineSeenMs,
        weightsInPanic,
        timeline: panicTimeline,
        metrics: metricsInPanic,
        status: statusInPanic,
        overAfterMs: panicOverMs,
        weightsAfter: weightsAfterPanic,
      },
      stop: { ms: stopMs, weightsBefore: weightsBeforeStop, weightsAfter: weightsAfterStop },
      remove: {
        lineBefore: removeLineBefore,
        settledMs: removeSettledMs,
        ms: removeMs,
        logLine: removeLogLine?.line ?? null,
        lineWhileRemoved,
        requestsAfter: requestsAfterRemove,
        stateFileWhileRemoved,
        restartAtMs: Math.round(removeRestartAt),
        vipBackAtMs: Math.round(addBackAt),
        writesAfterRestart: writesWhileRemoved,
        addBackMs,
        addBackLogLine: addBackLogLine?.line ?? null,
        lineAfter: removeLineAfter,
      },
      foreign,
      timeline,
      agentLog,
      totalMs: Math.round(performance.now()),
    };
    writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await lab.destroy();
    guest.printStamped('agent log', agentLog);
  }
}

/** Spawns the agent in the director namespace and waits for its "started" line. */
async function startAgent(lab: Lab, configPath: string, into: StampedLine[], origin: () => number): Promise<{ child: ReturnType<Lab['spawn']>; startMs: number }> {
  const spawnedAt = performance.now();
  const child = lab.spawn('director', [process.execPath, VIPCHECK_BIN, 'agent', '--config', configPath]);
  const from = into.length;
  guest.collectLines(child.stderr, into, origin);
  child.stdout?.resume();
  for (;;) {
    if (into.slice(from).some((l) => l.line.startsWith('vipcheck agent: started: '))) break;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the agent exited (${child.exitCode ?? child.signalCode}):\n${into.slice(from).map((l) => l.line).join('\n')}`);
    if (performance.now() - spawnedAt > guest.AGENT_START_TIMEOUT_MS) throw new Error(`the agent did not start within ${guest.AGENT_START_TIMEOUT_MS} ms`);
    await sleep(50);
  }
  const startMs = Math.round(performance.now() - spawnedAt);
  log(`agent started in ${startMs} ms`);
  return { child, startMs };
}

/** GET inside the director namespace (where the agent listens on 127.0.0.1). */
async function httpGet(lab: Lab, url: string): Promise<string> {
  const script = 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())';
  return (await lab.execOk('director', [labPython(), '-c', script, url])).stdout;
}

if (guest.isMainModule(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`ipvs-weights: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
