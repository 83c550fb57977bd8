/**
 * The agent's IPVS side without a kernel: the configuration keys (real-servers: ipvs / {fwmark: N},
 * discover: ipvs, ipvs-weights), discovery from a table with DR, TUN, NAT, fwmark and UDP services, and the
 * integration's loop on a virtual clock against the in-memory table: real servers that appear and go, the ones
 * the agent removed itself, failed reads, and a drain driven by a transition.
 */
import {strict as assert} from 'node:assert';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {agentChecks} from '../../../src/agent/checks.js';
import {parseConfig, type AgentConfig, type TargetConfig} from '../../../src/agent/config.js';
import {HealthState} from '../../../src/agent/health.js';
import {discover} from '../../../src/agent/ipvs/discovery.js';
import {IpvsIntegration, verdictOf} from '../../../src/agent/ipvs/integration.js';
import type {CheckPlugin} from '../../../src/plugin-api/plugin.js';
import {configProblems} from '../../support/config-problems.js';
import {FakeIpvs, destination, fwmarkService, tcpService} from '../../support/fake-ipvs.js';
import {VirtualClock} from '../../support/virtual-clock.js';

let plugins: Map<string, CheckPlugin>;
before(async () => {
  plugins = await agentChecks();
});

const web = tcpService('198.51.100.100', 80);
const api = tcpService('198.51.100.101', 8080);
const nat = tcpService('203.0.113.100', 80);
const marked = fwmarkService(7);
const dns = {...tcpService('198.51.100.100', 53), key: {kind: 'address' as const, protocol: 'udp' as const, address: web.key.kind === 'address' ? web.key.address : undefined!, port: 53}};

function lab(): FakeIpvs {
  return new FakeIpvs()
    .addService(web, [destination('198.51.100.11', 80, 5), destination('198.51.100.12', 80, 3), destination('198.51.100.13', 80, 2)])
    .addService(api, [destination('198.51.100.11', 8080, 1, {forwarding: 'tun', tunnelType: 'gue', tunnelPort: 6080}), destination('198.51.100.19', 8080, 1, {forwarding: 'local'})])
    .addService(nat, [destination('203.0.113.11', 8081, 1, {forwarding: 'nat'})])
    .addService(marked, [destination('198.51.100.14', 0, 1)])
    .addService(dns, [destination('198.51.100.11', 53, 1)]);
}

const config = (text: string): AgentConfig => parseConfig(text, plugins);

describe('agent ipvs configuration', () => {
  it('reads real-servers: ipvs, {fwmark: N} and discover: ipvs, with their defaults', () => {
    const parsed = config(`state-dir: /tmp/vipcheck-state
services:
  - {name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs, ipvs-weights: manage}
  - {name: marked, vip: 198.51.100.100, port: 80, check: tcp, real-servers: {fwmark: 7}, ipvs-weights: manage, on-down: remove, panic-threshold: 0}
  - {name: lvs, discover: ipvs, check: tcp, match: {forwarding: [dr, tun]}}
`);
    assert.deepEqual(parsed.targets, []);
    const ipvs = parsed.ipvs!;
    assert.equal(ipvs.stateDir, '/tmp/vipcheck-state');
    assert.equal(ipvs.intervalMs, 2000);
    assert.deepEqual(
      ipvs.sources.map((s) => [s.name, s.select.kind, s.weights]),
      [
        ['web', 'service', {onDown: 'drain', panicThreshold: 50}],
        ['marked', 'service', {onDown: 'remove', panicThreshold: 0}],
        ['lvs', 'discover', undefined],
      ],
    );
    assert.deepEqual(ipvs.sources[1]!.select.kind === 'service' && ipvs.sources[1]!.select.key, {kind: 'fwmark', family: 4, fwmark: 7});
    assert.equal(config('services: [{name: a, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs}]').ipvs!.stateDir, '/var/lib/vipcheck');
  });

  it('takes ipvs-weights, on-down and panic-threshold under defaults', () => {
    const parsed = config(`defaults: {ipvs-weights: manage, on-down: remove, panic-threshold: 30}
ipvs-interval: 0.5
services: [{name: a, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs}]`);
    assert.deepEqual(parsed.ipvs!.sources[0]!.weights, {onDown: 'remove', panicThreshold: 30});
    assert.equal(parsed.ipvs!.intervalMs, 500);
  });

  it('says what is wrong in one line per problem', () => {
    assert.deepEqual(configProblems('services: [{name: a, vip: 198.51.100.100, port: 80, check: tcp, real-servers: [198.51.100.11], ipvs-weights: manage}]', plugins), [
      'services[0].ipvs-weights: manage needs real-servers: ipvs (or {fwmark: N}, or discover: ipvs): the agent manages only real servers it reads from the table',
    ]);
    assert.deepEqual(configProblems('services: [{name: a, discover: ipvs, vip: 198.51.100.100, check: tcp, match: {vip: 198.51.100.300}}]', plugins), [
      'services[0].vip: not with discover: ipvs (the table gives every VIP, port and real server; filter with match)',
      "services[0].match.vip: '198.51.100.300' is not an IPv4 or IPv6 address",
    ]);
    assert.deepEqual(configProblems('services: [{name: a, vip: 198.51.100.100, port: 80, check: http, real-servers: ipvs, path: nope}]', plugins), ["services[0].path: 'nope' must start with / and contain no spaces or control characters"]);
    assert.deepEqual(configProblems('services: [{name: a, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs, on-down: delete, panic-threshold: 101}]', plugins), [
      'services[0].on-down: must be one of drain, remove',
      'services[0].panic-threshold: must be <= 100',
    ]);
    assert.deepEqual(configProblems('services: [{name: a, check: tcp}]', plugins), ['services[0].vip: required', 'services[0].port: required', 'services[0].real-servers: required']);
  });
});

