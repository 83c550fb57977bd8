/**
 * `vipcheck arp-audit` against real kernels in the namespace lab: the faults of seed 003 injected through the
 * real sysctls (always restored), detected from the client, the director and the backup; the healthy lab OK in
 * every mode; --local inside each real server; and proof that the audit plants nothing in the peers' caches.
 */
import assert from 'node:assert/strict';
import type {Lab, NsRef} from '../../src/lab/lab.js';
import {describeLab, runVipcheck, runVipcheckJson, type VipcheckRun} from './harness.js';

interface FindingJson {
  id: string;
  severity: string;
  message: string;
  mac: string | null;
  ip: string | null;
  fix: string | null;
}

interface AuditJson {
  status: string;
  code: number;
  summary: string;
  findings: FindingJson[];
  active?: {probes: number; responders: {mac: string; realServer: string | null; rounds: number[]; firstMs: number; expected: boolean | null}[]; firstForeign: {ms: number; round: number} | null};
  passive?: {claims: number; senders: {mac: string; realServer: string | null; firstMs: number; expected: boolean | null}[]};
  local?: {role: string};
  realServers: {ip: string; macs: string[]}[];
}

interface Audit {
  run: VipcheckRun;
  json: AuditJson;
  ids: string[];
}

const FIRST_LINE = /^VIPCHECK ARP-AUDIT (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| [^|\n]+)?$/;

