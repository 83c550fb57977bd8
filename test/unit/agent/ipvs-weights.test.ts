import {strict as assert} from 'node:assert';
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {WeightStateFile, StateFileError, parseStateFile, formatStateFile, STATE_FILE_NAME} from '../../../src/agent/ipvs/state-file.js';
import {WeightManager, type ManagedService, type Verdict, type WeightAction} from '../../../src/agent/ipvs/weights.js';
import {FakeIpvs, destination, kernelError, tcpService} from '../../support/fake-ipvs.js';

const web = tcpService('198.51.100.100', 80);
const foreign = tcpService('198.51.100.200', 443);
const managed: ManagedService = {name: 'web', key: web.key, onDown: 'drain', panicThreshold: 50};

describe('agent ipvs weight manager', () => {
  let dir: string;
  let ipvs: FakeIpvs;
  let logs: string[];
  let actions: WeightAction[];
  let verdicts: Map<string, Verdict>;

  const manager = (): WeightManager =>
    new WeightManager(ipvs, new WeightStateFile(dir), {log: (line) => logs.push(line), action: (_service, action) => actions.push(action)});
  const verdict = (d: {address: {toString(): string}}) => verdicts.get(d.address.toString()) ?? 'unknown';
  /** One refresh: read the table, observe, act (what the agent does every few seconds). */
  const turn = async (m: WeightManager, services: ManagedService[] = [{...managed}]) => {
    await m.observe(await ipvs.read(), services);
    await m.act(services, verdict);
  };
  /** What a kill -9 between the intent and the outcome leaves in the state file: the intent. */
  const leaveIntent = async (address: string, intent: string) => {
    const file = join(dir, STATE_FILE_NAME);
    const state = JSON.parse(await readFile(file, 'utf8')) as {destinations: Array<{address: string; state: string}>};
    state.destinations.find((d) => d.address === address)!.state = intent;
    await writeFile(file, JSON.stringify(state));
  };
  const weights = () => ['198.51.100.11', '198.51.100.12', '198.51.100.13'].map((rs) => ipvs.weightOf(web.key, rs, 80));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vipcheck-weights-'));
    ipvs = new FakeIpvs()
      .addService(web, [
        destination('198.51.100.11', 80, 5),
        destination('198.51.100.12', 80, 3, {forwarding: 'tun', tunnelType: 'gue', tunnelPort: 6080, tunnelFlags: 1, upperThreshold: 100, lowerThreshold: 10}),
        destination('198.51.100.13', 80, 2),
      ])
      .addService(foreign, [destination('198.51.100.21', 443, 7), destination('198.51.100.22', 443, 0)]);
    logs = [];
    actions = [];
    verdicts = new Map([
      ['198.51.100.11', 'up'],
      ['198.51.100.12', 'up'],
      ['198.51.100.13', 'up'],
    ]);
  });
  afterEach(() => rm(dir, {recursive: true, force: true}));

  it('drains a down real server to 0 and restores the operator weight (3, not 1), keeping every other field', async () => {
    const m = manager();
    await m.load();
    await turn(m);
    assert.deepEqual(ipvs.writes, [], 'all up: nothing to write');
    const before = ipvs.get(web.key, '198.51.100.12', 80)!;
    verdicts.set('198.51.100.12', 'down');
    await turn(m);
    assert.deepEqual(weights(), [5, 0, 2]);
    assert.deepEqual({...ipvs.get(web.key, '198.51.100.12', 80)!, weight: 3}, before, 'forwarding, thresholds and GUE port kept');
    assert.deepEqual(m.view({service: web.key, address: before.address, port: 80}), {weight: 0, configuredWeight: 3, state: 'drained'});
    verdicts.set('198.51.100.12', 'up');
    await turn(m);
    assert.deepEqual(weights(), [5, 3, 2]);
    assert.deepEqual(ipvs.get(web.key, '198.51.100.12', 80), before);
    assert.deepEqual(actions, ['drain', 'restore']);
    assert.match(logs.join('\n'), /web TCP 198\.51\.100\.100:80 rs 198\.51\.100\.12:80: drained: weight 3 -> 0 \(down\)/);
    assert.match(logs.join('\n'), /restored: weight 0 -> 3 \(up\)/);
  });

  it('does nothing while a verdict is unknown, and never touches a service the configuration does not name', async () => {
    const m = manager();
    await m.load();
    verdicts = new Map();
    await turn(m);
    verdicts.set('198.51.100.21', 'down');
    verdicts.set('198.51.100.22', 'up');
    await turn(m);
    assert.deepEqual(ipvs.writes, []);
    assert.equal(ipvs.weightOf(foreign.key, '198.51.100.21', 443), 7);
    const file = JSON.parse(await readFile(join(dir, STATE_FILE_NAME), 'utf8')) as {destinations: Array<{address: string}>};
    assert.deepEqual(file.destinations.map((d) => d.address), ['198.51.100.11', '198.51.100.12', '198.51.100.13'], 'only the managed service is remembered');
  });

  it('does not take its own drain for someone else\'s change when the table was read before it (a read racing a transition)', async () => {
    const m = manager();
    await m.load();
    await turn(m);
    const since = m.readStarts();
    const stale = await ipvs.read();
    verdicts.set('198.51.100.12', 'down');
    await m.act([managed], verdict);
    await m.observe(stale, [managed], since);
    await turn(m);
    assert.deepEqual(actions, ['drain'], 'no adopt');
    assert.deepEqual(m.view({service: web.key, address: stale.services[0]!.destinations[1]!.address, port: 80}), {weight: 0, configuredWeight: 3, state: 'drained'});
    verdicts.set('198.51.100.12', 'up');
    await turn(m);
    assert.deepEqual(weights(), [5, 3, 2]);
  });

  it('takes a weight the operator changes while the server is up as the one to restore', async () => {
    const m = manager();
    await m.load();
    await turn(m);
    ipvs.setWeightBehindTheBack(web.key, '198.51.100.12', 80, 4);
    await turn(m);
    assert.deepEqual(actions, ['adopt']);
    assert.match(logs[0]!, /weight changed from 3 to 4 by someone else; restoring 4 from now on/);
    verdicts.set('198.51.100.12', 'down');
    await turn(m);
    verdicts.set('198.51.100.12', 'up');
    await turn(m);
    assert.deepEqual(weights(), [5, 4, 2]);
  });

  it("leaves the operator's own weight 0 at 0, up or down", async () => {
    ipvs.setWeightBehindTheBack(web.key, '198.51.100.13', 80, 0);
    const m = manager();
    await m.load();
    verdicts.set('198.51.100.13', 'down');
    await turn(m);
    verdicts.set('198.51.100.13', 'up');
    await turn(m);
    assert.deepEqual(ipvs.writes, []);
    assert.equal(ipvs.weightOf(web.key, '198.51.100.13', 80), 0);
  });

  it('logs once and does not fight when someone else restores a drained server', async () => {
    const m = manager();
    await m.load();
    verdicts.set('198.51.100.11', 'down');
    await turn(m);
    ipvs.setWeightBehindTheBack(web.key, '198.51.100.11', 80, 6);
    for (let i = 0; i < 5; i++) await turn(m);
    assert.equal(ipvs.weightOf(web.key, '198.51.100.11', 80), 6, 'not drained again while the verdict stays down');
    assert.equal(logs.filter((l) => l.includes('by someone else')).length, 1);
    assert.deepEqual(actions, ['drain', 'adopt']);
    // Its next up -> down is the agent's to act on again, and 6 is now the weight to restore.
    verdicts.set('198.51.100.11', 'up');
    await turn(m);
    verdicts.set('198.51.100.11', 'down');
    await turn(m);
    assert.equal(ipvs.weightOf(web.key, '198.51.100.11', 80), 0);
    verdicts.set('198.51.100.11', 'up');
    await turn(m);
    assert.equal(ipvs.weightOf(web.key, '198.51.100.11', 80), 6);
  });

  it('after kill -9 in mid-drain, a restart converges: a drain that landed is restored once up, one that did not is redone', async () => {
    const first = manager();
    await first.load();
    await turn(first);
    // The drain of .11 reaches the kernel; the drain of .12 is written as an intent, then the process dies.
    verdicts.set('198.51.100.11', 'down');
    verdicts.set('198.51.100.12', 'down');
    ipvs.failWrites.push(new Error('unreached'), new Error('unreached'));
    const services = [{...managed, panicThreshold: 0}];
    await first.observe(await ipvs.read(), services);
    ipvs.failWrites.length = 0;
    await first.act(services, (d) => (d.address.toString() === '198.51.100.11' ? 'down' : 'unknown'));
    await leaveIntent('198.51.100.12', 'draining');
    assert.deepEqual(weights(), [0, 3, 2]);

    // The restart: probes not judged yet, then .11 is up again and .12 still down.
    const second = manager();
    await second.load();
    verdicts = new Map();
    await turn(second, services);
    assert.deepEqual(weights(), [0, 3, 2], 'nothing changes before the verdicts');
    assert.deepEqual(second.view({service: web.key, address: ipvs.get(web.key, '198.51.100.11', 80)!.address, port: 80}), {weight: 0, configuredWeight: 5, state: 'drained'});
    verdicts = new Map([
      ['198.51.100.11', 'up'],
      ['198.51.100.12', 'down'],
      ['198.51.100.13', 'up'],
    ]);
    await turn(second, services);
    assert.deepEqual(weights(), [5, 0, 2]);
    verdicts.set('198.51.100.12', 'up');
    await turn(second, services);
    assert.deepEqual(weights(), [5, 3, 2]);
  });

  it('after kill -9 between the kernel write and the outcome (file "draining", table 0), keeps 0 until up, then restores', async () => {
    const first = manager();
    await first.load();
    await turn(first);
    verdicts.set('198.51.100.12', 'down');
    await turn(first);
    assert.deepEqual(weights(), [5, 0, 2]);
    // The process dies after the kernel took the 0 and before the outcome reached the file: the intent is left.
    await leaveIntent('198.51.100.12', 'draining');

    const second = manager();
    await second.load();
    verdicts = new Map();
    await turn(second);
    const novip = {service: web.key, address: ipvs.get(web.key, '198.51.100.12', 80)!.address, port: 80};
    assert.deepEqual(second.view(novip), {weight: 0, configuredWeight: 3, state: 'drained'}, 'the 0 is the agent\'s, not the operator\'s');
    verdicts = new Map([
      ['198.51.100.11', 'up'],
      ['198.51.100.12', 'down'],
      ['198.51.100.13', 'up'],
    ]);
    await turn(second);
    assert.deepEqual(weights(), [5, 0, 2]);
    verdicts.set('198.51.100.12', 'up');
    await turn(second);
    assert.deepEqual(weights(), [5, 3, 2]);
    assert.ok(!logs.some((l) => l.includes('by someone else')), logs.join('\n'));
  });

  it('on-down remove: takes the destination out, keeps remembering it, and adds it back whole', async () => {
    const services: ManagedService[] = [{...managed, onDown: 'remove'}];
    const m = manager();
    await m.load();
    await turn(m, services);
    const before = ipvs.get(web.key, '198.51.100.12', 80)!;
    verdicts.set('198.51.100.12', 'down');
    await turn(m, services);
    assert.equal(ipvs.get(web.key, '198.51.100.12', 80), undefined);
    assert.ok(m.removedByAgent({service: web.key, address: before.address, port: 80}));
    assert.equal(m.removedOf(web.key).length, 1);
    // A restart in between: the state file holds every field.
    const again = manager();
    await again.load();
    verdicts.set('198.51.100.12', 'up');
    await turn(again, services);
    assert.deepEqual(ipvs.get(web.key, '198.51.100.12', 80), before);
    assert.deepEqual(actions, ['remove', 'add']);
  });

  it('gives back a drained and a removed real server when a reload stops managing the service, and forgets them', async () => {
    const m = manager();
    await m.load();
    await turn(m);
    const removedBefore = ipvs.get(web.key, '198.51.100.13', 80)!;
    verdicts.set('198.51.100.12', 'down');
    await turn(m);
    verdicts.set('198.51.100.13', 'down');
    await turn(m, [{...managed, onDown: 'remove', panicThreshold: 0}]);
    assert.deepEqual(weights(), [5, 0, undefined]);
    // The reload: ipvs-weights off for web (no managed service any more); the servers are still down.
    const table = await ipvs.read();
    await m.observe(table, []);
    await m.act([], verdict);
    await m.release(table, []);
    assert.deepEqual(weights(), [5, 3, 2], 'the operator weights are back');
    assert.deepEqual(ipvs.get(web.key, '198.51.100.13', 80), removedBefore, 'added back whole');
    assert.match(logs.join('\n'), /no longer managed: TCP 198\.51\.100\.100:80 rs 198\.51\.100\.12:80: restored: weight 0 -> 3 \(ipvs-weights is no longer manage for this service\)/);
    assert.equal(m.view({service: web.key, address: removedBefore.address, port: 80}), undefined, 'forgotten');
    const file = JSON.parse(await readFile(join(dir, STATE_FILE_NAME), 'utf8')) as {destinations: unknown[]};
    assert.equal(file.destinations.length, 0);
    // Nothing more happens on later turns, whatever the verdicts.
    const writes = ipvs.writes.length;
    await m.release(await ipvs.read(), []);
    assert.equal(ipvs.writes.length, writes);
  });

  it('retries giving a weight back when the write fails, and leaves a service gone from the table alone', async () => {
    const m = manager();
    await m.load();
    await turn(m);
    verdicts.set('198.51.100.12', 'down');
    await turn(m);
    ipvs.failWrites.push(new Error('EBUSY: device or resource busy'));
    await m.release(await ipvs.read(), []);
    assert.deepEqual(weights(), [5, 0, 2]);
    const rs12 = ipvs.get(web.key, '198.51.100.12', 80)!.address;
    assert.equal(m.view({service: web.key, address: rs12, port: 80})?.state, 'drained', 'still remembered');
    assert.match(logs.join('\n'), /cannot restore: EBUSY/);
    // The service left the table meanwhile: nothing to give back into, and nothing forgotten.
    const table = await ipvs.read();
    await m.release({...table, services: table.services.filter((s) => s.service.key !== web.key)}, []);
    assert.equal(m.view({service: web.key, address: rs12, port: 80})?.state, 'drained');
    await m.release(await ipvs.read(), []);
    assert.deepEqual(weights(), [5, 3, 2]);
    assert.equal(m.view({service: web.key, address: rs12, port: 80}), undefined);
  });

  it('forgets a destination someone else removed', async () => {
    const m = manager();
    await m.load();
    await turn(m);
    ipvs.removeBehindTheBack(web.key, '198.51.100.13', 80);
    await turn(m);
    assert.match(logs.join('\n'), /198\.51\.100\.13:80: removed from the table by someone else; no longer managed/);
    const file = JSON.parse(await readFile(join(dir, STATE_FILE_NAME), 'utf8')) as {destinations: unknown[]};
    assert.equal(file.destinations.length, 2);
  });

  it('panic: when fewer than the threshold would be up, drains no more and restores the drained ones', async () => {
    const m = manager();
    await m.load();
    verdicts.set('198.51.100.11', 'down');
    await turn(m);
    assert.deepEqual(weights(), [0, 3, 2], '2 of 3 up (67%) is above 50%: drained');
    verdicts.set('198.51.100.12', 'down');
    await turn(m);
    assert.deepEqual(weights(), [5, 3, 2], '1 of 3 (33%): panic, everything restored');
    assert.ok(m.inPanic('web'));
    assert.match(logs.join('\n'), /panic: only 1 of 3 real servers would be up \(threshold 50%\)/);
    verdicts.set('198.51.100.13', 'down');
    await turn(m);
    assert.deepEqual(weights(), [5, 3, 2]);
    // Two come back: the panic ends and the one still down is drained.
    verdicts.set('198.51.100.11', 'up');
    verdicts.set('198.51.100.12', 'up');
    await turn(m);
    assert.ok(!m.inPanic('web'));
    assert.deepEqual(weights(), [5, 3, 0]);
    assert.match(logs.join('\n'), /panic over: 2 of 3 real servers up/);
  });

  it('panic-threshold 0 turns panic mode off', async () => {
    const m = manager();
    await m.load();
    for (const rs of verdicts.keys()) verdicts.set(rs, 'down');
    await turn(m, [{...managed, panicThreshold: 0}]);
    assert.deepEqual(weights(), [0, 0, 0]);
    assert.ok(!m.inPanic('web'));
  });

  it('logs a failing write once per streak and retries it on every turn', async () => {
    const m = manager();
    await m.load();
    verdicts.set('198.51.100.11', 'down');
    ipvs.failWrites.push(kernelError('EPERM', 'Operation not permitted'), kernelError('EPERM', 'Operation not permitted'));
    await turn(m);
    await turn(m);
    assert.deepEqual(weights(), [5, 3, 2]);
    assert.equal(logs.filter((l) => l.includes('cannot drain')).length, 1);
    assert.match(logs[0]!, /rs 198\.51\.100\.11:80: cannot drain: Operation not permitted \(EPERM\); retrying every turn/);
    await turn(m);
    assert.deepEqual(weights(), [0, 3, 2]);
    assert.match(logs.at(-1)!, /drained: weight 5 -> 0 \(down\) \(after 2 failed attempts\)/);
    assert.deepEqual(actions, ['error', 'error', 'drain']);
  });

  it('does not drain when it cannot remember the weight (state file cannot be written)', async () => {
    const m = manager();
    await m.load();
    // A file where the state directory should be: the save fails, for root too.
    await rm(dir, {recursive: true, force: true});
    await writeFile(dir, '');
    verdicts.set('198.51.100.11', 'down');
    await turn(m);
    assert.deepEqual(weights(), [5, 3, 2]);
    assert.match(logs.join('\n'), /rs 198\.51\.100\.11:80: cannot drain: EEXIST/);
  });
});

