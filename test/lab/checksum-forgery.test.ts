/**
 * A third host on the segment forges a check's TCP data: while `http --digest` fetches 1 MiB through the VIP
 * path, the client namespace (promiscuous, the bridge flooding like a hub) sends, for every data segment it
 * sees, a copy of the flow's next bytes with a mutated payload and a wrong checksum. The real server's own
 * segments reach the director over veth flagged CSUMNOTREADY by the kernel; the forgeries carry no flag, so the
 * checksum gate verifies them, drops them and counts them (-vv). Every run must keep the right digest.
 */
import assert from 'node:assert/strict';
import type {ChildProcess} from 'node:child_process';
import {once} from 'node:events';
import {fileURLToPath} from 'node:url';
import {describeLab, runVipcheck} from './harness.js';
import {FIXTURE_PORTS, fixtureBodyMd5, startFixtureServers} from '../support/lab-services.js';

const FORGER = fileURLToPath(new URL('../support/servers/forge-segments.py', import.meta.url));
const MIB = 1024 * 1024;

describeLab(
  'the checksum gate against forged segments on the segment',
  (s) => {
    let forger: ChildProcess | undefined;
    let forgerOutput = '';

    before(async function () {
      await startFixtureServers(s.lab, 'good');
      // ageing_time 0: the bridge learns no address and floods every frame to every port, as a hub would,
      // so the client sees the real server's unicast to the director. The lab (and the forger with it) is
      // destroyed after the block.
      await s.lab.execOk('switch', ['ip', 'link', 'set', 'br0', 'type', 'bridge', 'ageing_time', '0']);
      forger = s.lab.spawn('client', ['python3', FORGER, 'eth0', s.lab.vip4, String(FIXTURE_PORTS.http)]);
      forger.stdout!.setEncoding('utf8').on('data', (chunk: string) => (forgerOutput += chunk));
      forger.stderr!.setEncoding('utf8').on('data', (chunk: string) => (forgerOutput += chunk));
      const deadline = Date.now() + 10_000;
      while (!forgerOutput.includes('ready')) {
        if (Date.now() > deadline || forger.exitCode !== null) throw new Error(`the forger did not start: ${forgerOutput}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });

    it('keeps the right digest of 1 MiB in every run, and -vv counts the forgeries it dropped', async () => {
      const md5 = fixtureBodyMd5(MIB);
      const args = ['http', '--vip', s.lab.vip4, '--rs', s.lab.hosts.good.ipv4, '--port', String(FIXTURE_PORTS.http)];
      const dropped: number[] = [];
      for (let run = 0; run < 5; run++) {
        const result = await runVipcheck(s.lab, 'director', [...args, '-u', `/chunked?bytes=${MIB}`, '--digest', md5, '-vv']);
        assert.equal(result.code, 0, result.stdout + result.stderr);
        assert.match(result.stdout.split('\n')[0]!, /^VIPCHECK HTTP OK - /);
        const line = /^checksums on eth0: (\d+) left to the kernel \(veth\/local\), (\d+) verified by the device, (\d+) verified here; (\d+) frame\(s\) dropped \(bad TCP checksum (\d+)\)$/m.exec(result.stdout);
        assert.ok(line, `no drop count at -vv in:\n${result.stdout}`);
        assert.ok(Number(line[1]) > 0, 'the real server\'s segments arrive flagged CSUMNOTREADY over veth');
        assert.equal(line[4], line[5], 'only bad TCP checksums were dropped');
        dropped.push(Number(line[4]));
      }
      assert.ok(dropped.every((count) => count > 0), `dropped per run: ${dropped.join(', ')}`);
      forger!.kill('SIGTERM');
      await once(forger!, 'exit');
      const forged = Number(/forged (\d+)/.exec(forgerOutput)?.[1] ?? 0);
      // The director's capture only ever sees forgeries for its own flow; each one it saw it dropped.
      assert.ok(forged >= dropped.reduce((a, b) => a + b, 0), `forged ${forged}, dropped ${dropped.join(', ')}`);
      if (process.env.LAB_FIGURES) console.log(`      [figures] forged ${forged}; dropped per run: ${dropped.join(', ')}`);
    });
  },
  {timeoutMs: 90_000},
);