/** Figures for the report, printed once at the end. */
const figures: string[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeLab(
  'arp-audit in the lab',
  (s) => {
    const lab = (): Lab => s.lab;
    const host = (name: 'director' | 'backup' | 'good' | 'novip' | 'closed' | 'client') => s.lab.hosts[name];
    const rsFlags = () => s.lab.realServers.flatMap((r) => ['--rs', r.ipv4]);

    async function audit(ns: NsRef, ...args: string[]): Promise<Audit> {
      const {run, json} = await runVipcheckJson<AuditJson>(lab(), ns, ['arp-audit', '--vip', lab().vip4, ...args]);
      return {run, json, ids: json.findings.map((f) => f.id)};
    }

    /** Sets sysctls in a namespace for the duration of fn, then restores the previous values. */
    async function withSysctls<T>(ns: NsRef, settings: Record<string, number>, fn: () => Promise<T>): Promise<T> {
      const saved: Record<string, string> = {};
      for (const key of Object.keys(settings)) saved[key] = await lab().getSysctl(ns, key);
      try {
        for (const [key, value] of Object.entries(settings)) await lab().setSysctl(ns, key, value);
        return await fn();
      } finally {
        for (const [key, value] of Object.entries(saved)) await lab().setSysctl(ns, key, value);
      }
    }

    const both = (key: string, value: number) => ({[`net.ipv4.conf.all.${key}`]: value, [`net.ipv4.conf.eth0.${key}`]: value});

    after(() => {
      if (figures.length > 0) console.log(`      arp-audit lab figures:\n${figures.map((f) => `        ${f}`).join('\n')}`);
    });

    it('is OK on the healthy lab in active mode, from a client and from the director itself', async () => {
      const client = await audit('client', '--expect-mac', host('director').mac, ...rsFlags());
      assert.equal(client.run.code, 0, client.run.stdout);
      assert.equal(client.json.status, 'OK');
      assert.deepEqual(client.ids, []);
      assert.deepEqual(client.json.active!.responders.map((r) => [r.mac, r.rounds, r.expected]), [[host('director').mac, [1, 2, 3], true]]);
      assert.deepEqual(
        client.json.realServers.map((r) => [r.ip, r.macs]),
        s.lab.realServers.map((r) => [r.ipv4, [r.mac]]),
      );
      figures.push(`healthy active audit from client: ${client.run.ms} ms wall clock (3 probes x 0.5 s), director answered after ${client.json.active!.responders[0]!.firstMs} ms`);
      // The director holds the VIP: it never hears its own answer, so nobody answering is right.
      const director = await audit('director', ...rsFlags());
      assert.equal(director.run.code, 0, director.run.stdout);
      assert.deepEqual(director.json.active!.responders, []);
      // Nagios text: one first line in the plugin format.
      const text = await runVipcheck(lab(), 'client', ['arp-audit', '--vip', lab().vip4, '--expect-mac', host('director').mac]);
      assert.match(text.stdout.split('\n')[0]!, FIRST_LINE);
      assert.match(text.stdout, /^VIPCHECK ARP-AUDIT OK - 198\.51\.100\.100: no ARP faults \(02:00:00:00:00:02 answered 3 probes on eth0\) \| responders=1;;;0 findings=0;;;0\n$/);
    });

    it('is OK on the healthy lab in passive and local modes, and all combined', async () => {
      // The client's kernel resolves the VIP while we listen: the director's reply is the one expected claim.
      const listening = audit('client', '--listen', '3', '-t', '5', '--expect-mac', host('director').mac, ...rsFlags());
      await sleep(1000);
      await lab().execOk('client', ['ip', 'neigh', 'flush', 'dev', 'eth0']);
      await lab().tcpConnect('client', lab().vip4, 80, {timeoutMs: 1000});
      const passive = await listening;
      assert.equal(passive.run.code, 0, passive.run.stdout);
      assert.ok(passive.json.passive!.claims >= 1, 'saw the director answer for the VIP');
      assert.deepEqual(passive.json.passive!.senders.map((x) => [x.mac, x.expected]), [[host('director').mac, true]]);

      for (const ns of ['director', 'good', 'closed'] as const) {
        const local = await audit(ns, '--local');
        assert.equal(local.run.code, 0, `${ns}: ${local.run.stdout}`);
        assert.equal(local.json.local!.role, ns === 'director' ? 'director' : 'realserver');
      }
      const combined = await audit('director', '--active', '--listen', '1', '--local', ...rsFlags());
      assert.equal(combined.run.code, 0, combined.run.stdout);
      assert.ok(combined.json.active && combined.json.passive && combined.json.local);
    });

    it('names a real server that answers ARP for the VIP (arp_ignore=0): A1 and A2 CRITICAL', async () => {
      await withSysctls('good', both('arp_ignore', 0), async () => {
        const client = await audit('client', '--expect-mac', host('director').mac, ...rsFlags());
        assert.equal(client.run.code, 2, client.run.stdout);
        assert.deepEqual(client.ids, ['A1', 'A2']);
        const a2 = client.json.findings[1]!;
        assert.equal(a2.mac, host('good').mac);
        assert.equal(a2.ip, host('good').ipv4);
        assert.match(a2.message, /\(real server 198\.51\.100\.11, 3\/3 probes\) answers who-has 198\.51\.100\.100/);
        assert.equal(a2.fix, 'on 198.51.100.11: sysctl -w net.ipv4.conf.all.arp_ignore=1');
        const first = client.json.active!.firstForeign!;
        assert.equal(first.round, 1);
        figures.push(`arp_ignore=0 on good, audit from client: detected in probe round ${first.round}, ${first.ms} ms after the first probe; ${client.run.ms} ms wall clock`);

        const director = await audit('director', ...rsFlags());
        assert.equal(director.run.code, 2, director.run.stdout);
        assert.deepEqual(director.ids, ['A1', 'A2']);
        assert.match(director.json.findings[0]!.message, /another MAC answers who-has 198\.51\.100\.100 although this host \(02:00:00:00:00:02\) holds it/);
        figures.push(`same fault, audit from the director: round ${director.json.active!.firstForeign!.round}, ${director.json.active!.firstForeign!.ms} ms`);

        // The real server's own --local sees the cause.
        const local = await audit('good', '--local');
        assert.deepEqual(local.ids, ['A8']);
      });
    });

    it('names a real server that asks with the VIP as sender (arp_announce=0): passive A4 and A5', async () => {
      const good = host('good');
      await withSysctls('good', both('arp_announce', 0), async () => {
        // The client reaches the VIP through good directly (as if the director had forwarded it): good answers
        // from the VIP and must ARP for the client. A static entry keeps the client from ARPing for good first,
        // which would hand good the client's MAC for free.
        await lab().execOk('client', ['ip', 'neigh', 'replace', good.ipv4, 'lladdr', good.mac, 'nud', 'permanent', 'dev', 'eth0']);
        await lab().execOk('client', ['ip', 'route', 'add', `${lab().vip4}/32`, 'via', good.ipv4]);
        try {
          await lab().execOk('good', ['ip', 'neigh', 'flush', 'all']);
          const fromDirector = audit('director', '--listen', '4', '-t', '6', ...rsFlags());
          const fromBackup = audit('backup', '--listen', '4', '-t', '6', '--expect-mac', host('director').mac, ...rsFlags());
          await sleep(1200);
          const triggered = performance.now();
          assert.equal(await lab().tcpConnect('client', lab().vip4, 80, {timeoutMs: 1500}), 'open');
          const connectMs = performance.now() - triggered;
          for (const [who, result] of [['director', await fromDirector], ['backup', await fromBackup]] as const) {
            assert.equal(result.run.code, 2, `${who}: ${result.run.stdout}`);
            assert.deepEqual(result.ids, ['A4', 'A5'], who);
            const [a4, a5] = result.json.findings;
            assert.equal(a4!.mac, good.mac);
            assert.equal(a4!.ip, good.ipv4);
            assert.match(a4!.message, /who-has 198\.51\.100\.50 tell 198\.51\.100\.100/);
            assert.equal(a5!.fix, 'on 198.51.100.11: sysctl -w net.ipv4.conf.all.arp_announce=2');
            assert.equal(result.json.passive!.senders[0]!.realServer, good.ipv4);
          }
          figures.push(`arp_announce=0 on good, passive from director and backup: the one VIP-sourced request during a ${connectMs.toFixed(0)} ms connect was enough (verdict at the end of --listen 4)`);
        } finally {
          await lab().execOk('client', ['ip', 'route', 'del', `${lab().vip4}/32`, 'via', good.ipv4]);
          await lab().execOk('client', ['ip', 'neigh', 'del', good.ipv4, 'dev', 'eth0']);
        }
      });
    });

    it('reports A3 when nobody holds the VIP', async () => {
      await lab().execOk('director', ['ip', 'addr', 'del', `${lab().vip4}/32`, 'dev', 'eth0']);
      try {
        const client = await audit('client', '--expect-mac', host('director').mac, '-t', '2');
        assert.equal(client.run.code, 2, client.run.stdout);
        assert.deepEqual(client.ids, ['A3']);
        assert.ok(client.run.ms < 2500, `took ${client.run.ms} ms for a 2 s deadline`);
      } finally {
        await lab().execOk('director', ['ip', 'addr', 'add', `${lab().vip4}/32`, 'dev', 'eth0']);
      }
    });

    it("--local inside each real server reports exactly that host's faults", async () => {
      assert.deepEqual((await audit('good', '--local')).ids, []);
      assert.deepEqual((await audit('closed', '--local')).ids, []);
      const novip = await audit('novip', '--local');
      assert.equal(novip.run.code, 2, novip.run.stdout);
      assert.deepEqual(novip.ids, ['A10']);
      assert.equal(novip.json.findings[0]!.fix, 'ip addr add 198.51.100.100/32 dev lo');
      // The backup has no VIP: judged as a real server it lacks it, judged as a director it is fine.
      assert.deepEqual((await audit('backup', '--local')).ids, ['A10']);
      assert.deepEqual((await audit('backup', '--local', '--local-role', 'director')).ids, []);

      await withSysctls('closed', {...both('arp_announce', 1), 'net.ipv4.conf.eth0.proxy_arp': 1}, async () => {
        const closed = await audit('closed', '--local');
        assert.equal(closed.run.code, 1, closed.run.stdout);
        assert.deepEqual(closed.ids, ['A9', 'A13']);
        assert.equal(closed.json.findings[1]!.fix, 'sysctl -w net.ipv4.conf.eth0.proxy_arp=0');
        // Neighbours are untouched by another host's fault.
        assert.deepEqual((await audit('good', '--local')).ids, []);
      });
      // The VIP as /24 on lo makes the whole subnet local.
      const vip = lab().vip4;
      await lab().execOk('closed', ['ip', 'addr', 'del', `${vip}/32`, 'dev', 'lo']);
      await lab().execOk('closed', ['ip', 'addr', 'add', `${vip}/24`, 'dev', 'lo']);
      try {
        const wide = await audit('closed', '--local');
        assert.deepEqual(wide.ids, ['A11']);
        assert.equal(wide.json.findings[0]!.fix, `ip addr del ${vip}/24 dev lo && ip addr add ${vip}/32 dev lo`);
      } finally {
        await lab().execOk('closed', ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'lo']);
        await lab().execOk('closed', ['ip', 'addr', 'add', `${vip}/32`, 'dev', 'lo']);
      }
      assert.deepEqual((await audit('closed', '--local')).ids, [], 'closed restored');
      // The director with accept_local on its VIP interface (the RST trap for raw checks).
      await withSysctls('director', {'net.ipv4.conf.eth0.accept_local': 1}, async () => {
        assert.deepEqual((await audit('director', '--local')).ids, ['A14']);
      });
    });

    it("plants nothing in the peers' ARP caches and only broadcasts probes from 0.0.0.0", async () => {
      const client = host('client');
      const peers = ['director', 'backup', 'good', 'novip', 'closed'] as const;
      for (const ns of peers) await lab().execOk(ns, ['ip', '-4', 'neigh', 'flush', 'all']);
      const tcpdump = lab().spawn('director', ['tcpdump', '-i', 'eth0', '-n', '-e', '-l', '-t', `arp and ether src ${client.mac}`]);
      let seen = '';
      let err = '';
      tcpdump.stdout!.setEncoding('utf8').on('data', (t: string) => (seen += t));
      tcpdump.stderr!.setEncoding('utf8').on('data', (t: string) => (err += t));
      const started = Date.now();
      while (!err.includes('listening on')) {
        if (Date.now() - started > 5000) throw new Error(`tcpdump did not start: ${err}`);
        await sleep(20);
      }
      const result = await audit('client', '--expect-mac', host('director').mac, ...rsFlags());
      assert.equal(result.run.code, 0, result.run.stdout);
      await sleep(200);
      tcpdump.kill('SIGTERM');

      const lines = seen.split('\n').filter((l) => l.includes('ARP'));
      const vipProbes = lines.filter((l) => l.includes(`who-has ${lab().vip4} tell 0.0.0.0`));
      assert.equal(vipProbes.length, 3, seen);
      for (const line of lines) {
        assert.match(line, /> ff:ff:ff:ff:ff:ff, .* Request who-has \S+ tell 0\.0\.0\.0/, `only broadcast probes: ${line}`);
      }
      const planted = async () => {
        const found: string[] = [];
        for (const ns of peers) {
          const entries = JSON.parse((await lab().execOk(ns, ['ip', '-j', '-4', 'neigh', 'show'])).stdout) as {dst: string; lladdr?: string}[];
          for (const e of entries) if (e.lladdr === client.mac || e.dst === '0.0.0.0') found.push(`${ns}: ${e.dst} ${e.lladdr ?? ''}`);
        }
        return found;
      };
      assert.deepEqual(await planted(), []);
      // Control: an ordinary request from the client does plant its entry, so the check above can fail.
      await lab().execOk('client', ['ip', '-4', 'neigh', 'flush', 'all']);
      assert.equal(await lab().tcpConnect('client', host('good').ipv4, 80), 'open');
      assert.ok((await planted()).some((e) => e.startsWith('good: 198.51.100.50')), 'the control request was seen');
    });

    it('is UNKNOWN at once for a window that cannot fit in --timeout, and never overruns it', async () => {
      const misfit = await runVipcheck(lab(), 'client', ['arp-audit', '--vip', lab().vip4, '--listen', '30', '-t', '5']);
      assert.equal(misfit.code, 3);
      assert.match(misfit.stdout, /^VIPCHECK ARP-AUDIT UNKNOWN - --listen 30 s does not fit in --timeout 5 s .*raise --timeout to at least 30\.3 s\n$/);
      const short = await runVipcheck(lab(), 'client', ['arp-audit', '--vip', lab().vip4, '-t', '1', '--listen', '0.6', '--active', '-vvv']);
      assert.equal(short.code, 0, short.stdout);
      assert.ok(short.ms < 1500, `took ${short.ms} ms with -t 1`);
      assert.match(short.stdout, /> 02:00:00:00:00:50 > ff:ff:ff:ff:ff:ff ARP who-has 198\.51\.100\.100 tell 0\.0\.0\.0/);
      const noCapture = await runVipcheck(lab(), 'client', ['arp-audit', '--vip', lab().vip4, '-I', 'nosuch0']);
      assert.equal(noCapture.code, 3);
      assert.match(noCapture.stdout, /^VIPCHECK ARP-AUDIT UNKNOWN - interface nosuch0 does not exist\n$/);
    });
  },
  {timeoutMs: 60_000},
);