describe('agent ipvs discovery', () => {
  it('takes DR and TUN through the VIP and NAT on the RIP path, skips what it cannot check, and says so', async () => {
    const parsed = config(`services:
  - {name: marked, vip: 198.51.100.100, port: 80, check: tcp, real-servers: {fwmark: 7}}
  - {name: lvs, discover: ipvs, check: tcp}
`);
    const found = discover(await lab().read(), parsed.ipvs!.sources, () => []);
    const summary = found.targets.map((t) => [t.id, t.ipvs!.forwarding, t.ipvs!.path, t.ipvs!.port, (t.options as {role?: {role?: string}}).role?.role]);
    assert.deepEqual(summary, [
      ['marked/198.51.100.14', 'dr', 'vip', 0, undefined],
      ['lvs:198.51.100.100:80/198.51.100.11', 'dr', 'vip', 80, undefined],
      ['lvs:198.51.100.100:80/198.51.100.12', 'dr', 'vip', 80, undefined],
      ['lvs:198.51.100.100:80/198.51.100.13', 'dr', 'vip', 80, undefined],
      ['lvs:198.51.100.101:8080/198.51.100.11', 'tun', 'vip', 8080, undefined],
      ['lvs:203.0.113.100:80/203.0.113.11', 'nat', 'rip', 8081, 'backup'],
    ]);
    const marked = found.targets[0]!;
    assert.equal(marked.port, 80, 'a fwmark service is probed on the port its entry names');
    const tunnelOf = (t: (typeof found.targets)[number]) => (t.options as {target?: {tunnel?: unknown}}).target?.tunnel;
    assert.deepEqual(tunnelOf(found.targets[4]!), {type: 'gue', port: 6080}, 'a TUN real server is probed encapsulated as its table entry says');
    assert.equal(tunnelOf(found.targets[1]!), undefined, 'a DR real server is probed with plain frames');
    assert.deepEqual(found.notes, [
      'lvs:203.0.113.100:80 TCP 203.0.113.100:80: NAT real servers are checked on the RIP path (a kernel connect to RIP:port), not through the VIP',
      'lvs: UDP 198.51.100.100:53 skipped: this entry\'s check probes TCP',
    ]);
    assert.deepEqual(found.managed, []);
  });

  it('takes the UDP service of VIP:port for a udp or dns check, never the TCP one', async () => {
    const parsed = config('services: [{name: resolver, vip: 198.51.100.100, port: 53, check: dns, query: www.example.com, real-servers: ipvs}]');
    const found = discover(await lab().read(), parsed.ipvs!.sources, () => []);
    assert.deepEqual(found.targets.map((t) => [t.id, t.ipvs!.service]), [['resolver/198.51.100.11', dns.key]]);
    const tcpOnly = discover(await lab().read(), config('services: [{name: lvs, discover: ipvs, check: dns, query: www.example.com}]').ipvs!.sources, () => []);
    assert.deepEqual(tcpOnly.targets.map((t) => t.service), ['lvs:198.51.100.100:53']);
  });

  it('filters discover: ipvs by VIP, port and forwarding method, and notes fwmark services it cannot name', async () => {
    const parsed = config('services: [{name: lvs, discover: ipvs, check: tcp, match: {vip: 198.51.100.101, forwarding: tun}}]');
    const found = discover(await lab().read(), parsed.ipvs!.sources, () => []);
    assert.deepEqual(found.targets.map((t) => t.id), ['lvs:198.51.100.101:8080/198.51.100.11']);
    assert.ok(found.notes.includes('lvs: FWM 7 (IPv4) skipped: a fwmark service has no VIP:port to probe; name it in a service with real-servers: {fwmark: 7}'));
    const byPort = discover(await lab().read(), config('services: [{name: lvs, discover: ipvs, check: tcp, match: {port: 80}}]').ipvs!.sources, () => []);
    assert.deepEqual(byPort.targets.map((t) => t.service), ['lvs:198.51.100.100:80', 'lvs:198.51.100.100:80', 'lvs:198.51.100.100:80', 'lvs:203.0.113.100:80']);
  });

  it('skips a local destination of a named service, and says so', async () => {
    const parsed = config('services: [{name: api, vip: 198.51.100.101, port: 8080, check: tcp, real-servers: ipvs}]');
    const found = discover(await lab().read(), parsed.ipvs!.sources, () => []);
    assert.deepEqual(found.targets.map((t) => t.id), ['api/198.51.100.11']);
    assert.deepEqual(found.notes, ['api TCP 198.51.100.101:8080 rs 198.51.100.19:8080 skipped: forwarding local has no real server to check']);
  });

  it('says so when a named service is not in the table', async () => {
    const parsed = config('services: [{name: gone, vip: 198.51.100.100, port: 81, check: tcp, real-servers: ipvs}]');
    const found = discover(await lab().read(), parsed.ipvs!.sources, () => []);
    assert.deepEqual(found.targets, []);
    assert.deepEqual(found.notes, ['gone: TCP 198.51.100.100:81 is not in the IPVS table; no real servers to check until it is']);
  });
});

