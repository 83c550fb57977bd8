/**
 * TcpConnection and the bulk receive offload (core/bulk-receive.ts): when the engine lets the offload take the
 * peer's segments, what it arms it with, and how it takes over what the offload took and acknowledged, without
 * a duplicate ACK (three of those are the sender's loss signal) and without losing an ACK it still owes.
 */
import assert from 'node:assert/strict';
import type {BulkHandoff} from '../../../src/core/bulk-receive.js';
import {ACK, FIN, PSH} from '../../support/segments.js';
import {CLIENT_ISN, SERVER_TS, Script, pattern} from '../../support/tcp-script.js';

const OUR_NEXT = CLIENT_ISN + 1;
/** Our MSS 1460 less the timestamp option. */
const FULL = 1448;
const SERVER_WINDOW = 65160;

function data(s: Script, offset: number, length: number, extra: {flags?: number; tsval?: number} = {}) {
  return {
    seq: s.serverSeq(offset),
    ack: OUR_NEXT,
    flags: ACK | (extra.flags ?? 0),
    window: SERVER_WINDOW,
    options: {timestamp: {value: extra.tsval ?? SERVER_TS + 1, echo: 1}},
    payload: pattern(length, offset),
  };
}

/** What the offload hands over after taking `length` bytes at `offset` and acknowledging up to `ackedTo`. */
function handoff(s: Script, offset: number, length: number, ackedTo: number, tsRecent = SERVER_TS + 2): BulkHandoff {
  return {chunks: [pattern(length, offset)], firstSeq: s.serverSeq(offset), lastAckSent: s.serverSeq(ackedTo), tsRecent, frames: 1, acks: ackedTo > offset ? 1 : 0};
}

function established(overrides = {}) {
  const s = new Script({delayedAckMs: 40, quickAcks: 0, ...overrides});
  s.handshake();
  return s;
}

