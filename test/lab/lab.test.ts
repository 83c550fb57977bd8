// Tests of the namespace lab itself: the topology is what src/lab/topology.ts claims, the DR-specific
// kernel settings have the effect they are there for, and teardown leaves nothing behind.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cleanupStaleLabs, createLab, HOST_NAMES, type HostName, type Lab } from '../../src/lab/lab.js';
import { labTmpDir, listNamespaces, NETNS_RUN_DIR } from '../../src/lab/netns.js';
import { pidAlive as alive } from '../../src/lab/proc.js';
import { describeLab, REPO_ROOT, requireLabOrSkip, runVipcheck } from './harness.js';

interface AddrInfo {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
  preferred_life_time?: number;
  tentative?: boolean;
}
interface IpLink {
  ifname: string;
  address: string;
  flags: string[];
  operstate: string;
  addr_info?: AddrInfo[];
}

async function links(lab: Lab, ns: string, args: string[] = ['address', 'show']): Promise<IpLink[]> {
  return JSON.parse((await lab.execOk(ns, ['ip', '-j', ...args])).stdout) as IpLink[];
}

function addrs(link: IpLink | undefined, family?: 'inet' | 'inet6'): string[] {
  return (link?.addr_info ?? []).filter((a) => !family || a.family === family).map((a) => `${a.local}/${a.prefixlen}`);
}

/** Processes whose network namespace is one of these nsfs inodes (works after the names are deleted). */
function processesInNetInodes(inodes: readonly number[]): number[] {
  const wanted = new Set(inodes.map((i) => `net:[${i}]`));
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        return wanted.has(readlinkSync(`/proc/${pid}/ns/net`));
      } catch {
        return false;
      }
    })
    .map(Number);
}


/** Resolves when `predicate` holds, polling every 20 ms; rejects after timeoutMs. */
async function until(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** First stdout line of a child, bounded. */
async function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  const rl = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const [line] = (await Promise.race([once(rl, 'line'), once(child, 'exit').then(() => [''])])) as [string];
    return line;
  } finally {
    clearTimeout(timer);
    rl.close();
  }
}

async function exitOf(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode === null && child.signalCode === null) {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await once(child, 'exit');
    clearTimeout(timer);
  }
  return { code: child.exitCode, signal: child.signalCode };
}

/**
 * Which MACs answer when `client` resolves the VIP: captures ARP replies (IPv4) or Neighbor
 * Advertisements (IPv6) on the client while a kernel connect() to VIP:80 makes it ask.
 */
