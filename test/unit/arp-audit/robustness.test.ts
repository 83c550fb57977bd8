/**
 * The observers read hostile frames (promiscuous captures of a whole segment): every truncation and thousands
 * of seeded mutations of ARP and NDP frames go through both observers and both classifiers, and nothing throws.
 */
import assert from 'node:assert/strict';
import {seededRandom} from '../../../src/core/link/memory-link.js';
import {classifyActive} from '../../../src/plugins/arp-audit/active.js';
import {NdpObserver} from '../../../src/plugins/arp-audit/ndp-observer.js';
import {ArpObserver, type NeighborObserver} from '../../../src/plugins/arp-audit/observer.js';
import {classifyPassive} from '../../../src/plugins/arp-audit/passive.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {AUDITOR_MAC, ip} from './support.js';

const frames = [kernelFrames.arpRequest, kernelFrames.arpReply, kernelFrames.ndpSolicitation, kernelFrames.ndpAdvertisement, kernelFrames.mldReportHopByHop].map(frameBytes);

function observers(): NeighborObserver[] {
  return [
    new ArpObserver({vip: ip('198.51.100.100'), ownMac: AUDITOR_MAC, rips: [ip('198.51.100.2')]}),
    new NdpObserver({vip: ip('2001:db8::100'), ownMac: AUDITOR_MAC, ownIp: ip('2001:db8::2'), rips: [ip('2001:db8::2')]}),
  ];
}

function judgeAll(list: NeighborObserver[]): void {
  for (const observer of list) {
    const expectation = {ownVipMacs: [], expectMacs: []};
    classifyActive({observer, expectation, interfaceName: 'eth0', windowMs: 1000});
    classifyPassive({observer, expectation, startedAt: 0});
  }
}

describe('arp-audit observers on hostile frames', () => {
  it('take every truncated prefix of ARP and NDP frames without throwing', () => {
    const list = observers();
    for (const frame of frames) {
      for (let length = 0; length <= frame.length; length++) for (const o of list) o.observe(frame.subarray(0, length), length);
    }
    judgeAll(list);
    assert.ok(list.every((o) => o.malformed > 50), list.map((o) => o.malformed).join(' '));
  });

  it('take 5000 seeded mutations without throwing, and still record some of them', () => {
    const random = seededRandom(0xa0d17);
    const pick = (n: number) => Math.floor(random() * n);
    const list = observers();
    list[0]!.probeSent(0);
    list[1]!.probeSent(0);
    for (let i = 0; i < 5000; i++) {
      const bytes = Buffer.from(frames[pick(frames.length)]!);
      for (let m = 1 + pick(3); m > 0; m--) bytes[pick(bytes.length)] = pick(256);
      for (const o of list) {
        try {
          o.observe(bytes, i);
        } catch (error) {
          assert.fail(`${o.protocol} observer threw on ${bytes.toString('hex')}: ${(error as Error).stack}`);
        }
      }
    }
    judgeAll(list);
    // Mutations that leave a frame valid still reach the record; checksums keep most NDP mutations out.
    for (const o of list) assert.ok(o.frames === 5000 && o.malformed < 5000, `${o.protocol}: ${o.malformed} malformed`);
  });
});
