/**
 * Active mode end to end over the in-memory wire: the real capture driver sends the probes, Linux-like hosts
 * answer them, the observer records, classifyActive judges.
 */
import assert from 'node:assert/strict';
import {MemoryWire, faults} from '../../../src/core/link/memory-link.js';
import type {MacAddress} from '../../../src/core/wire/address.js';
import {ArpOperation} from '../../../src/core/wire/arp.js';
import {classifyActive} from '../../../src/plugins/arp-audit/active.js';
import {runCapture} from '../../../src/plugins/arp-audit/capture.js';
import {ArpObserver} from '../../../src/plugins/arp-audit/observer.js';
import {
  ArpHost,
  arpFrame,
  AUDITOR_MAC,
  BACKUP_MAC,
  DIRECTOR_MAC,
  ip,
  parseArp,
  replyTo,
  RS1,
  RS1_MAC,
  RS2,
  RS2_MAC,
  VIP,
  VMAC,
} from './support.js';

interface Scenario {
  /** Hosts on the wire besides the auditor. */
  hosts: (wire: MemoryWire) => void;
  expectMacs?: MacAddress[];
  /** Set when the auditing host holds the VIP itself (director vantage). */
  ownVipMacs?: MacAddress[];
  probes?: number;
}

async function audit(scenario: Scenario) {
  const wire = new MemoryWire();
  const auditor = wire.attach('eth0', AUDITOR_MAC);
  scenario.hosts(wire);
  const observer = new ArpObserver({vip: VIP, ownMac: AUDITOR_MAC, rips: [RS1, RS2]});
  const probes = scenario.probes ?? 3;
  const run = await runCapture(auditor, observer, {probes, intervalMs: 20, listenMs: 0, deadline: performance.now() + 2000, ripRetryMs: 10});
  const outcome = classifyActive({
    observer,
    expectation: {ownVipMacs: scenario.ownVipMacs ?? [], expectMacs: scenario.expectMacs ?? []},
    interfaceName: 'eth0',
    windowMs: run.endedAt - run.startedAt,
  });
  return {outcome, observer, auditor, run, ids: outcome.findings.map((f) => f.id)};
}

/** The lab: a director holding the VIP on eth0 and two real servers answering for their RIPs only. */
function healthy(wire: MemoryWire): {director: ArpHost; rs1: ArpHost; rs2: ArpHost} {
  return {
    director: new ArpHost(wire, DIRECTOR_MAC, [ip('198.51.100.2'), VIP]),
    rs1: new ArpHost(wire, RS1_MAC, [RS1]),
    rs2: new ArpHost(wire, RS2_MAC, [RS2]),
  };
}

