/**
 * vipcheck under a real Icinga 2 (Debian's icinga2-bin): the generated CheckCommands
 * (contrib/icinga2/vipcheck.conf) and docs/monitoring.md's "## Icinga 2" objects run unchanged in an Icinga inside
 * the director's namespace, as nagios through the Nagios section's sudoers rule. Every assertion reads Icinga's
 * own view through its REST API: state, output, perfdata and the command line it ran, for an OK and a CRITICAL
 * real server.
 */
import assert from 'node:assert/strict';
import {join} from 'node:path';
import {describeLab, REPO_ROOT} from './harness.js';
import {docBlocks} from '../support/nagios-process.js';
import {IcingaProcess, type IcingaService} from '../support/icinga-process.js';

const COMMANDS = join(REPO_ROOT, 'contrib/icinga2/vipcheck.conf');

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
      assert.ok(rs1?.includes(`address = "${s.lab.hosts.good.ipv4}"`), 'the docs show rs1, the good real server');
      // rs2, a real server without the VIP, is rs1's copy with its own address.
      const rs2 = rs1.replaceAll('rs1', 'rs2').replace(s.lab.hosts.good.ipv4, s.lab.hosts.novip.ipv4);
      icinga = await IcingaProcess.start(s.lab, 'director', {
        objects: `include "${COMMANDS}"\n${objects}\n${rs2}\n`,
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
  },
  {timeoutMs: 60_000},
);
