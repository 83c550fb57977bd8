// Runs INSIDE the VM lab's guest (a real kernel with ip_vs), as root: the namespace lab of src/lab (director,
// real servers good / novip / closed and a client on one bridge), keepalived as the director's IPVS DR
// health checker, and the fault vipcheck exists for: a real server that was healthy loses its VIP at run time.
//
//   1. novip gets the VIP on lo too, so all of good and novip are healthy; closed has the VIP but no listener.
//   2. keepalived starts in alpha mode (every real server down until a check passes): good and novip must join.
//   3. The VIP is deleted from novip's lo, the classic fault; the table is watched.
//      --check tcp:  keepalived's TCP_CHECK (connect to RIP:80) keeps novip for the whole window.
//      --check misc: MISC_CHECK runs `vipcheck tcp --exit-codes keepalived`; we wait until novip is removed.
//   4. The client sends a series of HTTP requests to VIP:80 through the director.
// Assertions are the host's (test/vm/*.test.ts); this script only measures and writes result.json.
//
//   node dist/lab/vm/guest/keepalived-dr.js --check tcp|misc --out FILE [--requests N]

import { type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpSeriesArgv, parseHttpSeries } from '../../http-client.js';
import { keepalivedArgv, keepalivedConfig, parseIpvsadmList, type KeepalivedCheck } from '../../ipvs.js';
import { createLab, type Lab } from '../../lab.js';
import { sleep, Tail } from '../../proc.js';
import type { KeepalivedDrResult, TableSnapshot } from '../scenarios.js';

const VIPCHECK_BIN = fileURLToPath(new URL('../../../../bin/run.cjs', import.meta.url));
/** keepalived's delay_loop: a compromise between reaction time and the CPU a Node start per check costs here. */
const DELAY_LOOP_S = 5;
/** vipcheck's own deadline; keepalived's misc_timeout is well above it because Node starts slowly under TCG. */
const VIPCHECK_TIMEOUT_S = 3;
const MISC_TIMEOUT_S = 20;
const SETTLE_TIMEOUT_MS = 120_000;
/** TCP_CHECK: how long to keep watching novip after it lost the VIP; several check rounds. */
const TCP_WATCH_MS = 4 * DELAY_LOOP_S * 1000;
const MISC_REMOVAL_TIMEOUT_MS = 90_000;
const REQUEST_TIMEOUT_MS = 3_000;
const POLL_MS = 250;

interface Args {
  check: 'tcp' | 'misc';
  out: string;
  requests: number;
}

function parseArgs(argv: readonly string[]): Args {
  let check: Args['check'] | undefined;
  let out: string | undefined;
  let requests = 8;
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--check' && (value === 'tcp' || value === 'misc')) check = value;
    else if (flag === '--out' && value) out = value;
    else if (flag === '--requests' && value && /^[1-9]\d*$/.test(value)) requests = Number(value);
    else throw new Error(`keepalived-dr: bad argument ${JSON.stringify(flag)} (usage: --check tcp|misc --out FILE [--requests N])`);
    i++;
  }
  if (!check || !out) throw new Error('keepalived-dr: --check tcp|misc and --out FILE are required');
  return { check, out, requests };
}

function log(message: string): void {
  process.stdout.write(`[${(performance.now() / 1000).toFixed(1)} s] ${message}\n`);
}

/** Polls the director's IPVS table and keeps every change, timed from keepalived's start. */
class TableWatcher {
  readonly timeline: TableSnapshot[] = [];
  private current: string[] | null = null;

  constructor(
    private readonly lab: Lab,
    private readonly startedAt: number,
  ) {}

  async poll(): Promise<string[]> {
    const r = await this.lab.execOk('director', ['ipvsadm', '-L', '-n']);
    const servers = parseIpvsadmList(r.stdout).flatMap((s) => s.realServers.map((rs) => rs.address)).sort();
    if (this.current === null || servers.join() !== this.current.join()) {
      this.current = servers;
      this.timeline.push({ atMs: Math.round(performance.now() - this.startedAt), realServers: servers });
      log(`IPVS table: ${servers.join(', ') || '(empty)'}`);
    }
    return servers;
  }

