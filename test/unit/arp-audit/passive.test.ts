/**
 * Passive mode: literal ARP frames fed to the observer (the judgement is pure), and one end-to-end run of the
 * capture driver listening on the in-memory wire while a real server with arp_announce=0 talks.
 */
import assert from 'node:assert/strict';
import {MemoryWire} from '../../../src/core/link/memory-link.js';
import type {MacAddress} from '../../../src/core/wire/address.js';
import {ArpOperation} from '../../../src/core/wire/arp.js';
import {runCapture} from '../../../src/plugins/arp-audit/capture.js';
import {ArpObserver} from '../../../src/plugins/arp-audit/observer.js';
import {classifyPassive} from '../../../src/plugins/arp-audit/passive.js';
import {
  ArpHost,
  arpFrame,
  AUDITOR_MAC,
  BACKUP_MAC,
  CLIENT_IP,
  DIRECTOR_MAC,
  ip,
  RS1,
  RS1_MAC,
  RS2,
  RS2_MAC,
  sleep,
  VIP,
} from './support.js';

const GATEWAY = ip('198.51.100.1');

const request = (sha: MacAddress, tpa = GATEWAY, ethSource = sha) =>
  arpFrame({op: ArpOperation.Request, sha, spa: VIP, tpa, ethSource});
const reply = (sha: MacAddress, to: MacAddress = AUDITOR_MAC) =>
  arpFrame({op: ArpOperation.Reply, sha, spa: VIP, tha: to, tpa: CLIENT_IP});
const gratuitous = (sha: MacAddress) => arpFrame({op: ArpOperation.Request, sha, spa: VIP, tpa: VIP});
/** RS1 answering one of our RIP probes: names 02:..:11 as real server 198.51.100.11. */
const rs1Sighting = arpFrame({op: ArpOperation.Reply, sha: RS1_MAC, spa: RS1, tha: AUDITOR_MAC, tpa: ip('0.0.0.0')});

function judge(frames: Buffer[], expectation: {expectMacs?: MacAddress[]; ownVipMacs?: MacAddress[]} = {}) {
  const observer = new ArpObserver({vip: VIP, ownMac: AUDITOR_MAC, rips: [RS1, RS2]});
  frames.forEach((frame, i) => observer.observe(frame, 1000 + i * 10));
  const outcome = classifyPassive({
    observer,
    expectation: {expectMacs: expectation.expectMacs ?? [], ownVipMacs: expectation.ownVipMacs ?? []},
    startedAt: 1000,
  });
  return {outcome, ids: outcome.findings.map((f) => f.id)};
}