describe('agent ipvs integration', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vipcheck-ipvs-'));
  });
  afterEach(() => rm(dir, {recursive: true, force: true}));

  function harness(text: string, ipvs = lab()) {
    const parsed = config(`state-dir: ${dir}\nipvs-interval: 2\n${text}`);
    const clock = new VirtualClock();
    const logs: string[] = [];
    const health = new Map<string, HealthState>();
    let applied = 0;
    let openFailures = 0;
    const integration = new IpvsIntegration(parsed.ipvs!, {
      open: async () => {
        if (openFailures > 0) {
          openFailures--;
          throw new Error('IPVS is not loaded (no generic netlink family IPVS): modprobe ip_vs');
        }
        return ipvs;
      },
      clock,
      log: (line) => logs.push(line),
      action: () => {},
      changed: () => {
        applied++;
        for (const t of integration.targets) if (!health.has(t.id)) health.set(t.id, new HealthState(t.health, 0));
      },
      health: (id) => health.get(id),
    });
    /** n probes of a target, and the transition (if any) handed to the integration as the agent does. */
    const probe = (target: TargetConfig, success: boolean, n = 1) => {
      for (let i = 0; i < n; i++) if (health.get(target.id)!.record(success, 0)) integration.transition(target);
    };
    const target = (id: string) => integration.targets.find((t) => t.id === id)!;
    const failOpens = (n: number) => (openFailures = n);
    /** Virtual time that waits for the integration's own disk and table work before each jump. */
    const run = (done: () => boolean) => clock.run(done, undefined, () => integration.settled());
    return {ipvs, clock, logs, health, integration, probe, target, failOpens, run, applied: () => applied};
  }

  it('follows the table: real servers that appear are checked, ones that go are dropped', async () => {
    const h = harness('services: [{name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs}]');
    await h.integration.start();
    assert.deepEqual(h.integration.targets.map((t) => t.id), ['web/198.51.100.11', 'web/198.51.100.12', 'web/198.51.100.13']);
    assert.equal(h.applied(), 1);
    const reads = h.ipvs.reads;
    await h.run(() => h.ipvs.reads === reads + 2);
    assert.equal(h.applied(), 1, 'an unchanged table applies nothing');
    assert.equal(h.integration.status(h.target('web/198.51.100.12'))?.weight, 3, 'from the index of this read');
    h.ipvs.addBehindTheBack(web.key, destination('198.51.100.15', 80, 1));
    h.ipvs.removeBehindTheBack(web.key, '198.51.100.11', 80);
    await h.run(() => h.applied() === 2);
    assert.deepEqual(h.integration.targets.map((t) => t.id), ['web/198.51.100.12', 'web/198.51.100.13', 'web/198.51.100.15']);
    assert.deepEqual(h.integration.status(h.target('web/198.51.100.15')), {service: 'TCP 198.51.100.100:80', port: 80, forwarding: 'dr', path: 'vip', weight: 1});
    await h.integration.stop();
    assert.ok(h.ipvs.closed);
  });

  it('keeps running while ip_vs is not loaded yet, says so once, and follows the table once it opens', async () => {
    const h = harness('services: [{name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs, ipvs-weights: manage}]');
    h.failOpens(3);
    await h.integration.start();
    assert.deepEqual(h.integration.targets, []);
    await h.run(() => h.integration.targets.length === 3);
    assert.deepEqual(h.logs, ['IPVS is not loaded (no generic netlink family IPVS): modprobe ip_vs; retrying every 2 s', 'IPVS table opened (after 3 failed attempts)']);
    assert.equal(h.clock.now(), 6_000);
    await h.integration.stop();
  });

  it('says once that a read-only table (no CAP_NET_ADMIN: /proc) cannot have its weights managed', async () => {
    const ipvs = lab();
    ipvs.canWrite = false;
    const h = harness('services: [{name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs, ipvs-weights: manage}]', ipvs);
    await h.integration.start();
    const reads = ipvs.reads;
    await h.run(() => ipvs.reads === reads + 2);
    assert.equal(h.integration.targets.length, 3, 'discovery still works');
    assert.deepEqual(h.logs, ['ipvs-weights: manage needs write access to the IPVS table (netlink with CAP_NET_ADMIN); the table is read-only here, so weights are not managed']);
    await h.integration.stop();
  });

  it('logs a failed read once and keeps the real servers until the table reads again', async () => {
    const h = harness('services: [{name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs}]');
    await h.integration.start();
    h.ipvs.failReads = new Error('IPVS is not loaded (no generic netlink family IPVS): modprobe ip_vs');
    const reads = h.ipvs.reads;
    await h.run(() => h.ipvs.reads === reads + 3);
    assert.equal(h.integration.targets.length, 3);
    assert.deepEqual(h.logs, ['cannot read the IPVS table: IPVS is not loaded (no generic netlink family IPVS): modprobe ip_vs; keeping the real servers as they are, retrying every 2 s']);
    h.ipvs.failReads = undefined;
    await h.run(() => h.logs.length === 2);
    assert.equal(h.logs[1], 'IPVS table read again (after 3 failed reads)');
    await h.integration.stop();
  });

  it('drains at the transition (not at the next read), restores after rise, and keeps a removed real server checked', async () => {
    const h = harness(`defaults: {rise: 2, fall: 3}
services: [{name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs, ipvs-weights: manage, on-down: remove}]`);
    await h.integration.start();
    const rs12 = h.target('web/198.51.100.12');
    for (const t of h.integration.targets) h.probe(t, true, 2);
    const reads = h.ipvs.reads;
    h.probe(rs12, false, 3);
    await h.integration.stop().then(() => {}, () => {});
    assert.equal(h.ipvs.reads, reads, 'acted without reading the table again');
    assert.equal(h.ipvs.get(web.key, '198.51.100.12', 80), undefined, 'removed after fall failures');
    assert.deepEqual(h.ipvs.writes.map((w) => [w.op, w.address]), [['remove', '198.51.100.12']]);

    // A restart: the removed real server is still a target, and comes back with weight 3.
    const again = harness(`defaults: {rise: 2, fall: 3}
services: [{name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs, ipvs-weights: manage, on-down: remove}]`, h.ipvs);
    await again.integration.start();
    assert.deepEqual(again.integration.targets.map((t) => t.id), ['web/198.51.100.11', 'web/198.51.100.13', 'web/198.51.100.12']);
    assert.deepEqual(again.integration.status(again.target('web/198.51.100.12')), {service: 'TCP 198.51.100.100:80', port: 80, forwarding: 'dr', path: 'vip', weight: null, configuredWeight: 3, managed: 'removed', panic: false});
    again.probe(again.target('web/198.51.100.12'), true, 2);
    await again.run(() => again.ipvs.weightOf(web.key, '198.51.100.12', 80) === 3);
    assert.deepEqual(again.integration.panics(), new Map([['web', false]]));
    assert.deepEqual(
      again.integration.rows().map((r) => [r.address.toString(), r.weight, r.configuredWeight]),
      [
        ['198.51.100.11', 5, 5],
        ['198.51.100.13', 2, 2],
        ['198.51.100.12', 3, 3],
      ],
    );
    await again.integration.stop();
  });

  it('gives back what an earlier run drained when it restarts with ipvs-weights off, and forgets it', async () => {
    const managed = `defaults: {rise: 2, fall: 3}
services: [{name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs, ipvs-weights: manage}]`;
    const h = harness(managed);
    await h.integration.start();
    for (const t of h.integration.targets) h.probe(t, true, 2);
    h.probe(h.target('web/198.51.100.12'), false, 3);
    await h.run(() => h.ipvs.weightOf(web.key, '198.51.100.12', 80) === 0);
    await h.integration.stop(); // weights stay as they are at a stop (integration.ts)

    // The restart with ipvs-weights off: nothing is managed any more, and the drained server is still down.
    const off = harness('services: [{name: web, vip: 198.51.100.100, port: 80, check: tcp, real-servers: ipvs}]', h.ipvs);
    await off.integration.start();
    assert.equal(off.ipvs.weightOf(web.key, '198.51.100.12', 80), 3, "the operator's weight is back");
    assert.match(off.logs.join('\n'), /198\.51\.100\.12:80: restored: weight 0 -> 3 \(ipvs-weights is no longer manage for this service\)/);
    assert.equal(off.integration.status(off.target('web/198.51.100.12'))?.managed, undefined, 'not managed');
    await off.integration.stop();

    // Forgotten: a third start with management on again does not restore anything on its own.
    const writes = h.ipvs.writes.length;
    const third = harness(managed, h.ipvs);
    await third.integration.start();
    await third.integration.stop();
    assert.equal(h.ipvs.writes.length, writes);
  });

  it('judges nothing before fall failures or rise successes were seen', () => {
    const rules = {rise: 2, fall: 3, initial: 'down' as const};
    const health = new HealthState(rules, 0);
    assert.equal(verdictOf(health), 'unknown');
    health.record(false, 0);
    health.record(false, 0);
    assert.equal(verdictOf(health), 'unknown');
    health.record(false, 0);
    assert.equal(verdictOf(health), 'down');
    health.record(true, 0);
    assert.equal(verdictOf(health), 'down', 'still down until rise successes');
    health.record(true, 0);
    assert.equal(verdictOf(health), 'up');
    assert.equal(verdictOf(undefined), 'unknown');
    const assumedUp = new HealthState({...rules, initial: 'up'}, 0);
    assumedUp.record(true, 0);
    assert.equal(verdictOf(assumedUp), 'unknown', 'initial-state up is an assumption, not a verdict');
  });
});

