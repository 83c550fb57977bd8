/**
 * `vipcheck arp-audit` for an IPv6 VIP (Neighbor Discovery) against real kernels in the namespace lab: the
 * healthy lab OK from the client and from the director; a real server with the VIP on its Ethernet interface
 * found actively (N1) and locally (N4); a real server running duplicate address detection for the VIP caught
 * passively (N3); a director whose VIP failed duplicate address detection (N5); a real server without the VIP
 * (A10). Every change to a namespace is undone, also on failure.
 */
import assert from 'node:assert/strict';
import type {NsRef} from '../../src/lab/lab.js';
import {describeLab, runVipcheckJson, type VipcheckRun} from './harness.js';

interface AuditJson {
  status: string;
  summary: string;
  protocol: string;
  findings: {id: string; severity: string; message: string; mac: string | null; ip: string | null; fix: string | null}[];
  active?: {probes: number; responders: {mac: string; realServer: string | null; expected: boolean | null}[]};
  passive?: {claims: number};
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeLab(
  'arp-audit for an IPv6 VIP (NDP) in the lab',
  (s) => {
    const host = (name: 'director' | 'good' | 'novip' | 'client') => s.lab.hosts[name];
    const rsFlags = () => s.lab.realServers.flatMap((r) => ['--rs', r.ipv6]);

    async function audit(ns: NsRef, ...args: string[]): Promise<{run: VipcheckRun; json: AuditJson; ids: string[]}> {
      const {run, json} = await runVipcheckJson<AuditJson>(s.lab, ns, ['arp-audit', '--vip', s.lab.vip6, ...args]);
      return {run, json, ids: json.findings.map((f) => f.id)};
    }

    /** Adds an address to a host's eth0 for the duration of fn (with DAD when asked), then removes it. */
    async function withAddress<T>(ns: NsRef, address: string, dad: boolean, fn: () => Promise<T>): Promise<T> {
      if (dad) await s.lab.setSysctl(ns, 'net.ipv6.conf.eth0.accept_dad', 1);
      try {
        await s.lab.execOk(ns, ['ip', '-6', 'addr', 'add', `${address}/128`, 'dev', 'eth0', ...(dad ? [] : ['nodad'])]);
        return await fn();
      } finally {
        await s.lab.exec(ns, ['ip', '-6', 'addr', 'del', `${address}/128`, 'dev', 'eth0']);
        if (dad) await s.lab.setSysctl(ns, 'net.ipv6.conf.eth0.accept_dad', 0);
      }
    }

    it('finds only the director advertising the VIP, from the client and from the director itself', async () => {
      const fromClient = await audit('client', '--expect-mac', host('director').mac, ...rsFlags());
      assert.equal(fromClient.run.code, 0, fromClient.run.stdout);
      assert.equal(fromClient.json.protocol, 'NDP');
      assert.deepEqual(fromClient.json.active!.responders.map((r) => [r.mac, r.expected]), [[host('director').mac, true]]);
      assert.match(fromClient.json.summary, /no NDP faults \(02:00:00:00:00:02 answered 3 probes on eth0\)/);
      const fromDirector = await audit('director', ...rsFlags());
      assert.equal(fromDirector.run.code, 0, fromDirector.run.stdout);
      assert.deepEqual(fromDirector.json.active!.responders, []);
    });

    it('N1 names a real server holding the VIP on eth0, and its --local says N4', async () => {
      await withAddress('good', s.lab.vip6, false, async () => {
        const r = await audit('client', '--expect-mac', host('director').mac, ...rsFlags());
        assert.equal(r.run.code, 2, r.run.stdout);
        assert.deepEqual(r.ids, ['N1']);
        assert.equal(r.json.findings[0]!.mac, host('good').mac);
        assert.equal(r.json.findings[0]!.ip, host('good').ipv6, 'named by its real server address');
        // Held on an Ethernet interface, the VIP makes `auto` judge the host a director: say what it is.
        const local = await audit('good', '--local', '--local-role', 'realserver');
        assert.deepEqual(local.ids, ['N4'], local.run.stdout);
        assert.match(local.json.findings[0]!.fix!, /ip -6 addr add 2001:db8:100::100\/128 dev lo/);
      });
      const after = await audit('client', '--expect-mac', host('director').mac, ...rsFlags());
      assert.deepEqual(after.ids, [], 'healthy again once the address is gone');
    });

    it('N3 when a real server runs duplicate address detection for the VIP (passive, from the client)', async () => {
      // The DAD probe leaves up to 1 s after the address is added (a random delay); add it once the audit has
      // surely started capturing (node start-up included, on a loaded machine), and listen well past the probe.
      const listening = audit('client', '--listen', '3.5', '-t', '5', '--expect-mac', host('director').mac, ...rsFlags());
      await sleep(1000);
      const r = await withAddress('good', s.lab.vip6, true, async () => {
        const result = await listening;
        return result;
      });
      assert.equal(r.run.code, 2, r.run.stdout);
      assert.ok(r.ids.includes('N3'), r.run.stdout);
      const dad = r.json.findings.find((f) => /duplicate address detection/.test(f.message))!;
      assert.equal(dad.mac, host('good').mac);
    });

    it('N5 on a director whose VIP failed duplicate address detection; A10 on a real server without the VIP', async () => {
      const other = '2001:db8:100::77';
      await withAddress('good', other, false, async () => {
        await withAddress('director', other, true, async () => {
          // Tentative while DAD runs (it starts after a random delay of up to 1 s), then failed: N5 either way.
          const seen = new Set<string>();
          for (let i = 0; i < 40 && !seen.has('dadfailed'); i++) {
            const r = await audit('director', '--vip', other, '--local', '--local-role', 'director');
            assert.deepEqual(r.ids, ['N5'], r.run.stdout);
            seen.add(/failed duplicate address detection/.test(r.json.findings[0]!.message) ? 'dadfailed' : 'tentative');
            if (!seen.has('dadfailed')) await sleep(100);
          }
          assert.ok(seen.has('dadfailed'), `DAD never failed: ${[...seen].join(', ')}`);
        });
      });
      const novip = await audit('novip', '--local');
      assert.deepEqual(novip.ids, ['A10'], novip.run.stdout);
      const good = await audit('good', '--local');
      assert.deepEqual(good.ids, [], good.run.stdout);
    });
  },
  {timeoutMs: 60_000},
);
