/**
 * TcpConnection: the receive path in scripted exchanges -- ACK timing, reassembly of out-of-order, duplicated
 * and overlapping segments, SACK blocks, FIN variants, the receive window and backpressure, and the cap on
 * bytes received.
 */
import assert from 'node:assert/strict';
import {ACK, FIN, PSH} from '../../support/segments.js';
import {CLIENT_ISN, SERVER_ISN, Script, describeSegment, pattern} from '../../support/tcp-script.js';

const OUR_NEXT = CLIENT_ISN + 1;

/** A server data segment `offset` bytes into its stream, carrying the matching slice of pattern(). */
function data(s: Script, offset: number, length: number, extraFlags = 0) {
  return {seq: s.serverSeq(offset), ack: OUR_NEXT, flags: ACK | extraFlags, payload: pattern(length, offset)};
}

describe('TcpConnection receive path', () => {
  it('delivers in-order data, one data event per segment, and ACKs every segment with delayedAckMs 0', () => {
    const s = new Script();
    s.handshake();
    s.takeEvents();
    const out = s.receive(data(s, 0, 100, PSH));
    assert.deepEqual(out.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${SERVER_ISN + 101} win=2047`]);
    // 100 bytes unread: floor((262144 - 100) / 128)
    assert.deepEqual(s.takeEvents(), [{type: 'data', bytes: 100}]);
    assert.equal(s.conn.readableLength, 100);
    assert.deepEqual(s.readAll().data, pattern(100));
  });

  it('ACKs the first segments at once (quick-ACK), then every second one, and delays a lone one', () => {
    const quick = new Script({delayedAckMs: 40, quickAcks: 2});
    quick.handshake();
    assert.equal(quick.receive(data(quick, 0, 100)).length, 1);
    assert.equal(quick.receive(data(quick, 100, 100)).length, 1);
    assert.equal(quick.receive(data(quick, 200, 100)).length, 0, 'quick-ACKs used up: this one waits');
    assert.equal(quick.receive(data(quick, 300, 100)).length, 1, 'the second unacknowledged segment is ACKed at once');
  });

  it('delays the ACK of a lone segment and ACKs every second segment at once (RFC 9293 3.8.6.3)', () => {
    const s = new Script({delayedAckMs: 40, quickAcks: 0});
    s.handshake();
    assert.deepEqual(s.receive(data(s, 0, 1000)), [], 'first segment: ACK delayed');
    assert.equal(s.conn.pollAt(), 40);
    const second = s.receive(data(s, 1000, 1000));
    assert.deepEqual(second.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${SERVER_ISN + 2001} win=2032`]);
    // 2000 bytes unread: the right edge stays put, so the window shrinks: floor((262144 - 2000) / 128)
    s.now = 10;
    assert.deepEqual(s.receive(data(s, 2000, 500)), []);
    const timer = s.runTimers(100);
    assert.deepEqual(timer.map((seg) => [s.now, seg.repr.acknowledgmentNumber]), [[50, SERVER_ISN + 2501]], 'delayed ACK 40 ms after the segment');
  });

  it('counts full-sized segments in bytes: a GRO-merged segment is ACKed at once, a lone full one waits', () => {
    const s = new Script({delayedAckMs: 40, quickAcks: 0, mss: 1460});
    s.handshake();
    assert.deepEqual(s.receive(data(s, 0, 1448)), [], 'one full-sized segment: ACK delayed');
    const merged = s.receive(data(s, 1448, 20 * 1448));
    assert.deepEqual(merged.map((seg) => seg.repr.acknowledgmentNumber), [s.serverSeq(21 * 1448)], '21 segments in one frame: ACK now');
    assert.deepEqual(s.receive(data(s, 21 * 1448, 1448)), [], 'the next lone full-sized segment waits again');
    assert.equal(s.receive(data(s, 22 * 1448, 1448)).length, 1, 'and the second one is ACKed');
  });

  it('takes a whole response in 1-byte segments', () => {
    const s = new Script();
    s.handshake();
    const body = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
    for (let i = 0; i < body.length; i++) s.receive({seq: s.serverSeq(i), ack: OUR_NEXT, flags: ACK, payload: body.subarray(i, i + 1)});
    assert.equal(s.readAll().data.toString(), body.toString());
    assert.equal(s.sent.at(-1)!.repr.acknowledgmentNumber, s.serverSeq(body.length));
  });

  it('accepts segments far above the MSS (GRO hands captures up to 64 KiB)', () => {
    const s = new Script();
    s.handshake();
    s.receive(data(s, 0, 65_000));
    assert.deepEqual(s.readAll().data, pattern(65_000));
  });

  it('reassembles out-of-order segments, with immediate duplicate ACKs carrying SACK blocks, most recent first', () => {
    const s = new Script();
    s.handshake();
    const dup1 = s.receive(data(s, 1000, 1000));
    assert.deepEqual(dup1.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${SERVER_ISN + 1} win=2048`]);
    assert.deepEqual(dup1[0]!.repr.options!.sackBlocks, [[s.serverSeq(1000), s.serverSeq(2000)]]);
    const dup2 = s.receive(data(s, 3000, 500));
    assert.deepEqual(dup2[0]!.repr.options!.sackBlocks, [
      [s.serverSeq(3000), s.serverSeq(3500)],
      [s.serverSeq(1000), s.serverSeq(2000)],
    ]);
    assert.deepEqual(s.takeEvents().filter((e) => e.type === 'data'), [], 'nothing readable while the first bytes are missing');
    const filled = s.receive(data(s, 0, 1000));
    assert.equal(filled[0]!.repr.acknowledgmentNumber, s.serverSeq(2000), 'cumulative ACK jumps over the held segment');
    assert.deepEqual(filled[0]!.repr.options!.sackBlocks, [[s.serverSeq(3000), s.serverSeq(3500)]]);
    s.receive(data(s, 2000, 1000));
    assert.deepEqual(s.readAll().data, pattern(3500));
    assert.equal(s.conn.counters.outOfOrderSegments, 2);
  });

  it('answers a duplicated segment with a duplicate ACK and never delivers its bytes twice', () => {
    const s = new Script();
    s.handshake();
    s.receive(data(s, 0, 500));
    const again = s.receive(data(s, 0, 500));
    assert.deepEqual(again.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${SERVER_ISN + 501} win=2044`]);
    s.receive(data(s, 1000, 200));
    s.receive(data(s, 1000, 200)); // a duplicated out-of-order segment too
    s.receive(data(s, 500, 500));
    assert.deepEqual(s.readAll().data, pattern(1200));
    assert.equal(s.conn.counters.duplicateSegments, 2);
  });

  describe('D-SACK (RFC 2883): data that arrives again is reported once, as the first SACK block', () => {
    const sackOf = (out: ReturnType<Script['receive']>) => out.map((seg) => seg.repr.options?.sackBlocks);

    it('reports a repeat of the last segment, and only in the next ACK', () => {
      const s = new Script();
      s.handshake();
      s.receive(data(s, 0, 500));
      assert.deepEqual(sackOf(s.receive(data(s, 0, 500))), [[[s.serverSeq(0), s.serverSeq(500)]]]);
      assert.deepEqual(sackOf(s.receive(data(s, 500, 100))), [undefined], 'reported once');
    });

    it('reports an old duplicate below RCV.NXT (refused as unacceptable, answered with an ACK)', () => {
      const s = new Script();
      s.handshake();
      s.receive(data(s, 0, 500));
      const again = s.receive(data(s, 0, 300));
      assert.deepEqual(again.map((seg) => seg.repr.acknowledgmentNumber), [s.serverSeq(500)]);
      assert.deepEqual(sackOf(again), [[[s.serverSeq(0), s.serverSeq(300)]]]);
    });

    it('reports the repeated part of a retransmission that also brings new data', () => {
      const s = new Script();
      s.handshake();
      s.receive(data(s, 0, 500));
      const out = s.receive(data(s, 200, 600));
      assert.deepEqual(out.map((seg) => seg.repr.acknowledgmentNumber), [s.serverSeq(800)]);
      assert.deepEqual(sackOf(out), [[[s.serverSeq(200), s.serverSeq(500)]]]);
      assert.deepEqual(s.readAll().data, pattern(800));
    });

    it('reports a duplicate of held out-of-order data, followed by the block that holds it, then the others', () => {
      const s = new Script();
      s.handshake();
      s.receive(data(s, 1000, 1000));
      s.receive(data(s, 3000, 500));
      const out = s.receive(data(s, 1200, 300));
      assert.deepEqual(out.map((seg) => seg.repr.acknowledgmentNumber), [s.serverSeq(0)]);
      assert.deepEqual(sackOf(out), [[
        [s.serverSeq(1200), s.serverSeq(1500)],
        [s.serverSeq(1000), s.serverSeq(2000)],
        [s.serverSeq(3000), s.serverSeq(3500)],
      ]]);
      s.receive(data(s, 0, 1000));
      s.receive(data(s, 2000, 1000));
      assert.deepEqual(s.readAll().data, pattern(3500));
    });

    it('sends no SACK blocks at all when the peer did not permit SACK', () => {
      const s = new Script();
      s.handshake({mss: 1460, windowScale: 7});
      s.receive(data(s, 0, 500));
      assert.deepEqual(sackOf(s.receive(data(s, 0, 500))), [undefined]);
      assert.deepEqual(sackOf(s.receive(data(s, 1000, 100))), [undefined]);
    });
  });

  it('reassembles overlapping retransmissions cut differently from the originals, byte-exact', () => {
    const s = new Script();
    s.handshake();
    // Originals 0-1000, 1000-2000, 2000-3000; the first is lost, then retransmissions re-cut as 500-1500,
    // 200-2600 (overlapping everything), 0-300, and a late duplicate of 2000-3000.
    s.receive(data(s, 1000, 1000));
    s.receive(data(s, 2000, 1000));
    s.receive(data(s, 500, 1000));
    s.receive(data(s, 200, 2400));
    assert.equal(s.conn.readableLength, 0);
    s.receive(data(s, 0, 300));
    s.receive(data(s, 2000, 1000));
    assert.deepEqual(s.readAll().data, pattern(3000));
    assert.equal(s.sent.at(-1)!.repr.acknowledgmentNumber, s.serverSeq(3000));
  });

  it('handles a response ending with FIN|PSH|ACK carrying data (Python http.server)', () => {
    const s = new Script();
    s.handshake();
    s.takeEvents();
    s.receive(data(s, 0, 1448));
    const out = s.receive(data(s, 1448, 300, FIN | PSH));
    assert.deepEqual(out.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${s.serverSeq(1748) + 1} win=2034`]);
    assert.deepEqual(s.takeEvents(), [{type: 'data', bytes: 1448}, {type: 'data', bytes: 300}, {type: 'remote-fin'}]);
    assert.equal(s.conn.state, 'close-wait');
    assert.ok(s.conn.remoteFinished);
    assert.deepEqual(s.readAll().data, pattern(1748));
  });

  it('handles a FIN piggybacked on the ACK of our request, and a separate bare FIN', () => {
    const piggy = new Script();
    piggy.handshake();
    piggy.write('HEAD / HTTP/1.0\r\n\r\n');
    const reply = piggy.receive({seq: piggy.serverSeq(0), ack: OUR_NEXT + 19, flags: FIN | PSH | ACK, payload: Buffer.from('HTTP/1.0 200 OK\r\n\r\n')});
    assert.equal(reply[0]!.repr.acknowledgmentNumber, piggy.serverSeq(19) + 1);
    assert.equal(piggy.conn.unacknowledgedBytes, 0, 'the same segment acknowledged our request');
    assert.equal(piggy.conn.state, 'close-wait');

    const bare = new Script();
    bare.handshake();
    bare.receive(data(bare, 0, 10));
    const fin = bare.receive({seq: bare.serverSeq(10), ack: OUR_NEXT, flags: FIN | ACK});
    assert.equal(fin[0]!.repr.acknowledgmentNumber, bare.serverSeq(10) + 1);
    assert.equal(bare.conn.state, 'close-wait');
  });

  it('holds a FIN that arrives before a missing segment until the hole is filled', () => {
    const s = new Script();
    s.handshake();
    s.takeEvents();
    s.receive(data(s, 1000, 500, FIN));
    assert.equal(s.conn.state, 'established');
    assert.deepEqual(s.takeEvents(), []);
    const out = s.receive(data(s, 0, 1000));
    assert.equal(out[0]!.repr.acknowledgmentNumber, s.serverSeq(1500) + 1);
    assert.deepEqual(s.takeEvents(), [{type: 'data', bytes: 1500}, {type: 'remote-fin'}]);
    assert.equal(s.conn.state, 'close-wait');
  });

  it('re-ACKs a retransmitted FIN in CLOSE-WAIT', () => {
    const s = new Script();
    s.handshake();
    s.receive({seq: s.serverSeq(0), ack: OUR_NEXT, flags: FIN | ACK});
    const again = s.receive({seq: s.serverSeq(0), ack: OUR_NEXT, flags: FIN | ACK});
    assert.deepEqual(again.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${s.serverSeq(0) + 1} win=2048`]);
    assert.deepEqual(s.takeEvents().filter((e) => e.type === 'remote-fin').length, 1);
  });

  it('trims data beyond the advertised window and ACKs the real edge', () => {
    const s = new Script({receiveBufferSize: 4096, windowScale: undefined});
    s.handshake({mss: 1460});
    s.receive(data(s, 0, 6000));
    assert.equal(s.conn.readableLength, 4096);
    assert.equal(s.sent.at(-1)!.repr.acknowledgmentNumber, s.serverSeq(4096));
    assert.equal(s.sent.at(-1)!.repr.window, 0);
  });

  it('closes the window while the application does not read, answers probes with window 0, and reopens it', () => {
    const s = new Script({receiveBufferSize: 8192, windowScale: undefined});
    s.handshake({mss: 1460});
    assert.equal(s.sent.at(-1)!.repr.window, 8192);
    for (let offset = 0; offset < 8192; offset += 1024) s.receive(data(s, offset, 1024));
    const last = s.sent.at(-1)!;
    assert.equal(last.repr.window, 0, 'nothing read: the window is closed');
    // A zero-window probe (1 byte at RCV.NXT, as BSD sends) is dropped and answered with the same window.
    const probe = s.receive(data(s, 8192, 1));
    assert.deepEqual(probe.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${s.serverSeq(8192)} win=0`]);
    // An empty probe with an old sequence number (Linux) gets the same answer.
    const linuxProbe = s.receive({seq: s.serverSeq(8191), ack: OUR_NEXT, flags: ACK});
    assert.deepEqual(linuxProbe.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${s.serverSeq(8192)} win=0`]);
    // Reading a little does not reopen it (silly window avoidance); reading enough sends a window update.
    assert.equal(s.conn.read(512)!.length, 512);
    assert.deepEqual(s.at(s.now), []);
    const {data: rest, out} = s.readAll();
    assert.equal(rest.length, 8192 - 512);
    assert.deepEqual(out.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${s.serverSeq(8192)} win=8192`]);
    s.receive(data(s, 8192, 1000));
    assert.deepEqual(s.readAll().data, pattern(1000, 8192));
  });

  it('sends no window update once the peer has sent its FIN', () => {
    const s = new Script({receiveBufferSize: 8192, windowScale: undefined});
    s.handshake({mss: 1460});
    for (let offset = 0; offset < 8192; offset += 1024) s.receive(data(s, offset, 1024));
    assert.equal(s.sent.at(-1)!.repr.window, 0, 'nothing read: the window is closed');
    const finAck = s.receive({seq: s.serverSeq(8192), ack: OUR_NEXT, flags: ACK | FIN});
    assert.deepEqual(finAck.map(describeSegment), [`. seq=${OUR_NEXT} len=0 ack=${s.serverSeq(8193)} win=0`], 'the FIN is acknowledged');
    // Reading everything would reopen the window (see the test above), but the peer sends nothing more.
    const {data: rest, out} = s.readAll();
    assert.deepEqual(rest, pattern(8192, 0));
    assert.deepEqual(out, [], 'no window update after the FIN');
  });

  it('never shrinks the advertised right edge when the application stops reading', () => {
    const s = new Script({receiveBufferSize: 8192, windowScale: undefined});
    s.handshake({mss: 1460});
    let edge = s.serverSeq(8192);
    for (let offset = 0; offset < 8192; offset += 700) {
      const out = s.receive(data(s, offset, Math.min(700, 8192 - offset)));
      for (const seg of out) {
        const right = (seg.repr.acknowledgmentNumber + seg.repr.window) >>> 0;
        assert.ok(right >= edge, `right edge ${right} moved left of ${edge}`);
        edge = right;
      }
    }
  });

  it('holds no more than the buffer when a peer keeps sending odd-sized segments into a scaled window', () => {
    // With a scale of 7 the window field counts 128-byte units; rounding it up on every ACK would let each
    // 50-byte segment push the edge a little further, past the buffer, without end.
    const s = new Script({receiveBufferSize: 8192});
    s.handshake();
    for (let offset = 0; offset < 20_000; offset += 50) s.receive(data(s, offset, 50));
    assert.ok(s.conn.readableLength <= 8192, `${s.conn.readableLength} bytes held`);
    assert.equal(s.sent.at(-1)!.repr.window, 0);
  });

  it('ends with receive-limit and a RST when the peer sends more than maxReceiveBytes, keeping what fit', () => {
    const s = new Script({maxReceiveBytes: 1000});
    s.handshake();
    s.takeEvents();
    s.receive(data(s, 0, 800));
    const out = s.receive(data(s, 800, 700));
    assert.deepEqual(out.map(describeSegment), [`R. seq=${OUR_NEXT} len=0 ack=${s.serverSeq(1000)} win=0`]);
    assert.deepEqual(s.takeEvents(), [
      {type: 'data', bytes: 800},
      {type: 'data', bytes: 200},
      {type: 'error', reason: 'receive-limit', message: 'the peer sent more than 1000 bytes'},
      {type: 'closed'},
    ]);
    assert.deepEqual(s.readAll().data, pattern(1000), 'the first maxReceiveBytes stay readable');
    assert.ok(s.conn.finished);
  });

  it('accepts exactly maxReceiveBytes followed by a FIN', () => {
    const s = new Script({maxReceiveBytes: 1000});
    s.handshake();
    s.receive(data(s, 0, 1000, FIN));
    assert.equal(s.conn.state, 'close-wait');
    assert.equal(s.conn.error, undefined);
  });

  it('bounds out-of-order storage: segments beyond maxOutOfOrderSegments are dropped, and come again', () => {
    const s = new Script({maxOutOfOrderSegments: 4});
    s.handshake();
    for (let i = 1; i <= 6; i++) s.receive(data(s, i * 100, 10)); // six separate pieces, room for four
    s.receive(data(s, 0, 100));
    assert.equal(s.conn.readableLength, 110, 'the first stored piece joined; the hole at 110 remains');
    for (let i = 1; i <= 6; i++) s.receive(data(s, i * 100 - 90, 100)); // the peer retransmits everything
    assert.deepEqual(s.readAll().data, pattern(610));
  });
});