describe('agent ipvs metrics', () => {
  it("exports weights with node_exporter's ipvs labels, panic per service, and drops a destination with the table", async () => {
    const {AgentMetrics} = await import('../../../src/agent/metrics.js');
    const address = destination('198.51.100.12', 80, 0).address;
    let rows = [
      {service: 'web', key: web.key, address, port: 80, weight: 0, configuredWeight: 3},
      {service: 'marked', key: marked.key, address, port: 0, weight: 1, configuredWeight: undefined},
    ];
    const metrics = new AgentMetrics({
      interfaces: () => [],
      targets: () => 0,
      inFlight: () => 0,
      portsBusy: () => 0,
      portsHeld: () => 0,
      resetsSent: () => 0,
      ipvsWeights: () => rows,
      panics: () => new Map([['web', true]]),
    });
    metrics.ipvsActions.inc({service: 'web', action: 'drain'});
    const lines = (await metrics.registry.metrics()).split('\n').filter((l) => /^vipcheck_(ipvs|panic)/.test(l));
    assert.deepEqual(lines, [
      'vipcheck_ipvs_weight{service="web",local_address="198.51.100.100",local_port="80",local_mark="",proto="TCP",remote_address="198.51.100.12",remote_port="80"} 0',
      'vipcheck_ipvs_weight{service="marked",local_address="",local_port="0",local_mark="7",proto="FWM",remote_address="198.51.100.12",remote_port="0"} 1',
      'vipcheck_ipvs_configured_weight{service="web",local_address="198.51.100.100",local_port="80",local_mark="",proto="TCP",remote_address="198.51.100.12",remote_port="80"} 3',
      'vipcheck_panic{service="web"} 1',
      'vipcheck_ipvs_actions_total{service="web",action="drain"} 1',
    ]);
    rows = [];
    assert.doesNotMatch(await metrics.registry.metrics(), /^vipcheck_ipvs_weight\{/m);
  });
});
