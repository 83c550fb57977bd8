// Netlink replies are untrusted bytes too: every truncation of every captured reply, and thousands of seeded random
// mutations of them, go through the whole decode path (messages, errors, generic header, IPVS service and
// destination decoders, the /proc parser): nothing may throw.
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {decodeDestination, decodeService, IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE} from '../../../src/core/ipvs/netlink-codec.js';
import {parseProcIpvs} from '../../../src/core/ipvs/proc.js';
import {seededRandom} from '../../../src/core/link/memory-link.js';
import {NLMSG_ERROR, parseErrorReply, parseGeneric, parseMessages} from '../../../src/core/netlink/message.js';
import {FIXTURES, readTrace} from './strace-fixture.js';

/** Returns how many IPVS entries decoded; throws only if a decoder throws. */
function decodeEverything(datagram: Buffer): number {
  let decoded = 0;
  const messages = parseMessages(datagram);
  if (!messages.ok) return 0;
  for (const message of messages.value) {
    if (message.type === NLMSG_ERROR) {
      parseErrorReply(message);
      continue;
    }
    const generic = parseGeneric(message.payload);
    if (!generic.ok) continue;
    const service = generic.value.attributes.nested(IPVS_CMD_ATTR_SERVICE);
    if (service?.ok && decodeService(service.value).ok) decoded++;
    const dest = generic.value.attributes.nested(IPVS_CMD_ATTR_DEST);
    if (dest?.ok && decodeDestination(dest.value, 4).ok) decoded++;
  }
  return decoded;
}

describe('IPVS netlink decoding of hostile bytes', function () {
  const replies = ['list-tun-info', 'set-dest', 'del-missing'].flatMap((name) => readTrace(name).filter((d) => d.direction === 'received').map((d) => d.bytes));

  it('decodes the captured replies', function () {
    assert.equal(replies.reduce((n, r) => n + decodeEverything(r), 0), 5 + 8, 'five services and eight destinations');
  });

  it('never throws on a truncated reply', function () {
    for (const reply of replies) for (let cut = 0; cut <= reply.length; cut++) decodeEverything(reply.subarray(0, cut));
  });

  it('never throws on seeded random mutations', function () {
    const random = seededRandom(0x1905);
    for (let round = 0; round < 3000; round++) {
      const copy = Buffer.from(replies[round % replies.length]!);
      for (let flips = 1 + Math.floor(random() * 8); flips > 0; flips--) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      decodeEverything(copy);
    }
  });

  it('never throws on mutated /proc/net/ip_vs text', function () {
    const text = readFileSync(new URL('proc-ip_vs.txt', FIXTURES), 'utf8');
    const random = seededRandom(7);
    for (let round = 0; round < 2000; round++) {
      const chars = [...text];
      chars[Math.floor(random() * chars.length)] = ' :[]0F\n-'[Math.floor(random() * 8)]!;
      parseProcIpvs(chars.join(''));
    }
  });
});
