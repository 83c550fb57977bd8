// Scenario 4 of the VM lab (src/lab/vm/guest/keepalived-file-check.ts): keepalived's FILE_CHECK on the files
// `vipcheck agent` writes. The agent probes through the VIP path; keepalived only reads its files (inotify). A real
// server that loses its VIP leaves the IPVS table within fall x interval + timeout plus keepalived's reaction,
// clients never see a failure, and it comes back with its VIP. SIGTERM stops the agent within a second and
// leaves the files, which keepalived keeps acting on.

import assert from 'node:assert/strict';
import type { FileCheckReaction, KeepalivedFileCheckResult } from '../../src/lab/vm/scenarios.js';
import { describeVmScenario } from './harness.js';

describeVmScenario<KeepalivedFileCheckResult>('keepalived-file-check', (s) => {
  const r = (): KeepalivedFileCheckResult => s.result;
  /** The agent's own bound: fall probes, each up to interval apart, the last one ending at its timeout. */
  const agentBoundMs = (): number => (r().agent.fall * r().agent.intervalS + r().agent.timeoutS) * 1000;
  /** The brief's bound for the table: the agent's, plus keepalived's reaction and a loaded TCG guest's slack. */
  const tableBoundMs = (): number => agentBoundMs() + 5_000;
  const figures = (what: string, x: FileCheckReaction): void =>
    console.log(
      `      ${what}: agent log ${x.agentLogAfterMs} ms, file ${x.fileAfterMs} ms, keepalived FAULT line ${x.keepalivedLogAfterMs} ms, ` +
        `its IPVS line ${x.keepalivedIpvsLogAfterMs} ms, ipvsadm ${x.tableAfterMs} ms (ip address itself: ${x.vipChangeWindowMs} ms)`,
    );
  /** keepalived reads the file on inotify: its IPVS change follows the agent's verdict at once, not after a poll. */
  const assertKeepalivedFollowsTheFile = (x: FileCheckReaction): void => {
    assert.notEqual(x.keepalivedLogAfterMs, null, 'keepalived logged the tracked file changing state');
    assert.notEqual(x.keepalivedIpvsLogAfterMs, null, 'keepalived logged the IPVS change');
    const lag = x.keepalivedIpvsLogAfterMs! - x.agentLogAfterMs!;
    assert.ok(lag >= -50 && lag < 1_000, `keepalived's IPVS change ${lag} ms after the agent's verdict`);
  };

  it('runs keepalived with only a FILE_CHECK per real server on the agent\'s files (weight 0), no other checker', () => {
    const { config, agentConfig, files, hosts } = r();
    assert.doesNotMatch(config, /TCP_CHECK|MISC_CHECK|HTTP_GET|misc_path/);
    assert.equal(config.match(/FILE_CHECK \{/g)?.length, 3);
    for (const rs of Object.values(hosts)) assert.ok(config.includes(`file "${files[rs === hosts.good ? 'good' : rs === hosts.novip ? 'novip' : 'closed']}"`), config);
    assert.equal(config.match(/^ {4}weight 0$/gm)?.length, 3);
    assert.match(agentConfig, /^ {4}file-check: \/run\/vipcheck\/web-\{rs\}\.state$/m);
    assert.match(agentConfig, /^ {4}check: tcp$/m);
  });

  it('started the agent in the guest (its "started" line), before keepalived, which then admitted good and novip only', () => {
    const started = r().agentLog.find((l) => l.line.startsWith('vipcheck agent: started: 3 targets'));
    assert.ok(started, r().agentLog.map((l) => l.line).join('\n'));
    assert.ok(started.atMs < 0, 'the agent started before keepalived');
    console.log(`      agent start in the guest: ${r().agentStartMs} ms, ${r().agentStartCpuMs ?? '?'} ms of CPU (${started.line})`);
    assert.ok(r().agentStartMs < 90_000);
    assert.notEqual(r().bothUpAfterMs, null, `good and novip never both in the table: ${JSON.stringify(r().timeline)}`);
    console.log(`      keepalived start to good and novip in the table: ${r().bothUpAfterMs} ms`);
    const everSeen = new Set(r().timeline.flatMap((t) => t.realServers));
    assert.ok(!everSeen.has(r().hosts.closed), `closed (RST through the VIP path) joined the table: ${JSON.stringify(r().timeline)}`);
  });

  it('took novip out of the table after it lost its VIP, within fall x interval + timeout + 5 s; good stayed', () => {
    const removal = r().removal;
    assert.ok(removal, 'the scenario got to the fault');
    figures('VIP deleted ->', removal);
    assert.notEqual(removal.tableAfterMs, null, `novip still in the table ${r().watchedAfterFaultMs} ms after losing its VIP`);
    assert.ok(removal.tableAfterMs! <= tableBoundMs(), `${removal.tableAfterMs} ms > ${tableBoundMs()} ms`);
    // The chain, in order: the agent's verdict, its file, keepalived's reading of it, the table.
    assert.match(removal.agentLogLine ?? '', new RegExp(`^vipcheck agent: web ${r().vip}:80 rs ${r().hosts.novip}: up -> down after ${r().agent.fall} failures: `));
    assert.notEqual(removal.agentLogAfterMs, null);
    assert.notEqual(removal.fileAfterMs, null, 'novip\'s file changed to 1');
    assert.ok(removal.agentLogAfterMs! <= agentBoundMs() + 2_000, `agent verdict after ${removal.agentLogAfterMs} ms`);
    assert.ok(removal.fileAfterMs! <= removal.tableAfterMs! + 250, 'the file changed before the table did');
    assertKeepalivedFollowsTheFile(removal);
    assert.deepEqual(r().tableAfterRemovalRequests, [r().hosts.good]);
    const joined = r().timeline.findIndex((t) => t.realServers.includes(r().hosts.good));
    assert.ok(r().timeline.slice(joined).every((t) => t.realServers.includes(r().hosts.good)), JSON.stringify(r().timeline));
  });

  it('so every client request after the removal succeeded, served by good', () => {
    const requests = r().requestsAfterRemoval;
    assert.ok(requests.length >= 6, JSON.stringify(requests));
    assert.deepEqual(requests.filter((x) => !x.ok), [], 'failed requests');
    assert.deepEqual([...new Set(requests.map((x) => x.server))], ['good']);
  });

  it('brought novip back once its VIP was restored (rise x interval + keepalived), and clients reached both', () => {
    const restore = r().restore;
    assert.ok(restore, 'the scenario got to the restore');
    figures('VIP restored ->', restore);
    assert.notEqual(restore.tableAfterMs, null, `novip not back ${r().watchedAfterRestoreMs} ms after its VIP returned`);
    const riseBound = (r().agent.rise * r().agent.intervalS + r().agent.timeoutS) * 1000 + 5_000;
    assert.ok(restore.tableAfterMs! <= riseBound, `${restore.tableAfterMs} ms > ${riseBound} ms`);
    assert.match(restore.agentLogLine ?? '', new RegExp(`rs ${r().hosts.novip}: down -> up after ${r().agent.rise} successes`));
    assert.notEqual(restore.fileAfterMs, null, 'novip\'s file changed to 0');
    assertKeepalivedFollowsTheFile(restore);
    const requests = r().requestsAfterRestore;
    assert.ok(requests.length >= 6);
    assert.deepEqual(requests.filter((x) => !x.ok), [], 'failed requests');
    assert.deepEqual([...new Set(requests.map((x) => x.server))].sort(), ['good', 'novip']);
  });

  it('stopped the agent on SIGTERM (its own 1 s bound, plus TCG\'s process teardown), leaving every file, and keepalived kept the table as it was', () => {
    const stop = r().agentStop;
    assert.ok(stop, 'the agent did not exit within 5 s of SIGTERM');
    console.log(`      agent SIGTERM to exit: ${stop.ms} ms (its "stopping" line after ${stop.stoppingLineAfterMs} ms)`);
    assert.equal(stop.code, 0, JSON.stringify(stop));
    // The agent calls process.exit within 1 s of its handler (main.ts); under TCG the stop's own steps (up to
    // 300 ms for probes in flight, `nft delete table` at 150-600 ms) and the process teardown after exit() make
    // 0.34-1.6 s from kill() to the exit seen here. On real CPUs test/lab/agent.test.ts holds it under 1 s.
    assert.ok(stop.stoppingLineAfterMs !== null && stop.stoppingLineAfterMs < 500, `the handler ran after ${stop.stoppingLineAfterMs} ms`);
    assert.ok(stop.ms < 2_000, `${stop.ms} ms`);
    assert.match(r().agentLog.at(-1)?.line ?? '', /SIGTERM: stopping/);
    assert.deepEqual(r().filesAfterStop, { good: '0\n', novip: '0\n', closed: '1\n' });
    assert.doesNotMatch(r().nftTablesAfterStop, /vipcheck_agent/, 'the RST guard table is gone');
    assert.deepEqual(r().tableAfterAgentStop, [r().hosts.good, r().hosts.novip].sort());
  });
});
