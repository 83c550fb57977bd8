// The VM lab's ipvs-weights scenario (src/lab/vm/guest/ipvs-weights.ts): `vipcheck agent` reads the real servers
// from the kernel's IPVS table and manages their weights, with no keepalived. Discovery from a table with DR, TUN,
// NAT and fwmark services; with weights 5, 3 and 2, the real server that loses its VIP drains to 0 within
// fall x interval + timeout and the client sees no failure after; its VIP back restores 3, not 1; a kill -9 in
// the drained state and a restart converge; panic mode restores every real server; a foreign service and the
// stop leave the table alone; with on-down: remove the destination leaves the table and, across a kill -9 while
// it is out, comes back with every field it had.

import assert from 'node:assert/strict';
import type { IpvsWeightsResult } from '../../src/lab/vm/scenarios.js';
import { describeVmScenario } from './harness.js';

interface StatusDocument {
  services: Array<{ name: string; panic?: boolean; realServers: Array<{ rs: string; state: string; ipvs?: { service: string; forwarding: string; path: string; port: number; weight: number | null; configuredWeight?: number; managed?: string } }> }>;
}

describeVmScenario<IpvsWeightsResult>('ipvs-weights', (s) => {
  const r = (): IpvsWeightsResult => s.result;
  /** The agent's own bound: fall probes, each up to interval apart, the last one ending at its timeout. */
  const drainBoundMs = (): number => (r().agent.fall * r().agent.intervalS + r().agent.timeoutS) * 1000;
  /** What a loaded TCG guest adds: ipvsadm polled every 100 ms through `ip netns exec`, a busy event loop. */
  const SLACK_MS = 2_000;
  const operator = (): IpvsWeightsResult['operatorWeights'] => r().operatorWeights;
  /**
   * Whether the agent logged a panic in the window: on a loaded TCG guest a restarted agent's first probes of
   * two real servers may fail (it is warming up), and a panic restores every real server until it is over.
   */
  const panickedBetween = (fromMs: number, toMs: number): boolean => r().agentLog.some((l) => l.atMs >= fromMs && l.atMs <= toMs && l.line.includes(': panic: '));

  it('discovers DR and TUN services through the VIP, NAT on the RIP path and the fwmark service it is told about', () => {
    const status = r().discovery.status as StatusDocument;
    const { good, novip, closed } = r().hosts;
    const seen = status.services.flatMap((svc) => svc.realServers.map((rs) => [svc.name, rs.rs, rs.ipvs?.service, rs.ipvs?.forwarding, rs.ipvs?.path, rs.ipvs?.port, rs.ipvs?.weight]));
    console.log(`      discovered: ${JSON.stringify(seen)}`);
    assert.deepEqual(
      seen.sort(),
      [
        ['lvs:198.51.100.100:80', good, 'TCP 198.51.100.100:80', 'dr', 'vip', 80, 5],
        ['lvs:198.51.100.100:80', novip, 'TCP 198.51.100.100:80', 'dr', 'vip', 80, 3],
        ['lvs:198.51.100.101:80', good, 'TCP 198.51.100.101:80', 'tun', 'vip', 80, 1],
        ['lvs:203.0.113.100:80', closed, 'TCP 203.0.113.100:80', 'nat', 'rip', 8080, 1],
        ['marked', novip, 'FWM 7 (IPv4)', 'dr', 'vip', 0, 1],
      ].sort(),
      r().discovery.table,
    );
    assert.ok(r().discovery.log.some((l) => l.includes('NAT real servers are checked on the RIP path')), r().discovery.log.join('\n'));
  });

  it('manages the DR service built with ipvsadm: all three up at their operator weights 5, 3, 2', () => {
    assert.notEqual(r().settledMs, null, r().agentLog.map((l) => l.line).join('\n'));
    assert.deepEqual(r().timeline[0]?.weights, operator());
    assert.ok(r().requestsBefore.every((a) => a.ok), JSON.stringify(r().requestsBefore));
    console.log(`      agent start ${r().agentStartMs} ms, all up ${r().settledMs} ms after`);
  });

  it('drains the real server that lost its VIP to 0 within fall x interval + timeout, and no request fails after', () => {
    const { ms, logLine, logAfterMs } = r().drain;
    console.log(`      drain: VIP deleted -> weight 0 in ipvsadm ${ms} ms (agent log ${logAfterMs} ms; bound ${drainBoundMs()} ms + ${SLACK_MS} ms)`);
    assert.notEqual(ms, null, 'novip never drained');
    assert.ok(ms! <= drainBoundMs() + SLACK_MS, `${ms} ms`);
    assert.match(logLine ?? '', /drained: weight 3 -> 0 \(down\)/);
    const attempts = r().requestsAfterDrain;
    assert.ok(attempts.length > 0 && attempts.every((a) => a.ok), JSON.stringify(attempts));
    assert.ok(!attempts.some((a) => a.server === 'novip'), 'no new connection to the drained server');
  });

  it('restores weight 3 (the operator\'s), not 1, when the VIP comes back', () => {
    const { ms, weight, logLine } = r().restore;
    const bound = (r().agent.rise * r().agent.intervalS + r().agent.timeoutS) * 1000 + SLACK_MS;
    console.log(`      restore: VIP back -> weight ${weight} in ipvsadm ${ms} ms (bound ${bound} ms)`);
    assert.equal(weight, operator().novip);
    assert.ok(ms !== null && ms <= bound, `${ms} ms`);
    assert.match(logLine ?? '', /restored: weight 0 -> 3 \(up\)/);
  });

  it('after kill -9 while drained and a restart, keeps the drained server at 0 until it is up, then restores 3', () => {
    const k = r().kill;
    assert.deepEqual(k.weightsAtKill, { ...operator(), novip: 0 });
    assert.match(k.stateFileAtKill ?? '', /"state": "drained"/);
    assert.deepEqual(k.weightsAfterRestartWhileDown, { ...operator(), novip: 0 }, 'the restart did not take the agent\'s 0 for the operator\'s');
    // Nothing moves, unless the restarted agent panicked (panickedBetween).
    const panicAfterRestart = panickedBetween(k.restartAtMs, k.vipBackAtMs);
    if (!panicAfterRestart) assert.deepEqual(k.writesAfterRestartWhileDown, [], 'nothing moved between the restart and the VIP coming back');
    else console.log(`      the restarted agent panicked at first (its first probes failed); weights meanwhile ${JSON.stringify(k.writesAfterRestartWhileDown)}`);
    console.log(`      kill -9 + restart: novip back to ${k.weightAfter} ${k.restoreMs} ms after its VIP`);
    assert.notEqual(k.restoreMs, null);
    assert.equal(k.weightAfter, operator().novip);
  });

  it('panic: with every real server down, drains no more and ends with every operator weight; logged and vipcheck_panic 1', () => {
    const p = r().panic;
    console.log(`      panic: log ${p.logAfterMs} ms after the VIPs went; weights over time ${JSON.stringify(p.timeline)}; over ${p.overAfterMs} ms after they came back`);
    assert.match(p.logLine ?? '', /web TCP 198\.51\.100\.100:80: panic: only [01] of 3 real servers would be up \(threshold 50%\)/);
    assert.deepEqual(p.weightsInPanic, operator());
    assert.ok(p.metrics.includes('vipcheck_panic{service="web"} 1'), p.metrics.join('\n'));
    const status = p.status as StatusDocument;
    const web = status.services.find((x) => x.name === 'web');
    assert.equal(web?.panic, true);
    assert.ok(web?.realServers.every((x) => x.state === 'down'));
    assert.notEqual(p.overAfterMs, null);
    assert.deepEqual(p.weightsAfter, operator());
  });

  it('exports weights with node_exporter\'s ipvs labels', () => {
    const { novip } = r().hosts;
    const line = r().panic.metrics.find((l) => l.startsWith('vipcheck_ipvs_configured_weight{') && l.includes(`remote_address="${novip}"`));
    assert.equal(line, `vipcheck_ipvs_configured_weight{service="web",local_address="198.51.100.100",local_port="80",local_mark="",proto="TCP",remote_address="${novip}",remote_port="80"} 3`);
    assert.ok(r().panic.metrics.some((l) => /^vipcheck_ipvs_actions_total\{service="web",action="drain"\} [1-9]/.test(l)), r().panic.metrics.join('\n'));
  });

  it('never touched the foreign service in the same table', () => {
    const [first, ...rest] = r().foreign;
    assert.match(first!.lines, /-w 4/);
    assert.match(first!.lines, /-w 0/);
    for (const step of rest) assert.equal(step.lines, first!.lines, step.step);
  });

  it('on-down: remove deletes the down real server, keeps clients whole, and adds it back with every field after a kill -9 while removed', () => {
    const m = r().remove;
    const { novip } = r().hosts;
    console.log(`      remove: VIP deleted -> destination gone in ${m.ms} ms; VIP back (after kill -9 and restart) -> weight 3 in ${m.addBackMs} ms`);
    console.log(`      novip before: ${m.lineBefore}; after: ${m.lineAfter}`);
    assert.notEqual(m.settledMs, null, 'the on-down: remove agent never saw all three up');
    assert.match(m.lineBefore ?? '', new RegExp(`-r ${novip.replace(/\./g, '\\.')}:\\d+ -g -w 3 \\| thresholds 100 50$`));
    assert.ok(m.ms !== null && m.ms <= drainBoundMs() + SLACK_MS, `${m.ms} ms`);
    assert.equal(m.lineWhileRemoved, null, 'novip is still in the table');
    assert.match(m.logLine ?? '', /removed from the table \(down; weight 3 is remembered\)/);
    assert.ok(m.requestsAfter.length > 0 && m.requestsAfter.every((a) => a.ok && a.server !== 'novip'), JSON.stringify(m.requestsAfter));
    const state = JSON.parse(m.stateFileWhileRemoved ?? 'null') as unknown;
    assert.match(JSON.stringify(state), /"state":"removed"/, m.stateFileWhileRemoved ?? 'no state file');
    // novip stays out of the table while down, unless the restarted agent panicked (panickedBetween), as in step 5.
    const panicAfterRestart = panickedBetween(m.restartAtMs, m.vipBackAtMs);
    if (!panicAfterRestart) assert.ok(m.writesAfterRestart.every((w) => w.novip === null), `novip came back while down: ${JSON.stringify(m.writesAfterRestart)}`);
    else console.log(`      the restarted agent panicked at first (its first probes failed); weights meanwhile ${JSON.stringify(m.writesAfterRestart)}`);
    assert.notEqual(m.addBackMs, null, 'novip was never added back');
    assert.match(m.addBackLogLine ?? '', /added back with weight 3/);
    assert.equal(m.lineAfter, m.lineBefore, 'novip came back with other fields than it had');
  });

  it('leaves the weights as they are when it stops (SIGTERM)', () => {
    assert.ok(r().stop.ms !== null && r().stop.ms! < 2_000, `stop took ${r().stop.ms} ms`);
    assert.deepEqual(r().stop.weightsAfter, r().stop.weightsBefore);
  });
});