async function whoAnswersForVip(lab: Lab, family: 4 | 6): Promise<string[]> {
  const filter = family === 4 ? 'arp and arp[6:2] == 2' : 'icmp6 and ip6[40] == 136';
  const tcpdump = lab.spawn('client', ['tcpdump', '-i', 'eth0', '-n', '-e', '-l', '-t', filter]);
  let out = '';
  let err = '';
  tcpdump.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  tcpdump.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  try {
    await until('tcpdump to listen', () => err.includes('listening on'));
    await lab.execOk('client', ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    // Any outcome will do (the director refuses, a faulty RS that won the race accepts): the ARP/NDP is the point.
    await lab.tcpConnect('client', family === 4 ? lab.vip4 : lab.vip6, 80, { timeoutMs: 2_000 });
    await new Promise((r) => setTimeout(r, 300)); // a second responder would be late by microseconds, not 300 ms
  } finally {
    tcpdump.kill('SIGTERM');
    await exitOf(tcpdump, 2_000);
  }
  const vip = family === 4 ? lab.vip4 : lab.vip6;
  const macs = new Set<string>();
  for (const line of out.split('\n')) {
    // "<src mac> > <dst mac>, ethertype ARP (0x0806), length 42: Reply 198.51.100.100 is-at <mac>, length 28"
    // "<src mac> > <dst mac>, ethertype IPv6 (0x86dd), ...: ICMP6, neighbor advertisement, tgt is <vip>, length 32"
    const arp = / Reply (\S+) is-at ([0-9a-f:]{17})/.exec(line);
    if (arp && arp[1] === vip) macs.add(arp[2]!);
    const na = /^([0-9a-f:]{17}) > .*neighbor advertisement, tgt is ([^,]+),/.exec(line);
    if (na && na[2] === vip) macs.add(na[1]!);
  }
  return [...macs].sort();
}

describeLab('lab: topology', (s) => {
  it('names its namespaces <prefix><owner pid>x<4 hex>-<role> and creates all of them', () => {
    const { lab } = s;
    assert.equal(lab.namespaces.length, 1 + HOST_NAMES.length);
    assert.match(lab.id, new RegExp(`^vc${process.pid}x[0-9a-f]{4}$`));
    const existing = listNamespaces();
    for (const ns of lab.namespaces) {
      assert.ok(ns.startsWith(`${lab.id}-`), ns);
      assert.ok(existing.includes(ns), `${ns} exists`);
    }
    assert.equal(lab.hosts.good.ns, `${lab.id}-good`);
    assert.equal(lab.switchNs, `${lab.id}-switch`);
  });

  it('gives every host eth0 with its declared MAC and addresses, and lo up', async () => {
    const { lab } = s;
    const expectedMac: Record<HostName, string> = {
      director: '02:00:00:00:00:02',
      backup: '02:00:00:00:00:03',
      good: '02:00:00:00:00:11',
      novip: '02:00:00:00:00:12',
      closed: '02:00:00:00:00:13',
      client: '02:00:00:00:00:50',
    };
    for (const name of HOST_NAMES) {
      const host = lab.hosts[name];
      assert.equal(host.mac, expectedMac[name]);
      assert.equal(host.iface, 'eth0');
      const all = await links(lab, host.ns);
      assert.deepEqual(all.map((l) => l.ifname).sort(), ['eth0', 'lo'], `${name}: only lo and eth0`);
      const eth0 = all.find((l) => l.ifname === 'eth0');
      const lo = all.find((l) => l.ifname === 'lo');
      assert.equal(eth0?.address, host.mac, `${name} eth0 MAC`);
      assert.equal(eth0?.operstate, 'UP', `${name} eth0 up (carrier through the bridge)`);
      assert.ok(lo?.flags.includes('UP'), `${name} lo up`);
      const v4 = addrs(eth0, 'inet');
      const v6 = addrs(eth0, 'inet6');
      assert.ok(v4.includes(`${host.ipv4}/24`), `${name} has ${host.ipv4}/24: ${v4.join(' ')}`);
      assert.ok(v6.includes(`${host.ipv6}/64`), `${name} has ${host.ipv6}/64: ${v6.join(' ')}`);
      assert.ok(v6.includes(`${host.linkLocal}/64`), `${name} link-local ${host.linkLocal}: ${v6.join(' ')}`);
      assert.ok(!eth0?.addr_info?.some((a) => a.tentative), `${name}: no tentative address`);
    }
  });

  it('connects every host to one bridge in the switch namespace', async () => {
    const { lab } = s;
    const ports = await links(lab, lab.switchNs, ['link', 'show', 'master', 'br0']);
    assert.deepEqual(ports.map((p) => p.ifname).sort(), HOST_NAMES.map((n) => `p-${n}`).sort());
    for (const port of ports) assert.ok(port.flags.includes('UP'), `${port.ifname} up`);
    // The switch is pure L2: no addresses at all, IPv6 disabled.
    const all = await links(lab, lab.switchNs);
    assert.deepEqual(all.flatMap((l) => addrs(l)), []);
  });

  it('puts the VIP on eth0 of the director, on lo of good and closed, and nowhere else', async () => {
    const { lab } = s;
    const vips = [`${lab.vip4}/32`, `${lab.vip6}/128`];
    const director = await links(lab, lab.hosts.director.ns);
    const dirEth0 = director.find((l) => l.ifname === 'eth0');
    for (const vip of vips) assert.ok(addrs(dirEth0).includes(vip), `director eth0 has ${vip}`);
    // Deprecated (preferred_lft 0), so that it is not chosen as a source address (see topology.ts).
    const vip6 = dirEth0?.addr_info?.find((a) => a.local === lab.vip6);
    assert.equal(vip6?.preferred_life_time, 0);
    for (const name of ['good', 'closed'] as const) {
      const lo = (await links(lab, lab.hosts[name].ns)).find((l) => l.ifname === 'lo');
      for (const vip of vips) assert.ok(addrs(lo).includes(vip), `${name} lo has ${vip}`);
    }
    for (const name of ['backup', 'novip', 'client'] as const) {
      const all = (await links(lab, lab.hosts[name].ns)).flatMap((l) => addrs(l));
      for (const vip of vips) assert.ok(!all.includes(vip), `${name} has no ${vip}`);
    }
  });

  it('applies the ARP sysctls per role on both all and eth0', async () => {
    const { lab } = s;
    const expected: Record<HostName, [ignore: string, announce: string]> = {
      director: ['1', '2'],
      backup: ['1', '2'],
      good: ['1', '2'],
      novip: ['1', '2'],
      closed: ['1', '2'],
      client: ['0', '0'],
    };
    for (const name of HOST_NAMES) {
      const [ignore, announce] = expected[name];
      for (const dev of ['all', 'eth0']) {
        assert.equal(await lab.getSysctl(name, `net.ipv4.conf.${dev}.arp_ignore`), ignore, `${name} ${dev} arp_ignore`);
        assert.equal(await lab.getSysctl(name, `net.ipv4.conf.${dev}.arp_announce`), announce, `${name} ${dev} arp_announce`);
      }
    }
    for (const dev of ['all', 'eth0']) {
      assert.equal(await lab.getSysctl('director', `net.ipv4.conf.${dev}.accept_local`), '0', `director ${dev} accept_local`);
    }
  });

  it('serves HTTP on good and novip (IPv4 and IPv6) and refuses on closed, seen by a kernel connect from the director', async () => {
    const { lab } = s;
    const expected = { good: 'open', novip: 'open', closed: 'refused' } as const;
    for (const [name, status] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const host = lab.hosts[name];
      assert.equal(await lab.tcpConnect('director', host.ipv4, 80), status, `${name} ${host.ipv4}:80`);
      assert.equal(await lab.tcpConnect('director', host.ipv6, 80), status, `[${host.ipv6}]:80 of ${name}`);
    }
  });

  it('answers HTTP with a page naming the server', async () => {
    const { lab } = s;
    const fetchScript = 'fetch(process.argv[1]).then(async (r) => console.log(r.status, await r.text()))';
    for (const name of ['good', 'novip'] as const) {
      for (const url of [`http://${lab.hosts[name].ipv4}/`, `http://[${lab.hosts[name].ipv6}]/`]) {
        const r = await lab.execOk('director', [process.execPath, '-e', fetchScript, url]);
        assert.match(r.stdout, new RegExp(`^200 .*real server ${name} `, 's'), url);
      }
    }
  });

  it("sends from the director's own address, not from the VIP, on both families", async () => {
    const { lab } = s;
    const r4 = await lab.execOk('director', ['ip', '-4', 'route', 'get', lab.hosts.good.ipv4]);
    assert.match(r4.stdout, new RegExp(` src ${lab.hosts.director.ipv4.replace(/\./g, '\\.')} `));
    const r6 = await lab.execOk('director', ['ip', '-6', 'route', 'get', lab.hosts.good.ipv6]);
    assert.match(r6.stdout, new RegExp(` src ${lab.hosts.director.ipv6} `));
  });

  it('shows why the IPv6 VIP is deprecated: otherwise it is the source, and RIP checks invert', async () => {
    const { lab } = s;
    const vip6 = ['address', 'replace', `${lab.vip6}/128`, 'dev', 'eth0', 'nodad', 'preferred_lft'];
    try {
      await lab.execOk('director', ['ip', '-6', ...vip6, 'forever']);
      const r6 = await lab.execOk('director', ['ip', '-6', 'route', 'get', lab.hosts.good.ipv6]);
      assert.match(r6.stdout, new RegExp(` src ${lab.vip6} `));
      // good holds the VIP on lo and answers "itself"; novip answers the director. A kernel RIP check
      // from such a director fails the healthy server and passes the broken one.
      assert.equal(await lab.tcpConnect('director', lab.hosts.good.ipv6, 80, { timeoutMs: 1_000 }), 'timeout');
      assert.equal(await lab.tcpConnect('director', lab.hosts.novip.ipv6, 80, { timeoutMs: 1_000 }), 'open');
    } finally {
      await lab.execOk('director', ['ip', '-6', ...vip6, '0']);
    }
    assert.equal(await lab.tcpConnect('director', lab.hosts.good.ipv6, 80), 'open');
  });

  it('has exactly one MAC answering ARP and NDP for the VIP: the director', async () => {
    const { lab } = s;
    assert.deepEqual(await whoAnswersForVip(lab, 4), [lab.hosts.director.mac]);
    assert.deepEqual(await whoAnswersForVip(lab, 6), [lab.hosts.director.mac]);
  });

  it('would see a real server with arp_ignore=0 answer for the VIP (and only lowering all and eth0 does it)', async () => {
    const { lab } = s;
    try {
      // max(all, eth0): lowering eth0 alone changes nothing.
      await lab.setSysctl('good', 'net.ipv4.conf.eth0.arp_ignore', 0);
      assert.deepEqual(await whoAnswersForVip(lab, 4), [lab.hosts.director.mac]);
      await lab.setSysctl('good', 'net.ipv4.conf.all.arp_ignore', 0);
      assert.deepEqual(await whoAnswersForVip(lab, 4), [lab.hosts.director.mac, lab.hosts.good.mac].sort());
    } finally {
      await lab.setSysctl('good', 'net.ipv4.conf.all.arp_ignore', 1);
      await lab.setSysctl('good', 'net.ipv4.conf.eth0.arp_ignore', 1);
    }
  });

  it('bounds exec() with a timeout', async () => {
    const started = Date.now();
    const r = await s.lab.exec('client', ['sleep', '10'], { timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.equal(r.code, null);
    assert.ok(Date.now() - started < 3_000, `returned after ${Date.now() - started} ms`);
  });

  it('runs the vipcheck CLI inside a lab namespace (runVipcheck)', async () => {
    const r = await runVipcheck(s.lab, 'director', ['--version'], { timeoutMs: 15_000 });
    assert.equal(r.code, 0, `bin/run.cjs --version failed (is dist built? npm run build): ${r.stderr}`);
    assert.match(r.stdout, /^vipcheck\//);
    assert.equal(r.timedOut, false);
    assert.ok(r.ms > 0);
  });

  it('refuses to run in a namespace that is not its own', async () => {
    await assert.rejects(s.lab.exec('someone-else', ['true']), /not a namespace of lab/);
  });
});

describe('lab: lifecycle', function () {
  this.timeout(30_000);
  // A prefix of our own for the labs these tests orphan on purpose: concurrent runs (whose createLab()
  // cleans up stale 'vc' labs) must not remove them before the test does.
  const PREFIX = `vct${Array.from({ length: 4 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('')}`;
  before(function () {
    requireLabOrSkip(this);
  });

  it('destroy() kills tracked and untracked processes, deletes every namespace and is idempotent', async () => {
    const lab = await createLab({ ipv6: false });
    // ipv6: false really means no IPv6 on the segment, yet HTTP still works over IPv4.
    assert.deepEqual(addrs((await links(lab, lab.hosts.good.ns)).find((l) => l.ifname === 'eth0'), 'inet6'), []);
    assert.equal(await lab.tcpConnect('director', lab.hosts.good.ipv4, 80), 'open');

    const tracked = lab.spawn('client', ['sleep', '300'], { stdio: 'ignore' });
    const bg = await lab.execOk('novip', ['sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!']);
    const untracked = Number(bg.stdout.trim());
    assert.ok(alive(untracked), 'background sleep runs');
    const inodes = lab.namespaces.map((ns) => statSync(`${NETNS_RUN_DIR}/${ns}`).ino);
    assert.ok(processesInNetInodes(inodes).length >= 4, 'http servers and sleeps are inside the lab');

    const started = Date.now();
    await Promise.all([lab.destroy(), lab.destroy()]);
    const ms = Date.now() - started;
    await lab.destroy();

    assert.equal(lab.destroyed, true);
    for (const ns of lab.namespaces) assert.ok(!listNamespaces().includes(ns), `${ns} deleted`);
    assert.deepEqual(processesInNetInodes(inodes), [], 'no process left in any lab namespace');
    assert.ok(!alive(untracked), 'untracked background process killed');
    assert.ok(tracked.exitCode !== null || tracked.signalCode !== null, 'tracked process exited');
    assert.ok(!existsSync(lab.tmpDir), 'scratch directory removed');
    await assert.rejects(lab.exec('client', ['true']), /destroyed/);
    assert.ok(ms < 5_000, `destroy took ${ms} ms`);
  });

  it('cleanupStaleLabs() removes labs of dead owners with their processes and leaves live owners alone', async () => {
    const deadPid = spawnSync('true').pid!; // exited: nobody has this PID (barring reuse within milliseconds)
    const stale = `${PREFIX}${deadPid}xbeef-good`;
    const live = `${PREFIX}${process.pid}xbeef-good`;
    const foreign = `${PREFIX}${deadPid}xbeef-mystery`; // unknown role: not ours to delete
    for (const ns of [stale, live, foreign]) assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0);
    const sleeper = spawn('ip', ['netns', 'exec', stale, 'sleep', '300'], { stdio: 'ignore' });
    try {
      await until('sleeper inside the stale namespace', () => processesInNetInodes([statSync(`${NETNS_RUN_DIR}/${stale}`).ino]).length === 1);
      const report = cleanupStaleLabs({ prefix: PREFIX });
      assert.ok(report.namespaces.includes(stale), JSON.stringify(report));
      assert.ok(report.killedPids.includes(sleeper.pid!), 'the stale lab process was killed');
      assert.ok(!listNamespaces().includes(stale));
      assert.ok(listNamespaces().includes(live), 'a live owner keeps its lab');
      assert.ok(listNamespaces().includes(foreign), 'an unknown role is left alone');
      assert.deepEqual((await exitOf(sleeper, 5_000)).signal, 'SIGKILL');
    } finally {
      sleeper.kill('SIGKILL');
      for (const ns of [stale, live, foreign]) spawnSync('ip', ['netns', 'delete', ns]);
    }
  });

  const CLI = fileURLToPath(new URL('../../src/lab/cli.ts', import.meta.url));

  /** Starts `cli.ts up` in a child Node process and returns it with the lab it printed. */
  async function labInChild(): Promise<{ child: ChildProcess; namespaces: string[]; tmpDir: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'up', '--no-ipv6', '--prefix', PREFIX], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const line = await firstLine(child, 20_000);
    assert.ok(line, `cli up printed nothing; stderr: ${stderr}`);
    const printed = JSON.parse(line) as { id: string; switchNs: string; hosts: Record<string, { ns: string }> };
    const namespaces = [printed.switchNs, ...Object.values(printed.hosts).map((h) => h.ns)];
    for (const ns of namespaces) assert.ok(listNamespaces().includes(ns), `${ns} exists while cli up runs`);
    return { child, namespaces, tmpDir: labTmpDir(printed.id) };
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`cli up tears its lab down on ${signal}`, async () => {
      const { child, namespaces, tmpDir } = await labInChild();
      child.kill(signal);
      const { code } = await exitOf(child, 10_000);
      assert.equal(code, 0);
      for (const ns of namespaces) assert.ok(!listNamespaces().includes(ns), `${ns} deleted`);
      assert.ok(!existsSync(tmpDir));
    });
  }

  it('tears the lab down when the owner dies of an uncaught exception', async () => {
    const script = [
      'const { createLab } = await import(process.argv[1]);',
      'const lab = await createLab({ ipv6: false });',
      'console.log(JSON.stringify(lab.namespaces));',
      "setTimeout(() => { throw new Error('boom'); }, 50);",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const labModule = new URL('../../src/lab/lab.ts', import.meta.url).href;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, labModule], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const namespaces = JSON.parse((await firstLine(child, 20_000)) || '[]') as string[];
    assert.equal(namespaces.length, 7, stderr);
    const { code } = await exitOf(child, 10_000);
    assert.equal(code, 1);
    assert.match(stderr, /boom/);
    for (const ns of namespaces) assert.ok(!listNamespaces().includes(ns), `${ns} deleted`);
  });

  it('leaves a SIGKILLed owner lab to cleanupStaleLabs(), which removes it and its servers', async () => {
    const { child, namespaces, tmpDir } = await labInChild();
    const inodes = namespaces.map((ns) => statSync(`${NETNS_RUN_DIR}/${ns}`).ino);
    child.kill('SIGKILL');
    await exitOf(child, 5_000);
    const orphans = processesInNetInodes(inodes);
    assert.ok(orphans.length >= 2, 'the HTTP servers outlive a SIGKILLed owner');
    cleanupStaleLabs({ prefix: PREFIX });
    for (const ns of namespaces) assert.ok(!listNamespaces().includes(ns), `${ns} deleted`);
    await until('orphaned servers to die', () => processesInNetInodes(inodes).length === 0);
    assert.ok(!existsSync(tmpDir));
  });
});