describe('arp-audit passive mode', () => {
  it('accepts VIP ARP from the expected director', () => {
    const {outcome, ids} = judge([reply(DIRECTOR_MAC), gratuitous(DIRECTOR_MAC)], {expectMacs: [DIRECTOR_MAC]});
    assert.deepEqual(ids, []);
    assert.equal(outcome.claims, 2);
    assert.equal(outcome.foreignSenders, 0);
    assert.deepEqual(outcome.senders[0]!.counts, {request: 0, reply: 1, gratuitous: 1});
  });

  it("names a real server asking with the VIP as sender (arp_announce=0): A4 and A5 (seed 003's Problem 3)", () => {
    const {outcome, ids} = judge([rs1Sighting, request(RS1_MAC, CLIENT_IP), request(RS1_MAC, GATEWAY)], {expectMacs: [DIRECTOR_MAC]});
    assert.deepEqual(ids, ['A4', 'A5']);
    const [a4, a5] = outcome.findings;
    assert.equal(a4!.mac?.toString(), '02:00:00:00:00:11');
    assert.equal(a4!.ip?.toString(), '198.51.100.11');
    assert.match(a4!.message, /^02:00:00:00:00:11 \(real server 198\.51\.100\.11\) sent 2 ARP packet\(s\) with sender 198\.51\.100\.100: 2 request\(s\) \(e\.g\. who-has 198\.51\.100\.50 tell 198\.51\.100\.100\)$/);
    assert.equal(a4!.fix, 'on 198.51.100.11: sysctl -w net.ipv4.conf.all.arp_announce=2');
    assert.match(a5!.message, /real server 198\.51\.100\.11 .* its arp_announce is below 2/);
    assert.equal(outcome.foreignSenders, 1);
    assert.equal(outcome.senders[0]!.firstMs, 10);
  });

  it('names the cause by what the foreign MAC sent: replies = arp_ignore, announcements = VIP on an ARP interface', () => {
    // A real server answering for the VIP is an arp_ignore fault, not A5's arp_announce.
    const rs2Sighting = arpFrame({op: ArpOperation.Request, sha: RS2_MAC, spa: RS2, tpa: GATEWAY});
    const replies = judge([rs2Sighting, reply(RS2_MAC)], {expectMacs: [DIRECTOR_MAC]});
    assert.deepEqual(replies.ids, ['A4']);
    assert.equal(replies.outcome.findings[0]!.fix, 'on 198.51.100.12: sysctl -w net.ipv4.conf.all.arp_ignore=1');
    const unnamed = judge([reply(RS2_MAC)], {expectMacs: [DIRECTOR_MAC]});
    assert.equal(unnamed.outcome.findings[0]!.fix, 'on the host owning 02:00:00:00:00:12: sysctl -w net.ipv4.conf.all.arp_ignore=1');
    const announced = judge([gratuitous(BACKUP_MAC)], {expectMacs: [DIRECTOR_MAC]});
    assert.deepEqual(announced.ids, ['A4']);
    assert.match(announced.outcome.findings[0]!.fix!, /move 198\.51\.100\.100 off its ARP-capable interface/);
  });

  it("on the director, its own VIP interfaces are the expected senders", () => {
    assert.deepEqual(judge([reply(AUDITOR_MAC)], {ownVipMacs: [AUDITOR_MAC]}).ids, []);
    assert.deepEqual(judge([gratuitous(BACKUP_MAC)], {ownVipMacs: [AUDITOR_MAC]}).ids, ['A4']);
  });

  it('without an expectation flags real servers, and several unknown claimants as a conflict', () => {
    assert.deepEqual(judge([reply(DIRECTOR_MAC)]).ids, []);
    assert.deepEqual(judge([rs1Sighting, request(RS1_MAC)]).ids, ['A4', 'A5']);
    const conflict = judge([reply(DIRECTOR_MAC), reply(BACKUP_MAC)]);
    assert.deepEqual(conflict.ids, ['A4', 'A4']);
    assert.match(conflict.outcome.findings[0]!.message, /2 MACs claim 198\.51\.100\.100: give --expect-mac/);
  });

  it('flags A6 when the MAC for the VIP flips back, but not for one change (a failover)', () => {
    const failover = judge([gratuitous(DIRECTOR_MAC), gratuitous(BACKUP_MAC), reply(BACKUP_MAC)], {expectMacs: [DIRECTOR_MAC, BACKUP_MAC]});
    assert.deepEqual(failover.ids, []);
    assert.equal(failover.outcome.changes, 1);
    // Both directors expected, yet they alternate: a VRRP split brain.
    const flip = judge([reply(DIRECTOR_MAC), reply(BACKUP_MAC), reply(DIRECTOR_MAC), reply(DIRECTOR_MAC), reply(BACKUP_MAC)], {
      expectMacs: [DIRECTOR_MAC, BACKUP_MAC],
    });
    assert.deepEqual(flip.ids, ['A6']);
    assert.equal(flip.outcome.changes, 3);
    assert.match(flip.outcome.findings[0]!.message, /changed 3 times: 02:00:00:00:00:02 -> 02:00:00:00:00:03 -> 02:00:00:00:00:02 -> 02:00:00:00:00:03/);
  });

  it('flags A7 once per Ethernet-source/sender pair', () => {
    const {outcome, ids} = judge([request(DIRECTOR_MAC, GATEWAY, RS2_MAC), request(DIRECTOR_MAC, CLIENT_IP, RS2_MAC)], {
      expectMacs: [DIRECTOR_MAC],
    });
    assert.deepEqual(ids, ['A7']);
    assert.match(outcome.findings[0]!.message, /^2 ARP packet\(s\) for 198\.51\.100\.100 from Ethernet source 02:00:00:00:00:12 name 02:00:00:00:00:02/);
  });

  it('catches the arp_announce=0 request on the in-memory wire while listening, with the real server resolved', async () => {
    const wire = new MemoryWire();
    const auditor = wire.attach('eth0', AUDITOR_MAC);
    new ArpHost(wire, DIRECTOR_MAC, [VIP]);
    const rs1 = new ArpHost(wire, RS1_MAC, [RS1]);
    new ArpHost(wire, RS2_MAC, [RS2]);
    const observer = new ArpObserver({vip: VIP, ownMac: AUDITOR_MAC, rips: [RS1, RS2]});
    const capture = runCapture(auditor, observer, {probes: 0, intervalMs: 0, listenMs: 120, deadline: performance.now() + 2000});
    await sleep(30);
    rs1.askFrom(VIP, CLIENT_IP);
    const run = await capture;
    assert.ok(run.endedAt - run.startedAt >= 115, 'listened for the whole window');
    // Passive alone sends nothing but the real server probes.
    assert.equal(auditor.sent.length, run.ripProbes);
    const outcome = classifyPassive({observer, expectation: {expectMacs: [], ownVipMacs: []}, startedAt: run.startedAt});
    assert.deepEqual(
      outcome.findings.map((f) => [f.id, f.ip?.toString()]),
      [
        ['A4', '198.51.100.11'],
        ['A5', '198.51.100.11'],
      ],
    );
    assert.ok(outcome.senders[0]!.firstMs >= 25, `first claim after ${outcome.senders[0]!.firstMs} ms`);
  });
});
