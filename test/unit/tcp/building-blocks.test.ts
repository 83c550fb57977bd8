/**
 * The connection's building blocks on their own: the byte queue, the out-of-order reassembler, the RTO
 * estimator and the SACK scoreboard.
 */
import assert from 'node:assert/strict';
import {ByteQueue} from '../../../src/core/tcp/byte-queue.js';
import {Reassembler} from '../../../src/core/tcp/reassembly.js';
import {RttEstimator} from '../../../src/core/tcp/rtt.js';
import {MAX_SACK_RANGES, SackScoreboard} from '../../../src/core/tcp/sack-scoreboard.js';
import {pattern} from '../../support/tcp-script.js';

describe('ByteQueue', () => {
  it('peeks across chunk boundaries, shifts and drops from the front', () => {
    const q = new ByteQueue();
    q.push(pattern(10, 0));
    q.push(pattern(5, 10));
    q.push(Buffer.alloc(0));
    q.push(pattern(20, 15));
    assert.equal(q.length, 35);
    assert.deepEqual(q.peek(8, 10), pattern(10, 8));
    assert.deepEqual(q.peek(10, 5), pattern(5, 10));
    q.drop(3);
    assert.deepEqual(q.shift(4), pattern(4, 3));
    assert.deepEqual(q.shift(), pattern(3, 7), 'the rest of the first chunk');
    assert.deepEqual(q.peek(0, 25), pattern(25, 10));
    assert.throws(() => q.peek(20, 10), RangeError);
    assert.throws(() => q.drop(26), RangeError);
    q.drop(25);
    assert.equal(q.length, 0);
    assert.equal(q.shift(), undefined);
  });

  it('packs small copies into shared growing blocks: 20000 one-byte pushes are five chunks (1, 2, 4, 8, 16 KiB), not 20000', () => {
    const q = new ByteQueue();
    const source = pattern(20_000);
    for (let i = 0; i < 20_000; i++) q.pushCopy(source.subarray(i, i + 1));
    assert.equal(q.chunkCount, 5);
    source.fill(0);
    assert.deepEqual(q.peek(0, 20_000), pattern(20_000), 'copies, not views of the caller buffer');
  });

  it('keeps packing correct while the front is consumed and after compaction', () => {
    const q = new ByteQueue();
    let written = 0;
    let read = 0;
    for (let round = 0; round < 300; round++) {
      q.pushCopy(pattern(7, written));
      written += 7;
      if (round % 3 === 0) {
        q.push(Buffer.from(pattern(2000, written)));
        written += 2000;
      }
      const chunk = q.shift(round % 2 === 0 ? 5 : 3000)!;
      assert.deepEqual(chunk, pattern(chunk.length, read));
      read += chunk.length;
    }
    assert.deepEqual(q.peek(0, q.length), pattern(written - read, read));
  });

  it('stays correct over many small chunks (compaction)', () => {
    const q = new ByteQueue();
    for (let i = 0; i < 500; i++) q.push(pattern(3, i * 3));
    for (let i = 0; i < 400; i++) q.drop(3);
    assert.deepEqual(q.peek(0, 300), pattern(300, 1200));
  });
});

describe('Reassembler', () => {
  it('keeps the first copy of overlapping data and reports how each insert went', () => {
    const r = new Reassembler();
    assert.equal(r.insert(100, pattern(50, 100)), 'stored');
    assert.equal(r.insert(120, Buffer.alloc(10, 0xee)), 'duplicate', 'held bytes win');
    assert.equal(r.insert(90, pattern(80, 90)), 'stored', 'new bytes on both sides');
    assert.equal(r.bufferedBytes, 80);
    assert.deepEqual(r.ranges(), [{start: 90, end: 170}]);
    assert.deepEqual(Buffer.concat(r.takeFrom(90)), pattern(80, 90));
    assert.ok(r.isEmpty);
  });

  it('lists SACK ranges merged and most recently touched first', () => {
    const r = new Reassembler();
    r.insert(100, pattern(10, 100));
    r.insert(300, pattern(10, 300));
    r.insert(200, pattern(10, 200));
    assert.deepEqual(r.ranges().map((x) => x.start), [200, 300, 100]);
    r.insert(110, pattern(5, 110)); // adjacent to the first: extends it and makes it the most recent
    assert.deepEqual(r.ranges(), [{start: 100, end: 115}, {start: 200, end: 210}, {start: 300, end: 310}]);
  });

  it('hands back what continues the stream, trimming a piece that straddles the edge', () => {
    const r = new Reassembler();
    r.insert(50, pattern(100, 50));
    r.insert(200, pattern(10, 200));
    assert.deepEqual(Buffer.concat(r.takeFrom(120)), pattern(30, 120));
    assert.deepEqual(r.ranges(), [{start: 200, end: 210}]);
    assert.deepEqual(r.takeFrom(199), []);
  });

  it('refuses a segment that would exceed the piece cap and keeps nothing of it', () => {
    const r = new Reassembler(2);
    r.insert(0, pattern(1));
    r.insert(10, pattern(1, 10));
    assert.equal(r.insert(20, pattern(1, 20)), 'refused');
    assert.equal(r.insert(5, pattern(1, 5)), 'refused');
    assert.equal(r.insert(1, pattern(9, 1)), 'refused', 'filling the gap would be fine memory-wise, but it is a third piece');
    assert.equal(r.bufferedBytes, 2);
  });

  it('stores copies, so a stored piece does not pin the segment buffer', () => {
    const r = new Reassembler();
    const frame = pattern(1000);
    r.insert(0, frame.subarray(10, 11));
    frame.fill(0);
    assert.deepEqual(r.takeFrom(0)[0], pattern(1, 10));
    assert.equal(r.takeFrom(0).length, 0);
  });
});

