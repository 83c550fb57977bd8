/**
 * TcpConnection: the send path in scripted exchanges -- segmentation by the peer's MSS, the peer's window,
 * retransmission timeouts with backoff, fast retransmit, zero-window probing, and write backpressure.
 */
import assert from 'node:assert/strict';
import {ACK} from '../../support/segments.js';
import {CLIENT_ISN, LINUX_SYN_ACK_OPTIONS, SERVER_ISN, Script, describeSegment, flags, pattern} from '../../support/tcp-script.js';

const SERVER_NEXT = SERVER_ISN + 1;

/** A server ACK of `offset` bytes of our stream, with the window field `window`. */
function ackOf(s: Script, offset: number, window = 512, extra: object = {}) {
  return {seq: SERVER_NEXT, ack: s.clientSeq(offset), flags: ACK, window, ...extra};
}

describe('TcpConnection send path', () => {
  it('cuts writes at the peer MSS less the timestamp option (RFC 6691), PSH on the last', () => {
    const s = new Script();
    s.handshake({...LINUX_SYN_ACK_OPTIONS, mss: 536});
    const {out} = s.write(pattern(2000));
    assert.deepEqual(out.map(describeSegment), [
      `. seq=${s.clientSeq(0)} len=524 ack=${SERVER_NEXT} win=2048`,
      `. seq=${s.clientSeq(524)} len=524 ack=${SERVER_NEXT} win=2048`,
      `. seq=${s.clientSeq(1048)} len=524 ack=${SERVER_NEXT} win=2048`,
      `P. seq=${s.clientSeq(1572)} len=428 ack=${SERVER_NEXT} win=2048`,
    ]);
    assert.deepEqual(Buffer.concat(out.map((seg) => seg.payload)), pattern(2000));
  });

  it('never sends more than our own MSS even if the peer allows more', () => {
    const s = new Script({mss: 1400});
    s.handshake({...LINUX_SYN_ACK_OPTIONS, mss: 8960});
    const {out} = s.write(pattern(3000));
    assert.ok(out.every((seg) => seg.payload.length <= 1400 - 12), out.map(describeSegment).join('\n'));
  });

  it('keeps what is in flight within the peer window, and sends more as ACKs open it', () => {
    const s = new Script();
    // The SYN-ACK window is never scaled: 3000 bytes.
    s.handshake(LINUX_SYN_ACK_OPTIONS, {window: 3000});
    const {out} = s.write(pattern(10_000));
    assert.equal(out.reduce((n, seg) => n + seg.payload.length, 0), 2896, 'two full segments; the 104-byte runt waits');
    const more = s.receive(ackOf(s, 2896, 3000 >> 7));
    assert.ok(more.length > 0);
    const inFlight = more.reduce((n, seg) => n + seg.payload.length, 0);
    assert.ok(inFlight <= (3000 >> 7) << 7, `${inFlight} bytes in flight with a ${(3000 >> 7) << 7}-byte window`);
  });

  it('retransmits on RTO with exponential backoff (200, 400, 800 ms), then times out with a RST at the deadline', () => {
    const s = new Script({deadline: 2000});
    s.handshake();
    s.write('hello');
    const retransmits = s.runTimers(1999).map((seg) => [s.sent.indexOf(seg), seg.payload.toString()]);
    assert.equal(retransmits.length, 3);
    const times = s.sent.filter((seg) => seg.payload.length === 5).length;
    assert.equal(times, 4, 'original plus three retransmissions');
    const end = s.at(2000);
    assert.deepEqual(end.map(describeSegment), [`R. seq=${s.clientSeq(5)} len=0 ack=${SERVER_NEXT} win=0`]);
    assert.equal(s.conn.error, 'timeout');
    assert.equal(s.conn.counters.timeouts, 3);
  });

  it('retransmits at 200, 600, 1400 ms after sending at 0 (the timer doubles each time)', () => {
    const s = new Script({deadline: 2000});
    s.handshake();
    s.write('x');
    const times: number[] = [];
    for (let t = s.conn.pollAt(); t < 2000; t = s.conn.pollAt()) {
      if (s.at(t).some((seg) => seg.payload.length === 1)) times.push(t);
    }
    assert.deepEqual(times, [200, 600, 1400]);
  });

  it('measures the RTT from timestamp echoes and derives the RTO from it (RFC 6298 2.2, 2.3)', () => {
    const s = new Script({minRtoMs: 10});
    const [syn] = s.start();
    s.now = 30;
    s.receive({seq: SERVER_ISN, ack: CLIENT_ISN + 1, flags: 0x12, options: {...LINUX_SYN_ACK_OPTIONS, timestamp: {value: 1, echo: syn!.repr.options!.timestamp!.value}}});
    assert.equal(s.conn.srttMs, 30, 'first sample: SRTT = R');
    assert.equal(s.conn.rtoMs, 30 + 4 * 15, 'RTTVAR = R / 2');
    s.now = 100;
    const {out} = s.write('ping');
    const tsval = out[0]!.repr.options!.timestamp!.value;
    s.now = 140;
    s.receive(ackOf(s, 4, 512, {options: {timestamp: {value: 900, echo: tsval}}}));
    assert.equal(s.conn.srttMs, 0.875 * 30 + 0.125 * 40);
    assert.equal(s.conn.rtoMs, 31.25 + 4 * (0.75 * 15 + 0.25 * 10));
  });

  it('keeps the RTO at its floor on a fast LAN', () => {
    const s = new Script();
    s.handshake();
    assert.equal(s.conn.srttMs, 0);
    assert.equal(s.conn.rtoMs, 200);
  });

  it('fast-retransmits the first unacknowledged segment on the third duplicate ACK', () => {
    const s = new Script();
    s.handshake();
    s.write(pattern(1448 * 6));
    const before = s.sent.length;
    assert.deepEqual(s.receive(ackOf(s, 1448)), [], 'new ACK: the window was already full of data');
    s.receive(ackOf(s, 1448));
    s.receive(ackOf(s, 1448));
    const third = s.receive(ackOf(s, 1448));
    assert.equal(flags(third[0]), '.');
    assert.equal(third[0]!.repr.sequenceNumber, s.clientSeq(1448));
    assert.deepEqual(third[0]!.payload, pattern(1448, 1448));
    assert.equal(s.conn.counters.fastRetransmits, 1);
    assert.ok(s.sent.length > before);
    // A partial ACK (NewReno) retransmits the next hole at once.
    const partial = s.receive(ackOf(s, 2896));
    assert.equal(partial[0]!.repr.sequenceNumber, s.clientSeq(2896));
    assert.equal(s.conn.counters.fastRetransmits, 2);
    // The full ACK ends recovery; nothing further is retransmitted.
    assert.deepEqual(s.receive(ackOf(s, 1448 * 6)), []);
    assert.equal(s.conn.unacknowledgedBytes, 0);
  });

  it('with SACK, resends the holes below the highest SACKed byte as the pipe drains, without waiting a round trip per hole (RFC 6675)', () => {
    const s = new Script();
    s.handshake(); // Linux offers SACK-permitted
    const segment = 1448;
    s.write(pattern(segment * 10));
    const sack = (...ranges: Array<[number, number]>) => ({options: {sackBlocks: ranges.map(([a, b]): [number, number] => [s.clientSeq(a * segment), s.clientSeq(b * segment)])}});
    const resent = (out: ReturnType<typeof s.receive>) =>
      out.filter((seg) => seg.payload.length > 0).map((seg) => (seg.repr.sequenceNumber - s.clientSeq(0)) / segment);
    assert.deepEqual(s.receive(ackOf(s, 0)), [], 'a window update, not a duplicate');
    // Segments 0 and 3 are lost; the peer acknowledges 0 bytes and SACKs what it holds, as Linux does.
    s.receive(ackOf(s, 0, 512, sack([1, 2])));
    s.receive(ackOf(s, 0, 512, sack([1, 3])));
    assert.deepEqual(resent(s.receive(ackOf(s, 0, 512, sack([4, 5], [1, 3])))), [0], 'recovery starts with the first hole');
    // Segments 5-9 arrive: the pipe empties and the second hole goes out before any partial ACK.
    assert.deepEqual(resent(s.receive(ackOf(s, 0, 512, sack([4, 7], [1, 3])))), [3]);
    assert.equal(s.conn.counters.fastRetransmits, 2);
    assert.deepEqual(resent(s.receive(ackOf(s, 0, 512, sack([4, 10], [1, 3])))), [], 'no hole left to resend');
    assert.deepEqual(s.receive(ackOf(s, 10 * segment)), []);
    assert.equal(s.conn.unacknowledgedBytes, 0);
  });

  it('ignores SACK blocks outside what was sent, and D-SACKs below SND.UNA', () => {
    const s = new Script();
    s.handshake();
    s.write(pattern(1448 * 4));
    const bogus = {options: {sackBlocks: [[s.clientSeq(-5000), s.clientSeq(-4000)], [s.clientSeq(1448 * 3), s.clientSeq(1448 * 9)]] as Array<[number, number]>}};
    s.receive(ackOf(s, 0)); // a window update, not a duplicate
    for (let i = 0; i < 3; i++) s.receive(ackOf(s, 0, 512, bogus));
    // Without a believable block this is plain NewReno: the first segment only.
    assert.equal(s.conn.counters.fastRetransmits, 1);
  });

  it('lets one new segment out on each of the first two duplicate ACKs (Limited Transmit, RFC 3042)', () => {
    const s = new Script();
    s.handshake();
    const {out} = s.write(pattern(1448 * 12));
    assert.equal(out.length, 10, 'the initial window: ten segments (RFC 6928)');
    assert.deepEqual(s.receive(ackOf(s, 0)), [], 'a window update is not a duplicate ACK');
    const first = s.receive(ackOf(s, 0));
    assert.deepEqual(first.map((seg) => seg.repr.sequenceNumber), [s.clientSeq(1448 * 10)]);
    const second = s.receive(ackOf(s, 0));
    assert.deepEqual(second.map((seg) => seg.repr.sequenceNumber), [s.clientSeq(1448 * 11)]);
    const third = s.receive(ackOf(s, 0));
    assert.deepEqual(third.map((seg) => seg.repr.sequenceNumber), [s.clientSeq(0)], 'then the fast retransmit');
  });

  it('does not count ACKs that carry data or move the window as duplicates', () => {
    const s = new Script();
    s.handshake();
    s.write(pattern(1448 * 4));
    for (let i = 0; i < 3; i++) s.receive({...ackOf(s, 0), payload: Buffer.from(`x${i}`), seq: SERVER_NEXT + 2 * i});
    for (let w = 600; w < 603; w++) s.receive(ackOf(s, 0, w));
    assert.equal(s.conn.counters.fastRetransmits, 0);
  });

  it('probes a zero window with an empty old-sequence segment, backing off, and sends when it opens', () => {
    const s = new Script({deadline: 60_000});
    s.handshake(LINUX_SYN_ACK_OPTIONS, {window: 0});
    const {out} = s.write('blocked');
    assert.deepEqual(out, [], 'zero window: nothing sent');
    const probes = s.runTimers(1500);
    assert.deepEqual(probes.map(describeSegment), [
      `. seq=${CLIENT_ISN} len=0 ack=${SERVER_NEXT} win=2048`,
      `. seq=${CLIENT_ISN} len=0 ack=${SERVER_NEXT} win=2048`,
      `. seq=${CLIENT_ISN} len=0 ack=${SERVER_NEXT} win=2048`,
    ]);
    assert.equal(s.conn.counters.windowProbes, 3);
    // The answer to a probe opens the window.
    const opened = s.receive(ackOf(s, 0, 100));
    assert.deepEqual(opened.map(describeSegment), [`P. seq=${s.clientSeq(0)} len=7 ack=${SERVER_NEXT} win=2048`]);
  });

  it('goes back to SND.UNA after a timeout when the peer shrank its window to zero, then probes', () => {
    const s = new Script();
    s.handshake();
    s.write(pattern(3000));
    s.receive(ackOf(s, 1448, 0));
    const after = s.runTimers(s.now + 700);
    assert.deepEqual(after.map(describeSegment), [`. seq=${s.clientSeq(1447)} len=0 ack=${SERVER_NEXT} win=2048`], 'no data into the zero window: a probe below SND.UNA, one RTO after the timeout');
    assert.equal(s.conn.counters.timeouts, 1);
  });

  it('accepts writes up to the send buffer and emits writable when ACKs free room', () => {
    const s = new Script({sendBufferSize: 4000});
    s.handshake();
    s.takeEvents();
    assert.equal(s.write(pattern(5000)).taken, 4000);
    assert.equal(s.conn.writableSpace, 0);
    s.receive(ackOf(s, 1448));
    assert.deepEqual(s.takeEvents(), [{type: 'writable'}]);
    assert.equal(s.conn.writableSpace, 1448);
  });

  it('ignores an ACK of data never sent, answering with a challenge ACK (RFC 5961 5.2)', () => {
    const s = new Script();
    s.handshake();
    s.write('abc');
    const out = s.receive(ackOf(s, 100));
    assert.deepEqual(out.map(describeSegment), [`. seq=${s.clientSeq(3)} len=0 ack=${SERVER_NEXT} win=2048`]);
    assert.equal(s.conn.unacknowledgedBytes, 3);
  });

  it('throws on write after shutdown', () => {
    const s = new Script();
    s.handshake();
    s.shutdown();
    assert.throws(() => s.conn.write(Buffer.from('late')), /shut down/);
  });
});
