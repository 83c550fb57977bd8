/**
 * `vipcheck agent` against the namespace lab, run from the director: good, no-VIP, closed and lossy real
 * servers seen through /metrics, /status and the FILE_CHECK files; a real server that loses its VIP mid-run
 * goes down after `fall` and comes back after `rise`; SIGHUP with a valid and an invalid file; hostile servers
 * (an endless body, a silent one) that must not delay anybody else's probes; SIGTERM that leaves nothing behind.
 */
import assert from 'node:assert/strict';
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {VIPCHECK_BIN, describeLab} from './harness.js';
import {AgentProcess} from '../support/agent-process.js';
import {FIXTURE_PORTS, addEgressLoss, startFixtureServers} from '../support/lab-services.js';

describeLab(
  'vipcheck agent in the lab',
  (s) => {
    const files = () => join(s.lab.tmpDir, 'file-check');
    const baseConfig = () => `
listen: 127.0.0.1:9470
defaults: {interval: 0.3, timeout: 0.25, rise: 2, fall: 2}
services:
  - name: web
    vip: ${s.lab.vip4}
    port: 80
    check: tcp
    real-servers: [${s.lab.hosts.good.ipv4}, ${s.lab.hosts.novip.ipv4}, ${s.lab.hosts.closed.ipv4}]
    file-check: ${files()}/web-{rs}.state
  - name: lossy
    vip: ${s.lab.vip4}
    port: ${FIXTURE_PORTS.http}
    check: http-status
    path: /
    timeout: 0.28
    real-servers: [${s.lab.hosts.good.ipv4}]
  - name: web6
    vip: ${s.lab.vip6}
    port: 80
    check: http-status
    real-servers: [${s.lab.hosts.good.ipv6}, ${s.lab.hosts.novip.ipv6}]
`;
    let agent: AgentProcess | undefined;

    before(async () => {
      await startFixtureServers(s.lab, 'good');
      // 20 % of the good server's segments from port 8080 are lost on the bridge: TCP must recover.
      await addEgressLoss(s.lab, 'good', FIXTURE_PORTS.http, 20);
      agent = await AgentProcess.start(s.lab, 'director', baseConfig());
    });

    // The lab (the loss rule with it) is destroyed after the block; the agent is stopped by the last test, or here.
    after(async () => {
      await agent?.stop();
    });

    it('reports good, no-VIP, closed and lossy real servers in /metrics, /status and the FILE_CHECK files', async () => {
      const a = agent!;
      const {good, novip, closed} = s.lab.hosts;
      await a.until(async () => (await a.upOf('web'))[good.ipv4] === 1, 10_000, 'good up');
      await a.until(async () => (await a.upOf('lossy'))[good.ipv4] === 1, 10_000, 'lossy up');
      await a.until(async () => (await a.upOf('web6'))[good.ipv6] === 1, 10_000, 'IPv6 VIP through the good server up');
      assert.equal((await a.upOf('web6'))[novip.ipv6], 0, 'the IPv6 VIP is missing on novip too');
      await a.untilProbed('web', [novip.ipv4, closed.ipv4]);
      const up = await a.upOf('web');
      assert.deepEqual(up, {[good.ipv4]: 1, [novip.ipv4]: 0, [closed.ipv4]: 0});
      const byRs = await a.realServersOf('web');
      assert.equal(byRs[good.ipv4]!.state, 'up');
      assert.match(byRs[novip.ipv4]!.lastProbe!.summary, /no answer/);
      assert.match(byRs[closed.ipv4]!.lastProbe!.summary, /refused/);
      assert.equal(readFileSync(join(files(), `web-${good.ipv4}.state`), 'utf8'), '0\n');
      assert.equal(readFileSync(join(files(), `web-${novip.ipv4}.state`), 'utf8'), '1\n');
      assert.equal(readFileSync(join(files(), `web-${closed.ipv4}.state`), 'utf8'), '1\n');
      const metrics = await a.metrics();
      const lossyOk = metrics.find((m) => m.name === 'vipcheck_probes_total' && m.labels['service'] === 'lossy' && m.labels['result'] === 'ok');
      assert.ok(lossyOk && lossyOk.value >= 2, 'the lossy server is probed through the loss');
      const status200 = metrics.find((m) => m.name === 'vipcheck_http_status_code' && m.labels['service'] === 'lossy');
      assert.equal(status200?.value, 200);
      const page = await a.get('/');
      assert.match(page, /<title>vipcheck agent: 3 down<\/title>/);
      assert.equal(await a.get('/healthz'), 'ok\n');
    });

    it('takes a real server that loses its VIP down after fall, and up again after rise once it is back', async () => {
      const a = agent!;
      const {good} = s.lab.hosts;
      const file = join(files(), `web-${good.ipv4}.state`);
      await a.until(async () => (await a.upOf('web'))[good.ipv4] === 1, 10_000, 'good up');
      await s.lab.execOk('good', ['ip', 'addr', 'del', `${s.lab.vip4}/32`, 'dev', 'lo']);
      try {
        // fall 2 at 0.3 s intervals with 0.25 s probes: down within about 2 x 0.3 + 0.25 s.
        const downMs = await a.until(async () => (await a.upOf('web'))[good.ipv4] === 0, 5_000, 'good down without its VIP');
        assert.ok(downMs < 3_000, `${downMs} ms`);
        assert.equal(readFileSync(file, 'utf8'), '1\n');
        const status = await a.status();
        const entry = status.services.find((x) => x.name === 'web')!.realServers.find((r) => r.rs === good.ipv4)!;
        assert.equal(entry.state, 'down');
        await a.waitForLog(new RegExp(`web ${s.lab.vip4}:80 rs ${good.ipv4}: up -> down after 2 failures: .*no answer`));
      } finally {
        await s.lab.execOk('good', ['ip', 'addr', 'add', `${s.lab.vip4}/32`, 'dev', 'lo']);
      }
      const upMs = await a.until(async () => (await a.upOf('web'))[good.ipv4] === 1, 5_000, 'good up again with its VIP');
      assert.ok(upMs < 3_000, `${upMs} ms`);
      assert.equal(readFileSync(file, 'utf8'), '0\n');
      const changes = (await a.metrics()).find((m) => m.name === 'vipcheck_state_changes_total' && m.labels['rs'] === good.ipv4 && m.labels['service'] === 'web');
      assert.ok(changes && changes.value >= 3, 'up, down, up');
    });

    it('reloads a valid file on SIGHUP, and keeps running the old one when the new one is invalid', async () => {
      const a = agent!;
      a.rewriteConfig(`${baseConfig()}
  - name: extra
    vip: ${s.lab.vip4}
    port: 80
    check: tcp
    real-servers: [${s.lab.hosts.good.ipv4}]
`);
      a.signal('SIGHUP');
      await a.waitForLog(/reloaded: 7 targets \(was 6\)/);
      await a.until(async () => (await a.upOf('extra'))[s.lab.hosts.good.ipv4] === 1, 5_000, 'extra up');
      a.rewriteConfig(`${baseConfig()}\n  - name: broken\n    vip: not-an-address\n    port: 80\n    check: tcp\n    real-servers: [${s.lab.hosts.good.ipv4}]\n    pathh: /\n`);
      a.signal('SIGHUP');
      await a.waitForLog(/reload refused, keeping the running configuration: services\[\d+\]\.pathh: unknown key/);
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal((await a.upOf('extra'))[s.lab.hosts.good.ipv4], 1, 'the old configuration still runs');
      const targets = (await a.metrics()).find((m) => m.name === 'vipcheck_agent_targets');
      assert.equal(targets?.value, 7);
      // Back to the base file: the extra service's series go.
      a.rewriteConfig(baseConfig());
      a.signal('SIGHUP');
      await a.waitForLog(/reloaded: 6 targets \(was 7\)/);
      assert.deepEqual(await a.upOf('extra'), {});
    });

    it('does not let an endless body or a silent server delay the other probes (p99 start delay under 10 ms)', async () => {
      const good = s.lab.hosts.good.ipv4;
      const many = Array.from({length: 20}, (_, i) => `
  - name: g${i}
    vip: ${s.lab.vip4}
    port: 80
    check: tcp
    real-servers: [${good}]`).join('');
      const header = `listen: 127.0.0.1:9471
defaults: {interval: 0.2, timeout: 0.19, rise: 1, fall: 1}
services:${many}`;
      const hostileServices = `
  - name: endless
    vip: ${s.lab.vip4}
    port: ${FIXTURE_PORTS.http}
    check: http
    path: /endless
    interval: 1
    timeout: 0.9
    real-servers: [${good}]
  - name: silent
    vip: ${s.lab.vip4}
    port: ${FIXTURE_PORTS.http}
    check: http-status
    path: /slow?ms=60000
    interval: 1
    timeout: 0.9
    real-servers: [${good}]
`;
      const agent2 = await AgentProcess.start(s.lab, 'director', `${header}\n`, 9471);
      const bucketOf = (metrics: Awaited<ReturnType<AgentProcess['metrics']>>, le: string) =>
        metrics.find((m) => m.name === 'vipcheck_agent_probe_start_delay_seconds_bucket' && m.labels['le'] === le)!.value;
      const LES = ['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '1', '+Inf'];
      /** Start delays of every turn in the next `ms`: the smallest bucket holding 99 % of them, and the counts. */
      const window = async (ms: number) => {
        const before = await agent2.metrics();
        await new Promise((resolve) => setTimeout(resolve, ms));
        const after = await agent2.metrics();
        const counts = LES.map((le) => bucketOf(after, le) - bucketOf(before, le));
        const total = counts.at(-1)!;
        const p99 = LES[counts.findIndex((c) => c >= 0.99 * total)]!;
        return {p99: p99 === '+Inf' ? Infinity : Number(p99), total, counts: counts.join('/'), after};
      };
      try {
        // The same agent first without the hostile servers (once every check has run and loaded its modules),
        // then with them: what they add, on this machine, whatever else it is doing.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const control = await window(3000);
        agent2.rewriteConfig(`${header}${hostileServices}`);
        agent2.signal('SIGHUP');
        await agent2.waitForLog(/reloaded: 22 targets/);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const hostile = await window(3000);
        const figures = `control: p99 <= ${control.p99 * 1000} ms (${control.counts} of ${control.total} turns by bucket); with the hostile servers: p99 <= ${hostile.p99 * 1000} ms (${hostile.counts} of ${hostile.total})`;
        if (process.env.LAB_FIGURES) console.log(`      [figures] start delay ${figures}`);
        assert.ok(hostile.total > 250, `${hostile.total} turns`);
        // 10 ms, or, on a machine too busy for that even without them, one histogram bucket above the control.
        const controlIndex = LES.findIndex((le) => (le === '+Inf' ? Infinity : Number(le)) === control.p99);
        const allowed = Math.max(0.01, Number(LES[Math.min(controlIndex + 1, LES.length - 2)]));
        assert.ok(hostile.p99 <= allowed, figures);
        assert.equal((await agent2.upOf('g0'))[good], 1);
        // The endless body is cut at --max-bytes (the http check's WARNING, as on the command line); the silent
        // server fails at its deadline.
        const probesOf = (service: string, result: string) =>
          hostile.after.find((m) => m.name === 'vipcheck_probes_total' && m.labels['service'] === service && m.labels['result'] === result)?.value ?? 0;
        assert.ok(probesOf('endless', 'warning') + probesOf('endless', 'critical') >= 2, 'the endless body was read, and cut');
        assert.ok(probesOf('silent', 'critical') >= 2, 'the silent server failed by its deadline');
        // The endless body is a bulk transfer: the socket's offload took its segments (and still the other
        // probes were not delayed).
        const bulk = hostile.after.find((m) => m.name === 'vipcheck_frames_bulk_received_total' && m.labels['interface'] === 'eth0')?.value ?? 0;
        assert.ok(bulk > 0, `vipcheck_frames_bulk_received_total ${bulk}`);
      } finally {
        await agent2.stop();
      }
    });

    it('sends no second RST for the FIN a server had on the wire when an HTTP check aborted (one send fewer per check)', async () => {
      // The fixture server answers and closes: its FIN follows the response, and the check resets the
      // connection as soon as it has the status. That FIN reaches a port no flow owns any more.
      const a2 = await AgentProcess.start(s.lab, 'director', `listen: 127.0.0.1:9472
defaults: {interval: 0.1, timeout: 0.09, rise: 1, fall: 1}
services:
  - name: plain
    vip: ${s.lab.vip4}
    port: 80
    check: http-status
    real-servers: [${s.lab.hosts.good.ipv4}]
`, 9472);
      try {
        const valueOf = (metrics: Awaited<ReturnType<AgentProcess['metrics']>>, name: string, result?: string) =>
          metrics.filter((m) => m.name === name && (result === undefined || m.labels['result'] === result)).reduce((sum, m) => sum + m.value, 0);
        await a2.until(async () => valueOf(await a2.metrics(), 'vipcheck_probes_total', 'ok') >= 15, 10_000, '15 OK probes');
        await new Promise((resolve) => setTimeout(resolve, 300)); // strays of the last probes have arrived
        const metrics = await a2.metrics();
        assert.equal(valueOf(metrics, 'vipcheck_probes_total') - valueOf(metrics, 'vipcheck_probes_total', 'ok'), 0, 'every probe OK');
        // Not exactly 0: the grace counts from the port's release, and a server slowed by a loaded host may close
        // after it; its FIN then rightly gets the closed port's RST. Before the grace it was one per probe.
        const ok = valueOf(metrics, 'vipcheck_probes_total', 'ok');
        const late = valueOf(metrics, 'vipcheck_agent_late_segment_resets_total');
        assert.ok(late <= ok / 10, `no RST for segments already on their way: ${late} for ${ok} probes`);
      } finally {
        await a2.stop();
      }
    });

    it('refuses to start without CAP_NET_RAW, in one line, instead of probing UNKNOWN forever', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vipcheck-agent-unprivileged-'));
      try {
        chmodSync(dir, 0o755);
        const config = join(dir, 'agent.yaml');
        writeFileSync(config, baseConfig().replace('9470', '9479').replaceAll(files(), dir), {mode: 0o644});
        const r = await s.lab.exec('director', ['setpriv', '--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', '--inh-caps=-all', process.execPath, VIPCHECK_BIN, 'agent', '--config', config]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^vipcheck agent: no permission to open a packet socket on lo: run as root .*CAP_NET_RAW.*\n$/);
      } finally {
        rmSync(dir, {recursive: true, force: true});
      }
    });

    it('stops within a second on SIGTERM and leaves no process, socket or firewall rule behind, but every FILE_CHECK file', async () => {
      const a = agent!;
      assert.match((await s.lab.execOk('director', ['nft', 'list', 'tables'])).stdout, /table inet vipcheck_agent_\d+_1024/);
      const {code, ms} = await a.stop();
      assert.equal(code, 0);
      assert.ok(ms < 1000, `${ms} ms`);
      assert.doesNotMatch((await s.lab.execOk('director', ['nft', 'list', 'tables'])).stdout, /vipcheck_agent/);
      const listening = (await s.lab.execOk('director', ['ss', '-Hltn'])).stdout;
      assert.equal(listening.trim(), '', `sockets left: ${listening}`);
      for (const rs of [s.lab.hosts.good, s.lab.hosts.novip, s.lab.hosts.closed]) {
        assert.ok(existsSync(join(files(), `web-${rs.ipv4}.state`)), 'FILE_CHECK files are never deleted');
      }
    });
  },
  {timeoutMs: 60_000},
);