describe('agent ipvs state file', () => {
  it('round-trips what it writes, fwmark and IPv6 included', () => {
    const text = formatStateFile([
      {service: {kind: 'fwmark', family: 6, fwmark: 7}, address: destination('2001:db8::11', 80, 1).address, port: 80, weight: 4, state: 'drained'},
      {
        service: web.key,
        address: destination('198.51.100.12', 80, 1).address,
        port: 80,
        weight: 3,
        state: 'removed',
        fields: (({activeConnections: _a, inactiveConnections: _i, persistentConnections: _p, ...f}) => f)(destination('198.51.100.12', 80, 3, {forwarding: 'tun', tunnelType: 'gue', tunnelPort: 6080})),
      },
    ]);
    assert.equal(formatStateFile(parseStateFile(text, 'x')), text);
  });

  it('refuses a file it cannot trust, in one line naming it', () => {
    for (const [text, why] of [
      ['{', /state file \/s: not JSON/],
      ['{"version":2,"destinations":[]}', /not a version 1 vipcheck state file/],
      ['{"version":1,"destinations":[{"service":{"kind":"address","protocol":"tcp","address":"198.51.100.1","port":80},"address":"198.51.100.300","port":80,"weight":1,"state":"serving"}]}', /destinations\[0\]\.address is not an IP address/],
      ['{"version":1,"destinations":[{"service":{"kind":"address","protocol":"tcp","address":"198.51.100.1","port":80},"address":"198.51.100.3","port":80,"weight":1,"state":"removed"}]}', /removed but has no fields/],
    ] as const) {
      assert.throws(() => parseStateFile(text, '/s'), (error: Error) => error instanceof StateFileError && why.test(error.message) && !error.message.includes('\n'));
    }
  });

  it('writes atomically through a temporary file and leaves none behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vipcheck-state-'));
    try {
      const file = new WeightStateFile(join(dir, 'sub'));
      assert.deepEqual(await file.load(), []);
      await file.save([{service: web.key, address: destination('198.51.100.11', 80, 1).address, port: 80, weight: 5, state: 'serving'}]);
      const {readdir} = await import('node:fs/promises');
      assert.deepEqual(await readdir(join(dir, 'sub')), [STATE_FILE_NAME]);
      assert.equal((await new WeightStateFile(join(dir, 'sub')).load())[0]!.weight, 5);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });
});
