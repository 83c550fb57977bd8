/**
 * A real Prometheus (Debian's prometheus) scraping `vipcheck agent`, with docs/monitoring.md's "## Prometheus"
 * configuration and the shipped rules (contrib/prometheus/vipcheck-rules.yml): the agent runs on the director,
 * Prometheus on the client, a host of the segment, as a monitoring server would. Every assertion reads
 * Prometheus's own view through its HTTP API: `vipcheck_up` and the alerts, before, during and after a real
 * server loses its VIP.
 */
import assert from 'node:assert/strict';
import type {ChildProcess} from 'node:child_process';
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {parse, stringify} from 'yaml';
import {runOk, sleep, Tail, waitForExit} from '../../src/lab/proc.js';
import {describeLab, REPO_ROOT} from './harness.js';
import {AgentProcess} from '../support/agent-process.js';
import {docBlocks} from '../support/nagios-process.js';

const PROMETHEUS = '/usr/bin/prometheus';
const RULES = join(REPO_ROOT, 'contrib/prometheus/vipcheck-rules.yml');
const AGENT_PORT = 9470;

describeLab(
  'a real Prometheus scraping the agent, as docs/monitoring.md sets it up',
  (s) => {
    let agent: AgentProcess | undefined;
    let prometheus: ChildProcess | undefined;
    const output = new Tail(8192);

    /** A Prometheus HTTP API call from the client namespace; the `data` of a successful answer. */
    const api = async <T>(path: string): Promise<T> => {
      const r = await s.lab.execOk('client', ['curl', '-sS', '--fail', '--max-time', '3', `http://127.0.0.1:9090${path}`]);
      const body = JSON.parse(r.stdout) as {status: string; data: T};
      assert.equal(body.status, 'success', r.stdout);
      return body.data;
    };
    /** Prometheus's value of vipcheck_up for the good real server, or undefined while it has none. */
    const upOfGood = async (): Promise<string | undefined> => {
      const query = encodeURIComponent(`vipcheck_up{service="web",rs="${s.lab.hosts.good.ipv4}"}`);
      const data = await api<{result: Array<{value: [number, string]}>}>(`/api/v1/query?query=${query}`);
      return data.result[0]?.value[1];
    };
    const until = async (condition: () => Promise<boolean>, timeoutMs: number, what: string) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await condition())) {
        if (prometheus && prometheus.exitCode !== null) throw new Error(`prometheus exited: ${output.toString()}`);
        if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}\nprometheus: ${output.toString().slice(-2000)}`);
        await sleep(250);
      }
    };

    before(async () => {
      const {good, novip, director} = s.lab.hosts;
      agent = await AgentProcess.start(
        s.lab,
        'director',
        `listen: ${director.ipv4}:${AGENT_PORT}
defaults: {interval: 0.3, timeout: 0.25, rise: 2, fall: 2}
services:
  - name: web
    vip: ${s.lab.vip4}
    port: 80
    check: tcp
    real-servers: [${good.ipv4}, ${novip.ipv4}]
`,
        AGENT_PORT,
      );
      // The documented configuration, with the lab's rules path and a 1 s scrape and evaluation interval.
      const [documented] = docBlocks('docs/monitoring.md', 'Prometheus');
      const config = parse(documented!) as {rule_files: string[]; scrape_configs: Array<{static_configs: Array<{targets: string[]}>}>};
      assert.deepEqual(config.scrape_configs[0]!.static_configs[0]!.targets, [`${director.ipv4}:${AGENT_PORT}`], 'the docs scrape the lab director');
      config.rule_files = [RULES];
      const dir = join(s.lab.tmpDir, 'prometheus');
      mkdirSync(join(dir, 'data'), {recursive: true});
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, stringify({global: {scrape_interval: '1s', evaluation_interval: '1s'}, ...config}));
      await runOk(['promtool', 'check', 'config', file]);
      prometheus = s.lab.spawn('client', [
        PROMETHEUS,
        `--config.file=${file}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        '--web.listen-address=127.0.0.1:9090',
      ]);
      prometheus.stdout?.setEncoding('utf8').on('data', (t: string) => output.push(t));
      prometheus.stderr?.setEncoding('utf8').on('data', (t: string) => output.push(t));
      await until(async () => (await s.lab.exec('client', ['curl', '-sf', 'http://127.0.0.1:9090/-/ready'])).code === 0, 30_000, 'Prometheus ready');
    });

    after(async () => {
      if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
        prometheus.kill('SIGTERM');
        if (!(await waitForExit(prometheus, 5_000))) prometheus.kill('SIGKILL');
      }
      await agent?.stop();
    });

    it('accepts the shipped rules (promtool check rules) and loads all of them', async () => {
      const r = await runOk(['promtool', 'check', 'rules', RULES]);
      assert.match(r.stdout, /SUCCESS: 6 rules found/);
      const rules = await api<{groups: Array<{name: string; rules: Array<{name: string; health: string}>}>}>('/api/v1/rules');
      const loaded = rules.groups.flatMap((g) => g.rules.map((x) => `${x.name}:${x.health}`));
      assert.equal(loaded.length, 6, loaded.join(' '));
    });

    it("sees vipcheck_up go 0 when a real server loses its VIP, the alert turn pending, and both recover", async function () {
      this.timeout(90_000);
      const {good, novip} = s.lab.hosts;
      await until(async () => (await upOfGood()) === '1', 20_000, 'Prometheus sees the good real server up');
      const targets = await api<{activeTargets: Array<{health: string; labels: Record<string, string>}>}>('/api/v1/targets');
      assert.deepEqual(targets.activeTargets.map((t) => [t.labels['job'], t.health]), [['vipcheck', 'up']]);
      const novipUp = await api<{result: Array<{value: [number, string]}>}>(`/api/v1/query?query=${encodeURIComponent(`vipcheck_up{rs="${novip.ipv4}"}`)}`);
      assert.equal(novipUp.result[0]?.value[1], '0', 'the real server without the VIP is down in Prometheus too');
      const alertsFor = async (rs: string) =>
        (await api<{alerts: Array<{labels: Record<string, string>; state: string}>}>('/api/v1/alerts')).alerts.filter(
          (a) => a.labels['alertname'] === 'VipcheckRealServerDown' && a.labels['rs'] === rs,
        );
      assert.deepEqual((await alertsFor(good.ipv4)).length, 0);

      await s.lab.execOk('good', ['ip', 'addr', 'del', `${s.lab.vip4}/32`, 'dev', 'lo']);
      try {
        await until(async () => (await upOfGood()) === '0', 15_000, 'Prometheus sees the good real server down without its VIP');
        await until(async () => (await alertsFor(good.ipv4)).some((a) => a.state === 'pending'), 15_000, 'VipcheckRealServerDown pending');
      } finally {
        await s.lab.execOk('good', ['ip', 'addr', 'add', `${s.lab.vip4}/32`, 'dev', 'lo']);
      }
      await until(async () => (await upOfGood()) === '1', 15_000, 'Prometheus sees it up again');
      await until(async () => (await alertsFor(good.ipv4)).length === 0, 15_000, 'the alert gone');
    });
  },
  {timeoutMs: 60_000},
);
