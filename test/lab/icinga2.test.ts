/**
 * vipcheck under a real Icinga 2 (Debian's icinga2-bin): the generated CheckCommands
 * (contrib/icinga2/vipcheck.conf) and docs/monitoring.md's "## Icinga 2" objects run unchanged in an Icinga inside
 * the director's namespace, as nagios through the Nagios section's sudoers rule. Every assertion reads Icinga's
 * own view through its REST API: state, output, perfdata and the command line it ran, for an OK and a CRITICAL
 * real server.
 *
 * Then passive results: `vipcheck agent` posts its results to Icinga's API for services whose active checks are
 * off. It starts before its ApiUser exists, so its first deliveries fail (401) and are retried; once the user is
 * created (through the API, at run time) Icinga shows the VIP-path state of both real servers, and of one that
 * loses its VIP.
 */
import assert from 'node:assert/strict';
import {join} from 'node:path';
import {describeLab, REPO_ROOT} from './harness.js';
import {AgentProcess, passiveAgentConfig} from '../support/agent-process.js';
import {docBlocks} from '../support/nagios-process.js';
import {IcingaProcess, type IcingaService} from '../support/icinga-process.js';

const COMMANDS = join(REPO_ROOT, 'contrib/icinga2/vipcheck.conf');
const PASSIVE = 'web (agent)';
/** Services only the agent reports: no active checks, so Icinga never runs their (built-in) command. */
const PASSIVE_SERVICES = ['rs1', 'rs2']
  .map((host) => `object Service "${PASSIVE}" {\n  host_name = "${host}"\n  check_command = "dummy"\n  enable_active_checks = false\n  max_check_attempts = 1\n}\n`)
  .join('');
const AGENT_USER = {user: 'vipcheck-agent', password: 'vipcheck-agent-secret'};

