import assert from 'node:assert/strict';
import {MacAddress} from '../../../src/core/wire/address.js';
import {ArpOperation} from '../../../src/core/wire/arp.js';
import {ArpObserver} from '../../../src/plugins/arp-audit/observer.js';
import {
  arpFrame,
  AUDITOR_MAC,
  CLIENT_IP,
  DIRECTOR_IP,
  DIRECTOR_MAC,
  ip,
  RS1,
  RS1_MAC,
  RS2,
  VIP,
} from './support.js';

const ANY = ip('0.0.0.0');

function observer(): ArpObserver {
  return new ArpObserver({vip: VIP, ownMac: AUDITOR_MAC, rips: [RS1, RS2]});
}

/** The reply Linux sends to our probe for the VIP. */
const probeReply = (from: MacAddress, ethSource = from) =>
  arpFrame({op: ArpOperation.Reply, sha: from, spa: VIP, tha: AUDITOR_MAC, tpa: ANY, ethSource});

describe('arp-audit observer', () => {
  it('takes a reply to our probe (target 0.0.0.0, to our MAC) as a response of the probe round it follows', () => {
    const o = observer();
    o.probeSent(0);
    o.observe(probeReply(DIRECTOR_MAC), 0.4);
    o.probeSent(500);
    o.observe(probeReply(RS1_MAC), 500.3);
    o.observe(probeReply(DIRECTOR_MAC), 500.6);
    assert.deepEqual(
      o.responses.map((r) => [r.senderMac.toString(), r.round]),
      [
        ['02:00:00:00:00:02', 1],
        ['02:00:00:00:00:11', 2],
        ['02:00:00:00:00:02', 2],
      ],
    );
    assert.equal(o.claims.length, 0);
    // Our kernel's own lookup of the VIP is answered to our MAC too, but to our address: a claim, not a response.
    o.observe(arpFrame({op: ArpOperation.Reply, sha: DIRECTOR_MAC, spa: VIP, tha: AUDITOR_MAC, tpa: CLIENT_IP}), 501);
    assert.equal(o.responses.length, 3);
    assert.equal(o.claims.length, 1);
  });

  it('takes a broadcast probe reply as a response too, but not a reply to someone else', () => {
    const o = observer();
    o.probeSent(0);
    o.observe(arpFrame({op: ArpOperation.Reply, sha: DIRECTOR_MAC, spa: VIP, tpa: ANY, ethDestination: MacAddress.BROADCAST}), 1);
    // A unicast reply to another prober (seen only in promiscuous mode) is a claim, not a response to us.
    o.observe(arpFrame({op: ArpOperation.Reply, sha: RS1_MAC, spa: VIP, tha: RS1_MAC, tpa: ANY, ethDestination: DIRECTOR_MAC}), 2);
    assert.equal(o.responses.length, 1);
    assert.equal(o.claims.length, 1);
    assert.equal(o.claims[0]!.kind, 'reply');
  });

  it('files every other packet with sender IP = VIP as a claim of the right kind', () => {
    const o = observer();
    o.observe(arpFrame({op: ArpOperation.Request, sha: RS1_MAC, spa: VIP, tpa: CLIENT_IP}), 10); // arp_announce=0
    o.observe(arpFrame({op: ArpOperation.Reply, sha: DIRECTOR_MAC, spa: VIP, tha: AUDITOR_MAC, tpa: CLIENT_IP}), 20); // answer to our kernel
    o.observe(arpFrame({op: ArpOperation.Request, sha: DIRECTOR_MAC, spa: VIP, tpa: VIP}), 30); // gratuitous
    assert.deepEqual(
      o.claims.map((c) => [c.kind, c.senderMac.toString(), c.targetIp.toString(), c.at]),
      [
        ['request', '02:00:00:00:00:11', '198.51.100.50', 10],
        ['reply', '02:00:00:00:00:02', '198.51.100.50', 20],
        ['gratuitous', '02:00:00:00:00:02', '198.51.100.100', 30],
      ],
    );
    // Without a probe out, even a reply with target 0.0.0.0 is someone else's business: a claim.
    o.observe(probeReply(RS1_MAC), 40);
    assert.equal(o.responses.length, 0);
    assert.equal(o.claims.length, 4);
  });

  it('learns real server MACs from any packet they send from their own address', () => {
    const o = observer();
    o.observe(arpFrame({op: ArpOperation.Reply, sha: RS1_MAC, spa: RS1, tha: AUDITOR_MAC, tpa: ANY}), 1);
    o.observe(arpFrame({op: ArpOperation.Request, sha: DIRECTOR_MAC, spa: DIRECTOR_IP, tpa: RS1}), 2);
    assert.equal(o.realServerOf(RS1_MAC)?.toString(), '198.51.100.11');
    assert.equal(o.realServerOf(DIRECTOR_MAC), undefined);
    assert.deepEqual(o.unresolvedRealServers().map(String), ['198.51.100.12']);
    // A zero or multicast sender MAC names nobody.
    o.observe(arpFrame({op: ArpOperation.Reply, sha: MacAddress.ZERO, spa: RS2, tpa: ANY, ethSource: RS1_MAC, ethDestination: AUDITOR_MAC}), 3);
    assert.deepEqual(o.unresolvedRealServers().map(String), ['198.51.100.12']);
  });

  it("counts other hosts' probes for the VIP and ignores non-VIP chatter", () => {
    const o = observer();
    o.observe(arpFrame({op: ArpOperation.Request, sha: DIRECTOR_MAC, spa: ANY, tpa: VIP}), 1);
    o.observe(arpFrame({op: ArpOperation.Request, sha: DIRECTOR_MAC, spa: DIRECTOR_IP, tpa: CLIENT_IP}), 2);
    assert.equal(o.foreignProbes, 1);
    assert.equal(o.claims.length, 0);
    assert.equal(o.responses.length, 0);
  });

  it('counts malformed and non-ARP frames without throwing', () => {
    const o = observer();
    const good = arpFrame({op: ArpOperation.Request, sha: RS1_MAC, spa: VIP, tpa: CLIENT_IP});
    const truncated = good.subarray(0, 20);
    const rarp = Buffer.from(good);
    rarp.writeUInt16BE(3, 14 + 6); // RARP request operation
    const ipv4 = Buffer.from(good);
    ipv4.writeUInt16BE(0x0800, 12);
    for (const frame of [truncated, rarp, ipv4, Buffer.alloc(0), Buffer.alloc(13, 0xff)]) o.observe(frame, 1);
    assert.equal(o.malformed, 5);
    assert.equal(o.frames, 5);
    assert.equal(o.claims.length, 0);
  });
});