  /** Polls until predicate holds (returns the time it took) or timeoutMs passes (returns null). */
  async until(predicate: (servers: string[]) => boolean, timeoutMs: number, keepalived: ChildProcess): Promise<number | null> {
    const started = performance.now();
    for (;;) {
      if (keepalived.exitCode !== null || keepalived.signalCode !== null) throw new Error(`keepalived exited (${keepalived.exitCode ?? keepalived.signalCode})`);
      if (predicate(await this.poll())) return Math.round(performance.now() - started);
      if (performance.now() - started > timeoutMs) return null;
      await sleep(POLL_MS);
    }
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const lab = await createLab({ ipv6: false, prefix: 'vm' });
  const labSetupMs = Math.round(performance.now());
  log(`lab ${lab.id} up`);
  const keepalivedLog = new Tail(32 * 1024);
  try {
    const { good, novip, closed } = lab.hosts;
    const vip = lab.vip4;
    const port = lab.httpPort;
    // novip starts healthy: the fault is injected once keepalived has seen it pass.
    await lab.execOk('novip', ['ip', 'address', 'add', `${vip}/32`, 'dev', 'lo']);

    const check: KeepalivedCheck =
      args.check === 'tcp'
        ? { kind: 'TCP_CHECK', connectTimeoutS: 2, retry: 1, delayBeforeRetryS: 1 }
        : {
            kind: 'MISC_CHECK',
            command: (rs) => `${process.execPath} ${VIPCHECK_BIN} tcp --vip ${vip} --rs ${rs} --port ${port} --timeout ${VIPCHECK_TIMEOUT_S} --exit-codes keepalived`,
            timeoutS: MISC_TIMEOUT_S,
          };
    const config = keepalivedConfig({ vip, port, realServers: [good.ipv4, novip.ipv4, closed.ipv4], check, delayLoopS: DELAY_LOOP_S, alpha: true });
    const configPath = join(lab.tmpDir, 'keepalived.conf');
    writeFileSync(configPath, config);

    const keepalived = lab.spawn('director', keepalivedArgv(configPath, lab.tmpDir));
    const keepalivedStarted = performance.now();
    for (const stream of [keepalived.stdout, keepalived.stderr]) stream?.setEncoding('utf8').on('data', (s: string) => keepalivedLog.push(s));
    const watcher = new TableWatcher(lab, keepalivedStarted);

    const bothUpAfterMs = await watcher.until((t) => t.includes(good.ipv4) && t.includes(novip.ipv4), SETTLE_TIMEOUT_MS, keepalived);
    let novipRemovedAfterMs: number | null = null;
    let watchedAfterFaultMs = 0;
    if (bothUpAfterMs !== null) {
      log(`good and novip in the table ${bothUpAfterMs} ms after keepalived started; deleting the VIP from novip's lo`);
      await lab.execOk('novip', ['ip', 'address', 'del', `${vip}/32`, 'dev', 'lo']);
      const faultAt = performance.now();
      const gone = (t: string[]): boolean => !t.includes(novip.ipv4);
      novipRemovedAfterMs = await watcher.until(gone, args.check === 'tcp' ? TCP_WATCH_MS : MISC_REMOVAL_TIMEOUT_MS, keepalived);
      watchedAfterFaultMs = Math.round(performance.now() - faultAt);
      log(novipRemovedAfterMs === null ? `novip still in the table after ${watchedAfterFaultMs} ms` : `novip removed ${novipRemovedAfterMs} ms after the fault`);
    }

    log(`client: ${args.requests} requests to http://${vip}:${port}/`);
    const series = await lab.execOk('client', httpSeriesArgv(`http://${vip}:${port}/`, args.requests, REQUEST_TIMEOUT_MS), {
      timeoutMs: args.requests * (REQUEST_TIMEOUT_MS + 2_000) + 10_000,
    });
    const requests = parseHttpSeries(series.stdout);
    log(`client: ${requests.filter((r) => r.ok).length} of ${requests.length} succeeded`);
    const tableAfterRequests = await watcher.poll();

    const result: KeepalivedDrResult = {
      check: args.check,
      vip,
      port,
      hosts: { good: good.ipv4, novip: novip.ipv4, closed: closed.ipv4 },
      config,
      labSetupMs,
      bothUpAfterMs,
      novipRemovedAfterMs,
      watchedAfterFaultMs,
      timeline: watcher.timeline,
      tableAfterRequests,
      requests,
      keepalivedLog: keepalivedLog.toString(),
      totalMs: Math.round(performance.now()),
    };
    writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n');
  } finally {
    await lab.destroy();
    process.stdout.write(`--- keepalived log (tail) ---\n${keepalivedLog.toString()}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`keepalived-dr: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