describeLab(
  'vipcheck under a real Icinga 2, as docs/monitoring.md sets it up',
  (s) => {
    let icinga: IcingaProcess | undefined;
    const checked = (x: IcingaService) => x.attrs.last_check_result !== null;

    before(async function () {
      this.timeout(90_000);
      const [sudoersBlock] = docBlocks('docs/monitoring.md', 'Nagios');
      const [objects] = docBlocks('docs/monitoring.md', 'Icinga 2');
      assert.ok(sudoersBlock && objects);
      const rs1 = /object Host "rs1" \{[^}]*\}/.exec(objects)?.[0];
      assert.ok(rs1 && rs1.includes(`address = "${s.lab.hosts.good.ipv4}"`), 'the docs show rs1, the good real server');
      // rs2, a real server without the VIP, is rs1's copy with its own address.
      const rs2 = rs1.replaceAll('rs1', 'rs2').replace(s.lab.hosts.good.ipv4, s.lab.hosts.novip.ipv4);
      icinga = await IcingaProcess.start(s.lab, 'director', {
        objects: `include "${COMMANDS}"\n${objects}\n${rs2}\n${PASSIVE_SERVICES}`,
        sudoers: sudoersBlock.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')),
      });
      // The documented services check every 5 minutes (Icinga's default): ask for the first checks now.
      const r = await icinga.request('POST', '/v1/actions/reschedule-check', {type: 'Service', filter: 'match("vip-*", service.name)', force: true});
      assert.equal(r.code, 200, JSON.stringify(r.body));
    });

    after(async () => {
      await icinga?.stop();
    });

    // Icinga keeps the space before the `|` at the end of the first line of its output.
    it('shows a real server with the VIP as OK, run with the flags the custom variables give', async () => {
      const i = icinga!;
      const tcp = await i.serviceUntil('rs1', 'vip-tcp', checked, 30_000, 'checked');
      const result = tcp.attrs.last_check_result!;
      assert.equal(tcp.attrs.state, 0, JSON.stringify(result));
      assert.equal(result.exit_status, 0);
      assert.match(result.output, /^VIPCHECK TCP OK - 198\.51\.100\.100:80 answered via 198\.51\.100\.11 \(02:00:00:00:00:11\) in [\d.]+ ms \npath: VIP path on eth0 \(role auto: 198\.51\.100\.100 is local \(master\)\)$/);
      assert.equal(result.performance_data.length, 1, JSON.stringify(result.performance_data));
      assert.match(result.performance_data[0]!, /^time=[\d.]+s;0\.1;0\.5;0;8$/);
      // set_if: --clean-close from a boolean; vipcheck_rs from the host's address.
      assert.deepEqual(result.command, [
        '/usr/bin/sudo', '/usr/local/bin/vipcheck', 'tcp', '--clean-close', '--critical', '0.5', '--port', '80', '--role', 'auto',
        '--rs', '198.51.100.11', '--vip', '198.51.100.100', '--warning', '0.1',
      ]);
      const http = await i.serviceUntil('rs1', 'vip-http', checked, 30_000, 'checked');
      assert.equal(http.attrs.state, 0, JSON.stringify(http.attrs.last_check_result));
      assert.match(http.attrs.last_check_result!.output, /^VIPCHECK HTTP OK - HTTP\/1\.[01] 200 OK, \d+ B in [\d.]+ s via 198\.51\.100\.11 \(02:00:00:00:00:11\) \n/);
      // repeat_key: one --header per element of the array.
      const command = http.attrs.last_check_result!.command!.join(' ');
      assert.match(command, /--header X-Check: vipcheck --header Accept: text\/html/);
    });

    it('shows a real server without the VIP as CRITICAL with vipcheck\'s own words', async () => {
      const i = icinga!;
      const tcp = await i.serviceUntil('rs2', 'vip-tcp', checked, 40_000, 'checked');
      const result = tcp.attrs.last_check_result!;
      assert.equal(tcp.attrs.state, 2, JSON.stringify(result));
      assert.match(
        result.output,
        /^VIPCHECK TCP CRITICAL - no answer from 198\.51\.100\.100:80 via 198\.51\.100\.12 \(02:00:00:00:00:12\) within 8 s to \d+ SYNs \(is the VIP configured on the real server's loopback\?\) \n/,
      );
      assert.deepEqual(result.performance_data, ['time=U;0.1;0.5;0;8']);
    });

    it('gets passive results from the agent through the API: retried until its ApiUser exists, then each state change', async function () {
      this.timeout(90_000);
      const i = icinga!;
      const agent = await AgentProcess.start(
        s.lab,
        'director',
        passiveAgentConfig(s.lab, 'icinga', `{url: 'https://127.0.0.1:5665', user: ${AGENT_USER.user}, password: ${AGENT_USER.password}, ca-file: ${i.caFile}}`, PASSIVE),
      );
      try {
        const counter = async (name: string) => (await agent.metrics()).find((m) => m.name === name && m.labels['target'] === 'icinga')?.value ?? 0;
        await agent.until(async () => (await counter('vipcheck_passive_failures_total')) >= 2, 10_000, 'failed deliveries without an ApiUser');
        await agent.waitForLog(/passive results to icinga: cannot deliver to https:\/\/127\.0\.0\.1:5665\/v1\/actions\/process-check-result: HTTP 401/);
        assert.equal(await counter('vipcheck_passive_results_total'), 0);
        const created = await i.request('PUT', `/v1/objects/apiusers/${AGENT_USER.user}`, {attrs: {password: AGENT_USER.password, permissions: ['actions/process-check-result']}});
        assert.equal(created.code, 200, JSON.stringify(created.body));

        const passive = (x: IcingaService) => x.attrs.last_check_result?.active === false;
        const ok = await i.serviceUntil('rs1', PASSIVE, passive, 40_000, 'a passive result');
        const result = ok.attrs.last_check_result!;
        assert.equal(ok.attrs.state, 0, JSON.stringify(result));
        assert.match(result.output, /^VIPCHECK TCP OK - 198\.51\.100\.100:80 answered via 198\.51\.100\.11 \(02:00:00:00:00:11\) in [\d.]+ ms\npath: VIP path on eth0 \(no role given\)$/);
        assert.equal(result.performance_data.length, 1);
        assert.match(result.performance_data[0]!, /^time=[\d.]+s;;;0;0\.4$/);
        assert.match(result.check_source, /^vipcheck agent on /);
        const critical = await i.serviceUntil('rs2', PASSIVE, passive, 10_000, 'a passive result');
        assert.equal(critical.attrs.state, 2, JSON.stringify(critical.attrs.last_check_result));
        assert.match(critical.attrs.last_check_result!.output, /^VIPCHECK TCP CRITICAL - no answer from 198\.51\.100\.100:80 via 198\.51\.100\.12 .* within 0\.4 s/);
        assert.deepEqual(critical.attrs.last_check_result!.performance_data, ['time=U;;;0;0.4']);
        await agent.waitForLog(/passive results to icinga: delivered again after \d+ failed attempts/);

        await s.lab.execOk('good', ['ip', 'addr', 'del', `${s.lab.vip4}/32`, 'dev', 'lo']);
        try {
          const down = await i.serviceUntil('rs1', PASSIVE, (x) => x.attrs.state === 2, 10_000, 'CRITICAL without its VIP');
          assert.match(down.attrs.last_check_result!.output, /^VIPCHECK TCP CRITICAL - no answer from 198\.51\.100\.100:80 via 198\.51\.100\.11 /);
        } finally {
          await s.lab.execOk('good', ['ip', 'addr', 'add', `${s.lab.vip4}/32`, 'dev', 'lo']);
        }
        await i.serviceUntil('rs1', PASSIVE, (x) => x.attrs.state === 0, 10_000, 'OK with its VIP back');
        // rs1: first probe, up, down, up; rs2: first probe. Nothing more with every-probe off.
        await agent.until(async () => (await counter('vipcheck_passive_results_total')) >= 5, 3_000, 'the last delivery counted');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        assert.equal(await counter('vipcheck_passive_results_total'), 5);
      } finally {
        await agent.stop();
      }
    });
  },
  {timeoutMs: 60_000},
);