describe('RttEstimator (RFC 6298)', () => {
  const config = {initialRtoMs: 1000, minRtoMs: 200, maxRtoMs: 8000};

  it('starts at the initial RTO and follows SRTT + 4 RTTVAR, never below the floor', () => {
    const rtt = new RttEstimator(config);
    assert.equal(rtt.rtoMs, 1000);
    rtt.sample(100);
    assert.equal(rtt.srttMs, 100);
    assert.equal(rtt.rtoMs, 300);
    rtt.sample(20);
    assert.equal(rtt.srttMs, 90);
    assert.equal(rtt.rtoMs, 90 + 4 * (0.75 * 50 + 0.25 * 80));
    const lan = new RttEstimator(config);
    lan.sample(0.2);
    assert.equal(lan.rtoMs, 200);
  });

  it('doubles on each expiry up to the cap, and a new sample clears the backoff', () => {
    const rtt = new RttEstimator(config);
    rtt.sample(100);
    rtt.backoff();
    rtt.backoff();
    assert.equal(rtt.rtoMs, 1200);
    assert.equal(rtt.backoffs, 2);
    for (let i = 0; i < 10; i++) rtt.backoff();
    assert.equal(rtt.rtoMs, 8000);
    rtt.sample(100);
    assert.equal(rtt.backoffs, 0);
    assert.ok(rtt.rtoMs < 1000);
  });

  it('ignores nonsense samples', () => {
    const rtt = new RttEstimator(config);
    rtt.sample(-5);
    rtt.sample(Number.NaN);
    assert.equal(rtt.srttMs, undefined);
  });
});

describe('SackScoreboard', () => {
  it('merges overlapping and touching blocks, and shifts with cumulative ACKs', () => {
    const board = new SackScoreboard();
    board.add(100, 200);
    board.add(300, 400);
    board.add(200, 250); // touches the first
    board.add(350, 500); // overlaps the second
    assert.equal(board.rangeCount, 2);
    assert.equal(board.highest, 500);
    assert.equal(board.sackedIn(0, 1000), 150 + 200);
    assert.equal(board.sackedIn(120, 320), 130 + 20);
    assert.ok(board.isSacked(100) && !board.isSacked(250) && board.isSacked(499) && !board.isSacked(500));
    board.advance(150);
    assert.equal(board.sackedIn(0, 1000), 100 + 200);
    assert.ok(board.isSacked(0) && board.isSacked(99) && !board.isSacked(100));
    board.advance(1000);
    assert.ok(board.isEmpty);
    board.add(10, 10);
    board.add(-5, 3);
    assert.ok(board.isEmpty, 'empty and negative ranges are ignored');
  });

  it('finds the holes below a limit, in order', () => {
    const board = new SackScoreboard();
    board.add(1000, 2000);
    board.add(3000, 4000);
    assert.deepEqual(board.nextHole(0, board.highest), {start: 0, end: 1000});
    assert.deepEqual(board.nextHole(1000, board.highest), {start: 2000, end: 3000});
    assert.deepEqual(board.nextHole(2500, board.highest), {start: 2500, end: 3000});
    assert.equal(board.nextHole(3000, board.highest), undefined, 'nothing below the highest SACKed byte');
    assert.deepEqual(board.nextHole(3000, 5000), {start: 4000, end: 5000});
  });

  it('holds at most MAX_SACK_RANGES ranges, forgetting the highest (a peer SACKing every other byte)', () => {
    const board = new SackScoreboard();
    for (let i = 0; i < 1000; i++) board.add(i * 2, i * 2 + 1);
    assert.equal(board.rangeCount, MAX_SACK_RANGES);
    assert.equal(board.highest, (MAX_SACK_RANGES - 1) * 2 + 1);
  });
});