describe('arp-audit active mode (in-memory wire)', () => {
  it('finds exactly the expected director in every probe on a healthy segment', async () => {
    const {outcome, ids, observer} = await audit({hosts: healthy, expectMacs: [DIRECTOR_MAC]});
    assert.deepEqual(ids, []);
    assert.equal(outcome.probes, 3);
    assert.deepEqual(
      outcome.responders.map((r) => [r.mac.toString(), r.rounds, r.expected]),
      [['02:00:00:00:00:02', [1, 2, 3], true]],
    );
    assert.equal(outcome.firstForeign, undefined);
    assert.equal(observer.macsOf(RS1)[0]?.toString(), '02:00:00:00:00:11');
    assert.equal(observer.macsOf(RS2)[0]?.toString(), '02:00:00:00:00:12');
  });

  it('sends only broadcast RFC 5227 probes, and keeps broadcasting after the first answer', async () => {
    const {auditor} = await audit({hosts: healthy, expectMacs: [DIRECTOR_MAC], probes: 4});
    const sent = auditor.sent.map((f) => parseArp(f)!);
    assert.ok(sent.length >= 4 + 2, `sent ${sent.length}`);
    for (const {ethernet, arp} of sent) {
      assert.ok(ethernet.destination.isBroadcast, 'never unicast');
      assert.ok(ethernet.source.equals(AUDITOR_MAC));
      assert.ok(arp.isProbe, 'sender IP 0.0.0.0: plants nothing in any cache');
      assert.ok(arp.senderMac.equals(AUDITOR_MAC));
      assert.ok(arp.targetMac.isZero);
    }
    assert.equal(sent.filter((s) => s.arp.targetIp.equals(VIP)).length, 4);
    // Real servers are resolved with probes too, and only until they answer.
    assert.equal(sent.filter((s) => s.arp.targetIp.equals(RS1)).length, 1);
  });

  it('names a real server that answers for the VIP (arp_ignore=0): A1 and A2 in the first probe round', async () => {
    const {outcome, ids} = await audit({
      hosts: (wire) => {
        new ArpHost(wire, DIRECTOR_MAC, [VIP]);
        new ArpHost(wire, RS1_MAC, [RS1, VIP]);
        new ArpHost(wire, RS2_MAC, [RS2]);
      },
      expectMacs: [DIRECTOR_MAC],
    });
    assert.deepEqual(ids, ['A1', 'A2']);
    const a2 = outcome.findings[1]!;
    assert.ok(a2.mac?.equals(RS1_MAC));
    assert.equal(a2.ip?.toString(), '198.51.100.11');
    assert.match(a2.message, /02:00:00:00:00:11 \(real server 198\.51\.100\.11, 3\/3 probes\) answers who-has 198\.51\.100\.100, not an expected MAC/);
    assert.equal(a2.fix, 'on 198.51.100.11: sysctl -w net.ipv4.conf.all.arp_ignore=1');
    assert.match(outcome.findings[0]!.message, /^2 MACs answer who-has/);
    assert.deepEqual(outcome.firstForeign && outcome.firstForeign.round, 1);
  });

  it('still catches a responder whose first answers are lost, and says in how many probes it answered', async () => {
    const isVipReply = (frame: Buffer) => parseArp(frame)?.arp.senderIp.equals(VIP) ?? false;
    const {outcome, ids} = await audit({
      hosts: (wire) => {
        new ArpHost(wire, DIRECTOR_MAC, [VIP]);
        new ArpHost(wire, RS1_MAC, [RS1, VIP]).link.faults = faults.dropMatching(isVipReply, 2);
      },
      expectMacs: [DIRECTOR_MAC],
    });
    assert.deepEqual(ids, ['A1', 'A2']);
    const rs = outcome.responders.find((r) => r.mac.equals(RS1_MAC))!;
    assert.deepEqual(rs.rounds, [3]);
    assert.equal(outcome.firstForeign?.round, 3);
    assert.match(outcome.findings[1]!.message, /1\/3 probes/);
  });

  it('does not count duplicated answers as more responders', async () => {
    const {outcome, ids} = await audit({
      hosts: (wire) => {
        new ArpHost(wire, DIRECTOR_MAC, [VIP]).link.faults = faults.duplicateMatching(() => true);
      },
      expectMacs: [DIRECTOR_MAC],
    });
    assert.deepEqual(ids, []);
    assert.equal(outcome.responders.length, 1);
    assert.equal(outcome.responders[0]!.responses, 6);
  });

  it('on the director itself: no responder is right (no A3), any responder is foreign (A1, A2)', async () => {
    const quiet = await audit({hosts: (wire) => void new ArpHost(wire, RS1_MAC, [RS1]), ownVipMacs: [AUDITOR_MAC]});
    assert.deepEqual(quiet.ids, []);
    // Even an --expect-mac responder is wrong while this host holds the VIP: that is a split brain.
    const split = await audit({
      hosts: (wire) => void new ArpHost(wire, BACKUP_MAC, [VIP]),
      ownVipMacs: [AUDITOR_MAC],
      expectMacs: [AUDITOR_MAC, BACKUP_MAC],
    });
    assert.deepEqual(split.ids, ['A1', 'A2']);
    assert.match(split.outcome.findings[0]!.message, /another MAC answers who-has 198\.51\.100\.100 although this host \(02:00:00:00:00:50\) holds it/);
    assert.match(split.outcome.findings[1]!.fix!, /split brain/);
  });

  it('reports A3 when nobody answers and someone should', async () => {
    const silent = await audit({hosts: (wire) => void new ArpHost(wire, RS1_MAC, [RS1]), expectMacs: [DIRECTOR_MAC]});
    assert.deepEqual(silent.ids, ['A3']);
    assert.match(silent.outcome.findings[0]!.message, /nobody answered 3 probe\(s\) for 198\.51\.100\.100 on eth0/);
    const unspecified = await audit({hosts: () => undefined});
    assert.deepEqual(unspecified.ids, ['A3']);
  });

  it('without --expect-mac: one unknown responder passes, two are A1, a real server is A2', async () => {
    const one = await audit({hosts: (wire) => void new ArpHost(wire, DIRECTOR_MAC, [VIP])});
    assert.deepEqual(one.ids, []);
    assert.equal(one.outcome.responders[0]!.expected, undefined);
    const two = await audit({
      hosts: (wire) => {
        new ArpHost(wire, DIRECTOR_MAC, [VIP]);
        new ArpHost(wire, BACKUP_MAC, [VIP]);
      },
    });
    assert.deepEqual(two.ids, ['A1']);
    const rs = await audit({hosts: (wire) => void new ArpHost(wire, RS1_MAC, [RS1, VIP])});
    assert.deepEqual(rs.ids, ['A2']);
    assert.match(rs.outcome.findings[0]!.message, /real servers must never answer/);
  });

  it('accepts a VRRP vmac responder, and flags A7 when its Ethernet source is another MAC', async () => {
    const vmacDirector = (ethSource: MacAddress) => (wire: MemoryWire) => {
      const link = wire.attach('director', DIRECTOR_MAC);
      link.onFrame((frame) => {
        const request = parseArp(frame);
        if (request?.arp.operation !== ArpOperation.Request || !request.arp.targetIp.equals(VIP)) return;
        const reply = parseArp(replyTo(request.arp, VMAC))!;
        link.send(
          arpFrame({op: ArpOperation.Reply, sha: VMAC, spa: VIP, tha: reply.arp.targetMac, tpa: reply.arp.targetIp, ethSource}),
        );
      });
    };
    const vmac = await audit({hosts: vmacDirector(VMAC), expectMacs: [VMAC]});
    assert.deepEqual(vmac.ids, []);
    const mismatch = await audit({hosts: vmacDirector(DIRECTOR_MAC), expectMacs: [VMAC]});
    assert.deepEqual(mismatch.ids, ['A7']);
    assert.match(mismatch.outcome.findings[0]!.message, /3 ARP packet\(s\) for 198\.51\.100\.100 from Ethernet source 02:00:00:00:00:02 name 00:00:5e:00:01:33/);
  });
});
