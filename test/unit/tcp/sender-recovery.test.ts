/**
 * NewReno's "recover" (RFC 6582) in the sender, scripted ACK by ACK, with ISNs in both halves of the sequence
 * space and one whose data wraps past 2^32: fast retransmit starts on the third duplicate ACK whatever the ISN;
 * after a retransmission timeout, duplicates of a spurious resend do not start it, and a new loss does.
 */
import assert from 'node:assert/strict';
import {Sender} from '../../../src/core/tcp/sender.js';
import {seqAdd} from '../../../src/core/wire/seq.js';

const MSS = 1000;
const ISNS = [
  {name: 'lower half', isn: 1000},
  {name: 'upper half', isn: 0x9000_0000},
  {name: 'wrapping during the transfer', isn: 0xffff_f000},
] as const;

function connectedSender(isn: number): Sender {
  const sender = new Sender({bufferSize: 1 << 20, initialWindowSegments: 10, initialRtoMs: 200, minRtoMs: 200, maxRtoMs: 60_000});
  sender.begin(0, isn);
  sender.synchronized(1, 5000, seqAdd(isn, 1), 65535, MSS, 0);
  sender.write(Buffer.alloc(20 * MSS, 0x61));
  const sent = sender.transmit(2, MSS);
  assert.equal(sent.length, 10, 'the initial window');
  return sender;
}

/** The peer's cumulative ACK for the first `segments` segments after ISN + 1. */
const ackOf = (isn: number, segments: number) => seqAdd(isn, 1 + segments * MSS);

for (const {name, isn} of ISNS) {
  describe(`Sender loss recovery, ISN in the ${name} (0x${isn.toString(16)})`, () => {
    it('the third duplicate ACK starts a fast retransmit of SND.UNA', () => {
      const sender = connectedSender(isn);
      sender.onAck(10, 5000, ackOf(isn, 1), 65535, true, undefined);
      for (let i = 0; i < 3; i++) sender.onAck(11 + i, 5000, ackOf(isn, 1), 65535, true, undefined);
      assert.equal(sender.retransmitDue, true);
      const resent = sender.retransmitFirst(14, MSS);
      assert.equal(resent?.seq, ackOf(isn, 1));
      assert.equal(sender.counters.fastRetransmits, 1);
    });

    it('with SACK blocks, the third duplicate ACK starts RFC 6675 recovery and resends the hole', () => {
      const sender = connectedSender(isn);
      sender.useNegotiated({timestamps: false, sack: true});
      const block = [[ackOf(isn, 2), ackOf(isn, 3)]] as const;
      sender.onAck(9, 5000, ackOf(isn, 1), 65535, true, undefined);
      for (let i = 0; i < 3; i++) sender.onAck(10 + i, 5000, ackOf(isn, 1), 65535, true, undefined, [[block[0][0], seqAdd(block[0][1], i * MSS)]]);
      const out = sender.transmit(14, MSS);
      assert.ok(out.length >= 1, 'something goes out');
      assert.equal(out[0]!.seq, ackOf(isn, 1), 'the hole at SND.UNA first');
      assert.equal(out[0]!.retransmission, true);
      assert.equal(sender.counters.fastRetransmits, 1);
    });

    it('duplicate ACKs after a spurious timeout do not start a fast retransmit (RFC 6582 4 and 4.1)', () => {
      const sender = connectedSender(isn);
      sender.onRetransmitTimeout();
      assert.equal(sender.transmit(300, MSS)[0]?.seq, ackOf(isn, 0), 'go-back-N from SND.UNA');
      // The original flight was only late: one ACK covers all of it, then the resent segment's duplicates come.
      sender.onAck(310, 5000, ackOf(isn, 10), 65535, true, undefined);
      assert.ok(sender.transmit(311, MSS).length > 0, 'new data after the jump');
      for (let i = 0; i < 3; i++) sender.onAck(312 + i, 5000, ackOf(isn, 10), 65535, true, undefined);
      assert.equal(sender.retransmitDue, false);
      assert.equal(sender.counters.fastRetransmits, 0);
    });

    it('a loss within the flight resent after a timeout is fast-retransmitted (RFC 6582 4.1 ACK heuristic)', () => {
      const sender = connectedSender(isn);
      sender.onRetransmitTimeout();
      sender.transmit(300, MSS);
      // The resent segments are acknowledged one at a time (they were really lost), then one of them is lost again.
      sender.onAck(310, 5000, ackOf(isn, 1), 65535, true, undefined);
      sender.transmit(311, MSS);
      sender.onAck(320, 5000, ackOf(isn, 2), 65535, true, undefined);
      sender.transmit(321, MSS);
      for (let i = 0; i < 3; i++) sender.onAck(330 + i, 5000, ackOf(isn, 2), 65535, true, undefined);
      assert.equal(sender.retransmitDue, true);
      assert.equal(sender.retransmitFirst(334, MSS)?.seq, ackOf(isn, 2));
    });
  });
}
