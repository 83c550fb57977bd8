/**
 * NDP resolution against real Linux kernels in the namespace lab: resolveNdp over a PacketSocketLink, run inside a lab
 * namespace (`ip netns exec ... node --import tsx`, so the sources are tested, not a possibly stale dist/).
 *
 * Facts these tests pin down: the kernel answers a solicitation from a global or a link-local source with a
 * solicited+override advertisement carrying the target link-layer address; a real server with the VIP on lo
 * never advertises the VIP (Linux answers only for addresses on the receiving interface); the director, with
 * the VIP on eth0, does.
 */
import assert from 'node:assert/strict';
import {createRequire} from 'node:module';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import type {Lab, HostName} from '../../src/lab/lab.js';
import {describeLab, REPO_ROOT} from './harness.js';

interface ProbeResult {
  mac?: string;
  requests?: number;
  elapsedMs?: number;
  error?: string;
  message?: string;
  trace: string[];
  /** Every valid advertisement for the target seen after the answer, while listening on (MACs). */
  others: string[];
}

const source = (file: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src', file)).href);

/**
 * The script run in the namespace: resolve `target` from `from` on eth0, then keep listening for `listenMs` to
 * collect any other advertiser of the same target. Prints one JSON line.
 */
function probeScript(target: string, from: string, timeoutMs: number, listenMs: number): string {
  return `
    import {PacketSocketLink} from ${source('core/link/packet-socket-link.ts')};
    import {ndpAdvertisements} from ${source('core/link/bpf.ts')};
    import {interfaceInfo} from ${source('core/neighbor/interfaces.ts')};
    import {buildNeighborSolicitationFrame, ndpAnswerFrom, resolveNdp} from ${source('core/neighbor/ndp-resolver.ts')};
    import {IpAddress} from ${source('core/wire/address.ts')};
    const target = IpAddress.parse(${JSON.stringify(target)});
    const info = interfaceInfo('eth0');
    const link = new PacketSocketLink({interfaceName: 'eth0', mac: info.mac, filter: ndpAdvertisements()});
    const out = {trace: [], others: []};
    try {
      const r = await resolveNdp(link, {
        target,
        source: IpAddress.parse(${JSON.stringify(from)}),
        deadline: performance.now() + ${timeoutMs},
        intervalMs: 50,
        trace: (t) => out.trace.push(t),
      });
      Object.assign(out, {mac: r.mac.toString(), requests: r.requests, elapsedMs: r.elapsedMs});
      link.onFrame((frame) => {
        const answer = ndpAnswerFrom(frame, target);
        if (answer?.mac) out.others.push(answer.mac.toString());
      });
      // A second solicitation, so that every host that would answer has had two chances.
      link.send(buildNeighborSolicitationFrame(info.mac, IpAddress.parse(${JSON.stringify(from)}), target));
      await new Promise((r) => setTimeout(r, ${listenMs}));
    } catch (e) {
      Object.assign(out, {error: e.name, message: e.message});
    } finally {
      link.close();
      console.log(JSON.stringify(out));
      process.exit(0); // the lab's helpers keep handles open
    }
  `;
}

async function probe(lab: Lab, host: HostName, target: string, from: string, timeoutMs = 2000, listenMs = 300): Promise<ProbeResult> {
  const tsx = pathToFileURL(createRequire(join(REPO_ROOT, 'package.json')).resolve('tsx')).href;
  const script = probeScript(target, from, timeoutMs, listenMs);
  const run = await lab.exec(host, [process.execPath, '--import', tsx, '--input-type=module', '-e', script], {
    timeoutMs: timeoutMs + listenMs + 15_000,
  });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ProbeResult;
  } catch {
    throw new Error(`probe in ${host} printed no result (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

describeLab('NDP resolution against real kernels', (s) => {
  it('resolves each real server from the director, from its global address', async () => {
    for (const rs of s.lab.realServers) {
      const r = await probe(s.lab, 'director', rs.ipv6, s.lab.hosts.director.ipv6);
      assert.equal(r.mac, rs.mac, JSON.stringify(r));
      assert.equal(r.requests, 1, JSON.stringify(r));
      assert.ok(r.elapsedMs! < 100, `${r.elapsedMs} ms`);
      assert.match(r.trace.at(-1)!, new RegExp(`^NDP ${rs.ipv6} is-at ${rs.mac} \\(Flags \\[solicited, override\\], from ${rs.ipv6}\\) \\[checksum verified\\]$`));
      assert.deepEqual(r.others, [rs.mac], 'the second solicitation is answered the same way, by nobody else');
    }
  });

  it('resolves from a link-local source, and resolves link-local targets', async () => {
    const {director, good} = s.lab.hosts;
    const global = await probe(s.lab, 'director', good.ipv6, director.linkLocal);
    assert.equal(global.mac, good.mac, JSON.stringify(global));
    const linkLocal = await probe(s.lab, 'director', good.linkLocal, director.linkLocal);
    assert.equal(linkLocal.mac, good.mac, JSON.stringify(linkLocal));
  });

  it('finds only the director advertising the VIP: real servers with the VIP on lo stay silent', async () => {
    const {client, director} = s.lab.hosts;
    const r = await probe(s.lab, 'client', s.lab.vip6, client.ipv6, 2000, 500);
    assert.equal(r.mac, director.mac, JSON.stringify(r));
    assert.deepEqual(r.others, [director.mac], JSON.stringify(r));
  });

  it('times out with NdpTimeoutError, retrying, when nobody holds the address', async () => {
    const started = performance.now();
    const r = await probe(s.lab, 'director', '2001:db8:100::99', s.lab.hosts.director.ipv6, 600);
    assert.equal(r.error, 'NdpTimeoutError', JSON.stringify(r));
    assert.match(r.message!, /^no neighbor advertisement from 2001:db8:100::99 on eth0 after [3-5] solicitations$/);
    assert.ok(performance.now() - started < 10_000);
  });
});
