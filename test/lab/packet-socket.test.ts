/**
 * vipcheck's own packet socket (native/packet_socket.c through PacketSocketLink) against a real kernel, in a lab
 * namespace (`ip netns exec ... node --import tsx`, so the sources are tested): frames go out and the answer
 * comes back, the kernel filter really filters, the host kernel's own frames are not delivered, and every way
 * of failing is a LinkError with a one-line reason. Also the V8 code cache bin/run.cjs keeps next to the bundle.
 */
import assert from 'node:assert/strict';
import {readdirSync, readFileSync, statSync, unlinkSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import type {Lab} from '../../src/lab/lab.js';
import {describeLab, REPO_ROOT, runVipcheck} from './harness.js';

const source = (file: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src', file)).href);

/** Runs an ES module script in the director's namespace; it prints one JSON line, which is returned parsed. */
async function inDirector(lab: Lab, body: string): Promise<Record<string, any>> {
  const tsx = pathToFileURL(createRequire(join(REPO_ROOT, 'package.json')).resolve('tsx')).href;
  const script = `
    import {PacketSocketLink} from ${source('core/link/packet-socket-link.ts')};
    import {arpFrames} from ${source('core/link/bpf.ts')};
    import {buildArpRequest, arpAnswerFrom} from ${source('core/neighbor/arp-resolver.ts')};
    import {interfaceInfo} from ${source('core/neighbor/interfaces.ts')};
    import {IpAddress} from ${source('core/wire/address.ts')};
    import {reservePort} from ${source('core/flow/port-reservation.ts')};
    import {spawnSync} from 'node:child_process';
    import {connect} from 'node:net';
    const out = {};
    const attempt = (name, fn) => { try { fn(); out[name] = 'ok'; } catch (e) { out[name] = e.name + ': ' + e.message; } };
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    try {
      ${body}
    } catch (e) {
      out.error = e.name + ': ' + e.message;
    }
    console.log(JSON.stringify(out));
    process.exit(0);
  `;
  const run = await lab.exec('director', [process.execPath, '--import', tsx, '--input-type=module', '-e', script], {timeoutMs: 20_000});
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, any>;
  } catch {
    throw new Error(`script printed no result (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

describeLab('the packet socket on a real interface', (s) => {
  it('sends a frame and receives the answer; the kernel filter keeps everything else out', async () => {
    const {director, good} = s.lab.hosts;
    const r = await inDirector(
      s.lab,
      `
      const info = interfaceInfo('eth0');
      const link = new PacketSocketLink({interfaceName: 'eth0', mac: info.mac, filter: arpFrames()});
      const frames = [];
      link.onFrame((frame) => frames.push(frame));
      // The kernel's own traffic, not ARP, so filtered out: a TCP connection to the real server's own address.
      await new Promise((resolve, reject) => {
        const socket = connect({host: ${JSON.stringify(good.ipv4)}, port: 80}, () => { out.kernelTcp = 'connected'; socket.destroy(); resolve(); });
        socket.on('error', reject);
      });
      link.send(buildArpRequest(info.mac, IpAddress.parse(${JSON.stringify(director.ipv4)}), IpAddress.parse(${JSON.stringify(good.ipv4)})));
      await sleep(200);
      out.etherTypes = [...new Set(frames.map((f) => f.readUInt16BE(12).toString(16)))];
      out.sources = [...new Set(frames.map((f) => f.subarray(6, 12).toString('hex')))];
      out.answers = frames.map((f) => arpAnswerFrom(f, IpAddress.parse(${JSON.stringify(good.ipv4)}))?.toString()).filter(Boolean);
      link.close();
      attempt('closeAgain', () => link.close());
      attempt('sendAfterClose', () => link.send(Buffer.alloc(60)));
      `,
    );
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.equal(r.kernelTcp, 'connected');
    assert.deepEqual(r.etherTypes, ['806'], `only ARP passes the filter: ${JSON.stringify(r)}`);
    assert.ok(!r.sources.includes(director.mac.replaceAll(':', '')), `the host's own frames are not delivered: ${JSON.stringify(r)}`);
    assert.ok(r.answers.includes(good.mac), JSON.stringify(r));
    assert.equal(r.closeAgain, 'ok');
    assert.equal(r.sendAfterClose, 'LinkError: link eth0 is closed');
  });

  it('fails with a one-line LinkError for a missing or down interface and a bad filter', async () => {
    const r = await inDirector(
      s.lab,
      `
      const info = interfaceInfo('eth0');
      attempt('missing', () => new PacketSocketLink({interfaceName: 'nosuch0', mac: info.mac, filter: arpFrames()}));
      spawnSync('ip', ['link', 'add', 'down0', 'type', 'veth', 'peer', 'name', 'down1']);
      attempt('down', () => new PacketSocketLink({interfaceName: 'down0', mac: info.mac, filter: arpFrames()}));
      spawnSync('ip', ['link', 'del', 'down0']);
      // An interface that goes away under an open socket: reported once, and the link stays safe to use.
      spawnSync('ip', ['link', 'add', 'gone0', 'type', 'veth', 'peer', 'name', 'gone1']);
      spawnSync('ip', ['link', 'set', 'gone0', 'up']);
      const gone = new PacketSocketLink({interfaceName: 'gone0', mac: info.mac, filter: arpFrames()});
      spawnSync('ip', ['link', 'del', 'gone0']);
      await sleep(100);
      out.receiveError = gone.receiveError;
      attempt('sendAfterGone', () => gone.send(Buffer.alloc(60)));
      attempt('closeAfterGone', () => gone.close());
      // A program the kernel's checker refuses (no such instruction).
      attempt('badFilter', () => new PacketSocketLink({interfaceName: 'eth0', mac: info.mac, filter: {compile: () => Buffer.alloc(8, 0xff)}}));
      `,
    );
    assert.equal(r.missing, 'LinkError: interface nosuch0 does not exist');
    assert.equal(r.down, 'LinkError: interface down0 is down');
    assert.match(r.receiveError, /^(Network is down|No such device)$/);
    assert.equal(r.sendAfterGone, 'LinkError: cannot send on gone0: the socket is closed');
    assert.equal(r.closeAfterGone, 'ok');
    assert.equal(r.badFilter, 'LinkError: cannot open a packet socket on eth0: bad capture filter: Invalid argument');
  });

  it('reserves source ports with listening sockets, and releases them', async () => {
    const {director} = s.lab.hosts;
    const r = await inDirector(
      s.lab,
      `
      const listening = () => spawnSync('ss', ['-Hltn'], {encoding: 'utf8'}).stdout;
      const a = reservePort(IpAddress.parse(${JSON.stringify(director.ipv4)}));
      const b = reservePort(IpAddress.parse(${JSON.stringify(director.ipv6)}));
      out.ports = [a.port, b.port];
      out.listedWhileHeld = [listening().includes(${JSON.stringify(director.ipv4)} + ':' + a.port), listening().includes(':' + b.port)];
      a.release();
      a.release();
      b.release();
      out.listedAfter = [listening().includes(':' + a.port), listening().includes(':' + b.port)];
      attempt('notLocal', () => reservePort(IpAddress.parse('198.51.100.77')));
      `,
    );
    assert.equal(r.error, undefined, JSON.stringify(r));
    for (const port of r.ports) assert.ok(port >= 1024 && port <= 65535, JSON.stringify(r));
    assert.deepEqual(r.listedWhileHeld, [true, true], JSON.stringify(r));
    assert.deepEqual(r.listedAfter, [false, false], JSON.stringify(r));
    assert.equal(r.notLocal, 'EnvironmentError: cannot reserve a source port on 198.51.100.77: Cannot assign requested address');
  });

  it('waits for room when the device queue is full (ENOBUFS) instead of failing, and sends every frame', async () => {
    // A token bucket of 1 Mbit/s holding 3000 bytes: 300 frames of 1000 bytes at once overflow it at once.
    await s.lab.execOk('director', ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '1mbit', 'burst', '1600', 'limit', '3000']);
    try {
      const r = await inDirector(
        s.lab,
        `
        const info = interfaceInfo('eth0');
        const link = new PacketSocketLink({interfaceName: 'eth0', mac: info.mac, filter: arpFrames()});
        const txBefore = Number(spawnSync('cat', ['/sys/class/net/eth0/statistics/tx_packets'], {encoding: 'utf8'}).stdout);
        const frame = Buffer.alloc(1000);
        Buffer.from('020000000011', 'hex').copy(frame, 0);
        info.mac.bytes.copy(frame, 6);
        frame.writeUInt16BE(0x88b5, 12); // IEEE local experimental EtherType: nobody answers it
        attempt('sendAll', () => { for (let i = 0; i < 300; i++) link.send(frame); });
        out.deferredAtOnce = link.deferredSends;
        const deadline = Date.now() + 8000;
        while (Date.now() < deadline) {
          await sleep(100);
          const tx = Number(spawnSync('cat', ['/sys/class/net/eth0/statistics/tx_packets'], {encoding: 'utf8'}).stdout);
          out.sent = tx - txBefore;
          if (out.sent >= 300) break;
        }
        out.dropped = link.droppedOnSend;
        link.close();
        `,
      );
      assert.equal(r.error, undefined, JSON.stringify(r));
      assert.equal(r.sendAll, 'ok', 'no send threw');
      assert.ok(r.deferredAtOnce > 0, `the device queue pushed back: ${JSON.stringify(r)}`);
      assert.ok(r.sent >= 300, `every frame reached the wire: ${JSON.stringify(r)}`);
      assert.equal(r.dropped, 0);
    } finally {
      await s.lab.exec('director', ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
    }
  });

  it('keeps a V8 code cache per check next to the bundle, written only by an OK check run, and replaces one V8 rejects', async () => {
    const dist = join(REPO_ROOT, 'dist');
    const args = ['tcp', '--vip', s.lab.vip4, '--rs', s.lab.hosts.good.ipv4, '--port', '80'];
    const allCaches = () => readdirSync(dist).filter((f) => f.includes('.v8cache'));
    const cacheFiles = () => readdirSync(dist).filter((f) => /^fast-path\.tcp\.\d+-\d+\.v8cache$/.test(f));
    for (const f of allCaches()) unlinkSync(join(dist, f));
    // Help runs exit 0 too, but compile only the top level: they must write nothing (they once poisoned the cache).
    for (const help of [['tcp', '--help'], ['tcp', '-h'], ['help'], ['help', 'tcp'], ['--version']]) {
      assert.equal((await runVipcheck(s.lab, 'director', help)).code, 0, help.join(' '));
    }
    assert.deepEqual(allCaches(), [], 'help and version runs write no cache');
    // Caches of an older build, and a stray one an older version wrote for `vipcheck help`, are pruned.
    writeFileSync(join(dist, 'fast-path.tcp.1-1.v8cache'), 'old build');
    writeFileSync(join(dist, 'fast-path.help.1-1.v8cache'), 'old build');
    const first = await runVipcheck(s.lab, 'director', args);
    assert.equal(first.code, 0, first.stdout);
    const [cache] = cacheFiles();
    assert.ok(cache, `an OK run leaves a cache: ${readdirSync(dist).join(' ')}`);
    assert.deepEqual(allCaches(), [cache], 'only the current build\'s cache is left');
    const bundle = statSync(join(dist, 'fast-path.cjs'));
    assert.ok(cache.includes(`.${bundle.size}-`), 'the cache is named for this build of the bundle');
    // A full run's cache holds the whole check path (~200 KB on Node 20); a help run's held ~70 KB.
    assert.ok(statSync(join(dist, cache)).size > 100_000, `${statSync(join(dist, cache)).size} bytes`);

    writeFileSync(join(dist, cache), Buffer.from('not a code cache'));
    const second = await runVipcheck(s.lab, 'director', args);
    assert.equal(second.code, 0, second.stdout);
    assert.match(second.stdout, /^VIPCHECK TCP OK - /);
    assert.ok(readFileSync(join(dist, cache)).length > 1000, 'a rejected cache is written again');

    for (const f of readdirSync(dist).filter((name) => name.startsWith('fast-path.http.'))) unlinkSync(join(dist, f));
    const usage = await runVipcheck(s.lab, 'director', ['http', '--vip', s.lab.vip4]);
    assert.equal(usage.code, 3);
    assert.deepEqual(
      readdirSync(dist).filter((f) => f.startsWith('fast-path.http.')),
      [],
      'a run that is not OK writes no cache',
    );
  });
});