describe('TcpConnection and the bulk receive offload', () => {
  it('is not armed before a full-sized segment, and is armed with the receiver and sender state after one', () => {
    const s = established();
    assert.equal(s.conn.bulkReceiveArm(), undefined, 'no bulk transfer yet');
    s.receive(data(s, 0, 500));
    assert.equal(s.conn.bulkReceiveArm(), undefined, 'a short segment is not a bulk transfer');
    s.receive(data(s, 500, 20 * FULL, {tsval: SERVER_TS + 5}));
    const arm = s.conn.bulkReceiveArm();
    assert.ok(arm, 'armed after a GRO frame');
    const end = 500 + 20 * FULL;
    assert.equal(arm.fields.rcvNxt, s.serverSeq(end));
    assert.equal(arm.fields.lastAckSent, s.serverSeq(end), 'the frame was acknowledged at once');
    assert.equal(arm.fields.peerAck, OUR_NEXT);
    assert.equal(arm.fields.peerWindow, SERVER_WINDOW);
    assert.equal(arm.fields.minPayload, FULL);
    assert.equal(arm.fields.scale, 7);
    assert.equal(arm.fields.timestamps, true);
    // RFC 7323 4.3: only a segment starting at or before Last.ACK.sent updates TS.Recent, and the short one's ACK
    // was still delayed when the frame came.
    assert.equal(arm.fields.tsRecent, SERVER_TS + 1);
    // Nothing read yet: the edge is the 256 KiB buffer past the data delivered, the acceptance limit the same.
    assert.equal(arm.fields.edge, s.serverSeq(256 * 1024));
    assert.equal(arm.fields.acceptUntil, arm.fields.edge);
    assert.equal(arm.ack.repr.sequenceNumber, OUR_NEXT);
    assert.equal(arm.ack.repr.flags, ACK);
    assert.equal(arm.ack.payload.length, 0);
    assert.deepEqual(arm.ack.repr.options?.timestamp, {value: arm.fields.tsval, echo: SERVER_TS + 1});
  });

  it('is armed while our acknowledged request has no answer yet, and not after a short answer', () => {
    const s = established();
    const request = 'GET / HTTP/1.1\r\n\r\n';
    s.write(request);
    assert.equal(s.conn.bulkReceiveArm(), undefined, 'the request is in flight');
    const afterRequest = OUR_NEXT + request.length;
    s.receive({seq: s.serverSeq(0), ack: afterRequest, flags: ACK, window: SERVER_WINDOW, options: {timestamp: {value: SERVER_TS + 1, echo: 1}}});
    const arm = s.conn.bulkReceiveArm();
    assert.ok(arm, 'the request is acknowledged and unanswered: the answer may be a bulk transfer');
    assert.equal(arm.fields.rcvNxt, s.serverSeq(0));
    assert.equal(arm.fields.peerAck, afterRequest);
    assert.equal(arm.fields.peerWindow, SERVER_WINDOW);
    assert.equal(arm.ack.repr.sequenceNumber, afterRequest);
    const short = established();
    short.write(request);
    short.receive({seq: short.serverSeq(0), ack: afterRequest, flags: ACK, window: SERVER_WINDOW, options: {timestamp: {value: SERVER_TS + 1, echo: 1}}});
    short.receive({...data(short, 0, 300), ack: afterRequest});
    assert.equal(short.conn.bulkReceiveArm(), undefined, 'a short answer: no bulk transfer');
    // The offload took the answer's first frame: that is a bulk transfer, and the flow stays armed after it.
    s.receiveBulk(handoff(s, 0, 5 * FULL, 5 * FULL));
    assert.equal(s.conn.bulkReceiveArm()?.fields.rcvNxt, s.serverSeq(5 * FULL), 'armed again after the hand-off');
  });

  it('is not armed while our data is unacknowledged, data is out of order, an ACK is owed or the peer has finished', () => {
    const inFlight = established();
    inFlight.receive(data(inFlight, 0, 4 * FULL));
    inFlight.write('GET / HTTP/1.1\r\n\r\n');
    assert.equal(inFlight.conn.bulkReceiveArm(), undefined, 'our request is in flight');

    const hole = established();
    hole.receive(data(hole, 0, 4 * FULL));
    hole.receive(data(hole, 5 * FULL, FULL));
    assert.equal(hole.conn.bulkReceiveArm(), undefined, 'out-of-order data held: our ACKs carry SACK blocks');
    hole.receive(data(hole, 4 * FULL, FULL));
    assert.ok(hole.conn.bulkReceiveArm(), 'the hole filled');

    const owed = established();
    owed.receive(data(owed, 0, 4 * FULL));
    owed.receive(data(owed, 4 * FULL, FULL));
    assert.ok(owed.conn.bulkReceiveArm(), 'a lone full-sized segment leaves a delayed ACK pending, which the offload covers');

    const finished = established();
    finished.receive(data(finished, 0, 4 * FULL, {flags: FIN}));
    assert.equal(finished.conn.bulkReceiveArm(), undefined, 'after the FIN');

    const late = established({deadline: 100});
    late.receive(data(late, 0, 4 * FULL));
    late.at(100);
    assert.equal(late.conn.bulkReceiveArm(), undefined, 'past the deadline');
  });

  it('takes what the offload acknowledged without acknowledging it again, and echoes its TS.Recent later', () => {
    const s = established();
    s.receive(data(s, 0, 4 * FULL));
    const arm = s.conn.bulkReceiveArm()!;
    s.takeEvents();
    const sentBefore = s.sent.length;
    const out = s.receiveBulk(handoff(s, 4 * FULL, 40 * FULL, 44 * FULL));
    assert.deepEqual(out, [], 'no duplicate ACK');
    assert.deepEqual(s.takeEvents(), [{type: 'data', bytes: 40 * FULL}]);
    assert.equal(s.conn.pollAt(), 10_000, 'no delayed ACK owed: only the deadline');
    assert.equal(s.conn.counters.bytesReceived, 44 * FULL);
    assert.deepEqual(s.readAll().data, pattern(44 * FULL));
    // The next ACK of the engine's own: after the offload's edge, the data read, so the window opens again.
    s.receive(data(s, 44 * FULL, 8 * FULL, {tsval: SERVER_TS + 9}));
    const ack = s.sent.slice(sentBefore).at(-1)!;
    assert.equal(ack.repr.acknowledgmentNumber, s.serverSeq(52 * FULL));
    assert.equal(ack.repr.options?.timestamp?.echo, SERVER_TS + 9, 'TS.Recent moved on from the offload`s');
    assert.ok(ack.repr.window * 128 >= arm.fields.edge - s.serverSeq(52 * FULL), 'the right edge never moves left');
  });

  it('owes the ACK the offload left: at once beyond one full segment, else after the delayed-ACK time', () => {
    const lone = established();
    lone.receive(data(lone, 0, 4 * FULL));
    lone.conn.bulkReceiveArm();
    assert.deepEqual(lone.receiveBulk(handoff(lone, 4 * FULL, 3 * FULL, 6 * FULL)), [], 'one segment left: delayed');
    assert.equal(lone.conn.pollAt(), 40);
    const delayed = lone.runTimers(50);
    assert.deepEqual(delayed.map((seg) => seg.repr.acknowledgmentNumber), [lone.serverSeq(7 * FULL)]);

    const two = established();
    two.receive(data(two, 0, 4 * FULL));
    two.conn.bulkReceiveArm();
    const out = two.receiveBulk(handoff(two, 4 * FULL, 2 * FULL, 4 * FULL, SERVER_TS + 3));
    assert.deepEqual(out.map((seg) => seg.repr.acknowledgmentNumber), [two.serverSeq(6 * FULL)], 'two segments unacknowledged: ACK now');
    assert.equal(out[0]!.repr.options?.timestamp?.echo, SERVER_TS + 3);
  });

  it('stops at the receive limit: armed to accept no further, and a hand-off past it fails the connection', () => {
    const s = established({maxReceiveBytes: 10 * FULL});
    s.receive(data(s, 0, 4 * FULL));
    const arm = s.conn.bulkReceiveArm()!;
    assert.equal(arm.fields.acceptUntil, s.serverSeq(10 * FULL));
    assert.ok(arm.fields.edge > arm.fields.acceptUntil, 'the advertised window is not shrunk for it');
    const out = s.receiveBulk(handoff(s, 4 * FULL, 8 * FULL, 12 * FULL));
    assert.equal(s.conn.error, 'receive-limit');
    assert.ok(out.some((seg) => seg.repr.flags & 0x04), 'a RST');
  });

  it('refuses a hand-off that does not start at RCV.NXT (a bug, never data to take)', () => {
    const s = established();
    s.receive(data(s, 0, 4 * FULL, {flags: PSH}));
    s.conn.bulkReceiveArm();
    assert.throws(() => s.receiveBulk(handoff(s, 5 * FULL, FULL, 6 * FULL)), /RCV\.NXT/);
  });
});
