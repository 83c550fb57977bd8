/**
 * vipcheck under a real Nagios Core 4 (Debian's nagios4-core), set up as docs/monitoring.md says: the "## Nagios"
 * section's sudoers rule and object definitions are read from the docs and run unchanged, in a Nagios inside the
 * director's namespace that runs its checks as nagios through sudo. Every assertion reads Nagios's own view, its
 * status.dat: state, plugin output, perfdata and long output of an OK and a CRITICAL real server.
 *
 * Then passive results: `vipcheck agent` writes into a second Nagios's command file, for services whose active
 * checks are off (their check_command is /bin/false: Nagios never spawns anything for them). The agent starts
 * before that Nagios, so its first deliveries fail and are retried; Nagios then shows the VIP-path state of both
 * real servers, and of one that loses its VIP.
 */
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {describeLab} from './harness.js';
import {AgentProcess, passiveAgentConfig} from '../support/agent-process.js';
import {docBlocks, NagiosProcess, type StatusBlock} from '../support/nagios-process.js';

/** The documented blocks: the sudoers rule, then the command and service definitions. */
function documentedNagios(): {sudoers: string[]; objects: string} {
  const [sudoers, objects] = docBlocks('docs/monitoring.md', 'Nagios');
  assert.ok(sudoers && objects, 'docs/monitoring.md shows a sudoers block and an object block under "## Nagios"');
  return {sudoers: sudoers.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')), objects};
}

describeLab(
  'vipcheck under a real Nagios 4, as docs/monitoring.md sets it up',
  (s) => {
    let nagios: NagiosProcess | undefined;
    const TCP = 'VIP 198.51.100.100:80 via';
    const HTTP = 'HTTP 198.51.100.100:80 via';
    const checked = (b: StatusBlock) => b['has_been_checked'] === '1';

    before(async () => {
      const {good, novip, director} = s.lab.hosts;
      const doc = documentedNagios();
      // The documented services are rs1's; rs2, a real server without the VIP, gets the same ones.
      const rs1Services = [...doc.objects.matchAll(/define service \{[^}]*host_name\s+rs1\b[^}]*\}/g)].map((m) => m[0]);
      assert.equal(rs1Services.length, 2, 'the docs show a tcp and an http service for rs1');
      const rs2Services = rs1Services.map((block) => block.replaceAll('rs1', 'rs2')).join('\n');
      const hosts = [
        ['rs1', good.ipv4],
        ['rs2', novip.ipv4],
        ['director1', director.ipv4],
      ]
        .map(([name, address]) => `define host {\n    use generic-host\n    host_name ${name}\n    address ${address}\n}\n`)
        .join('');
      nagios = await NagiosProcess.start(s.lab, 'director', 'nagios', {objects: `${hosts}${doc.objects}${rs2Services}\n`, sudoers: doc.sudoers});
    });

    after(async () => {
      await nagios?.stop();
    });

    it('shows a real server with the VIP as OK, with perfdata and long output, from a check run as nagios via sudo', async () => {
      const n = nagios!;
      const tcp = await n.service(`rs1/${TCP} rs1`, checked, 30_000, 'checked');
      assert.equal(tcp['current_state'], '0', n.logs());
      assert.equal(tcp['check_type'], '0', 'an active check');
      assert.match(tcp['plugin_output']!, /^VIPCHECK TCP OK - 198\.51\.100\.100:80 answered via 198\.51\.100\.11 \(02:00:00:00:00:11\) in [\d.]+ ms$/);
      assert.match(tcp['performance_data']!, /^time=[\d.]+s;0\.1;0\.5;0;8$/);
      assert.equal(tcp['long_plugin_output'], 'path: VIP path on eth0 (role auto: 198.51.100.100 is local (master))');
      const http = await n.service(`rs1/${HTTP} rs1`, checked, 30_000, 'checked');
      assert.equal(http['current_state'], '0', JSON.stringify(http));
      assert.match(http['plugin_output']!, /^VIPCHECK HTTP OK - HTTP\/1\.[01] 200 OK, \d+ B in [\d.]+ s via 198\.51\.100\.11 \(02:00:00:00:00:11\)$/);
      assert.match(http['performance_data']!, /^time=[\d.]+s;;;0;8 size=\d+B;;;0$/);
      assert.equal(http['long_plugin_output'], 'path: VIP path to 198.51.100.100:80 on eth0 (role auto: 198.51.100.100 is local (master))');
    });

    it('shows a real server without the VIP as CRITICAL with vipcheck\'s own words', async () => {
      const n = nagios!;
      const tcp = await n.service(`rs2/${TCP} rs2`, checked, 40_000, 'checked');
      assert.equal(tcp['current_state'], '2', JSON.stringify(tcp));
      assert.match(
        tcp['plugin_output']!,
        /^VIPCHECK TCP CRITICAL - no answer from 198\.51\.100\.100:80 via 198\.51\.100\.12 \(02:00:00:00:00:12\) within 8 s to \d+ SYNs \(is the VIP configured on the real server's loopback\?\)$/,
      );
      assert.equal(tcp['performance_data'], 'time=U;0.1;0.5;0;8');
      const http = await n.service(`rs2/${HTTP} rs2`, checked, 40_000, 'checked');
      assert.equal(http['current_state'], '2', JSON.stringify(http));
      assert.match(http['plugin_output']!, /^VIPCHECK HTTP CRITICAL - .*198\.51\.100\.12/);
    });

    it('shows the director\'s ARP audit as OK', async () => {
      const n = nagios!;
      const audit = await n.service('director1/ARP audit 198.51.100.100', checked, 30_000, 'checked');
      assert.equal(audit['current_state'], '0', JSON.stringify(audit));
      assert.match(audit['plugin_output']!, /^VIPCHECK ARP-AUDIT OK - 198\.51\.100\.100: no ARP faults/);
      assert.match(audit['performance_data']!, /^responders=0;;;0 findings=0;;;0$/);
    });

    it('gets passive results from the agent for services it never runs: retried until Nagios reads, then each state change', async function () {
      this.timeout(90_000);
      const {good, novip} = s.lab.hosts;
      const dir = `${s.lab.tmpDir}/nagios-passive`;
      const commandFile = `${dir}/var/rw/nagios.cmd`;
      let agent: AgentProcess | undefined;
      let passive: NagiosProcess | undefined;
      try {
        agent = await AgentProcess.start(s.lab, 'director', passiveAgentConfig(s.lab, 'nagios', `{command-file: ${commandFile}}`, `VIP ${s.lab.vip4}:80 (agent)`));
        const a = agent;
        const counter = async (name: string) => (await a.metrics()).find((m) => m.name === name && m.labels['target'] === 'nagios')?.value;
        await a.until(async () => ((await counter('vipcheck_passive_failures_total')) ?? 0) >= 2, 10_000, 'failed deliveries while Nagios is not running');
        assert.equal(await counter('vipcheck_passive_results_total'), 0);
        await a.waitForLog(/passive results to nagios: cannot deliver to .*nagios\.cmd: ENOENT/);
        const objects = ['rs1', 'rs2']
          .map(
            (host, i) => `define host {\n    use generic-host\n    host_name ${host}\n    address ${[good, novip][i]!.ipv4}\n}
define service {
    use                     generic-service
    host_name               ${host}
    service_description     VIP ${s.lab.vip4}:80 (agent)
    check_command           never-run
    active_checks_enabled   0
    passive_checks_enabled  1
}
`,
          )
          .join('');
        passive = await NagiosProcess.start(s.lab, 'director', 'nagios-passive', {
          objects: `define command {\n    command_name never-run\n    command_line /bin/false\n}\n${objects}`,
          sudoers: [],
        });
        assert.equal(passive.commandFile, commandFile);
        const n = passive;
        const key = (host: string) => `${host}/VIP ${s.lab.vip4}:80 (agent)`;
        const ok = await n.service(key('rs1'), (b) => b['has_been_checked'] === '1', 40_000, 'a passive result');
        assert.equal(ok['check_type'], '1', 'a passive result');
        assert.equal(ok['current_state'], '0', JSON.stringify(ok));
        assert.match(ok['plugin_output']!, /^VIPCHECK TCP OK - 198\.51\.100\.100:80 answered via 198\.51\.100\.11 \(02:00:00:00:00:11\) in [\d.]+ ms$/);
        assert.match(ok['performance_data']!, /^time=[\d.]+s;;;0;0\.4$/);
        assert.equal(ok['long_plugin_output'], 'path: VIP path on eth0 (no role given)');
        const critical = await n.service(key('rs2'), (b) => b['has_been_checked'] === '1', 10_000, 'a passive result');
        assert.equal(critical['current_state'], '2', JSON.stringify(critical));
        assert.match(critical['plugin_output']!, /^VIPCHECK TCP CRITICAL - no answer from 198\.51\.100\.100:80 via 198\.51\.100\.12 \(02:00:00:00:00:12\) within 0\.4 s/);
        assert.equal(critical['performance_data'], 'time=U;;;0;0.4');
        await a.waitForLog(/passive results to nagios: delivered again after \d+ failed attempts/);

        // The good server loses its VIP: Nagios shows CRITICAL, then OK again once it is back.
        await s.lab.execOk('good', ['ip', 'addr', 'del', `${s.lab.vip4}/32`, 'dev', 'lo']);
        try {
          const down = await n.service(key('rs1'), (b) => b['current_state'] === '2', 10_000, 'CRITICAL without its VIP');
          assert.match(down['plugin_output']!, /^VIPCHECK TCP CRITICAL - no answer from 198\.51\.100\.100:80 via 198\.51\.100\.11 /);
        } finally {
          await s.lab.execOk('good', ['ip', 'addr', 'add', `${s.lab.vip4}/32`, 'dev', 'lo']);
        }
        await n.service(key('rs1'), (b) => b['current_state'] === '0', 10_000, 'OK with its VIP back');
        // Results, not probes: the first probe, then up, down and up again for rs1 (every-probe is off). Nagios
        // 4.4's PASSIVE SERVICE CHECK log line shows the output before the result, so count the commands.
        const log = readFileSync(n.logFile, 'utf8');
        const rs1Results = log.split('\n').filter((l) => l.includes(`EXTERNAL COMMAND: PROCESS_SERVICE_CHECK_RESULT;rs1;VIP ${s.lab.vip4}:80 (agent);`));
        assert.deepEqual(rs1Results.map((l) => l.split(';')[3]), ['0', '0', '2', '0'], log);
        assert.doesNotMatch(log, /never-run|Warning: Return code/);
        assert.ok(((await counter('vipcheck_passive_results_total')) ?? 0) >= 4);
      } finally {
        await agent?.stop();
        await passive?.stop();
      }
    });

    it("left the machine's own sudoers and /usr/local/bin alone (the mounts are Nagios's private ones)", () => {
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
      assert.ok(!mounts.includes(nagios!.dir), 'no mount of the test directory here');
      assert.ok(!mounts.includes('vipcheck-bin'), 'no tmpfs over /usr/local/bin here');
    });
  },
  {timeoutMs: 60_000},
);
