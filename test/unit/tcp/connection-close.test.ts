/**
 * TcpConnection: endings in scripted exchanges -- orderly closes from either side, simultaneous close,
 * TIME-WAIT, RSTs inside and outside the window (RFC 5961), abort, the deadline -- and sequence numbers that
 * wrap past 2^32 in both directions.
 */
import assert from 'node:assert/strict';
import {ACK, FIN, PSH, RST, SYN} from '../../support/segments.js';
import {Script, describeSegment, pattern} from '../../support/tcp-script.js';

describe('TcpConnection endings', () => {
  it('closes actively: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT (closed event), then finished after timeWaitMs', () => {
    const s = new Script({timeWaitMs: 500});
    s.handshake();
    s.takeEvents();
    const fin = s.shutdown();
    assert.deepEqual(fin.map(describeSegment), [`F. seq=${s.clientSeq(0)} len=0 ack=${s.serverSeq(0)} win=2048`]);
    assert.equal(s.conn.state, 'fin-wait-1');
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0) + 1, flags: ACK});
    assert.equal(s.conn.state, 'fin-wait-2');
    s.now = 10;
    const last = s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0) + 1, flags: FIN | ACK});
    assert.deepEqual(last.map(describeSegment), [`. seq=${s.clientSeq(0) + 1} len=0 ack=${s.serverSeq(0) + 1} win=2048`]);
    assert.equal(s.conn.state, 'time-wait');
    assert.deepEqual(s.takeEvents(), [{type: 'remote-fin'}, {type: 'closed'}]);
    assert.equal(s.conn.finished, false, 'TIME-WAIT still answers a retransmitted FIN');
    s.now = 300;
    const again = s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0) + 1, flags: FIN | ACK});
    assert.equal(again.length, 1, 'the lost last ACK is sent again');
    assert.equal(s.conn.pollAt(), 800, 'and the TIME-WAIT timer restarts');
    s.runTimers(800);
    assert.ok(s.conn.finished);
    assert.equal(s.conn.error, undefined);
  });

  it('sends the FIN with the last data segment and keeps receiving while half-closed (FIN-WAIT-2)', () => {
    const s = new Script();
    s.handshake();
    s.write('GET / HTTP/1.0\r\n\r\n');
    const fin = s.shutdown();
    assert.deepEqual(fin.map((seg) => seg.repr.flags), [FIN | ACK], 'request sent already; the FIN follows alone');
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(18) + 1, flags: ACK | PSH, payload: pattern(3000)});
    assert.equal(s.conn.state, 'fin-wait-2');
    s.receive({seq: s.serverSeq(3000), ack: s.clientSeq(18) + 1, flags: FIN | ACK});
    assert.deepEqual(s.readAll().data, pattern(3000));
    assert.equal(s.conn.state, 'time-wait');
  });

  it('piggybacks the FIN on queued data when shut down in the same tick', () => {
    const s = new Script();
    s.handshake();
    s.conn.write(Buffer.from('QUIT\r\n'));
    const out = s.shutdown();
    assert.deepEqual(out.map(describeSegment), [`FP. seq=${s.clientSeq(0)} len=6 ack=${s.serverSeq(0)} win=2048`]);
  });

  it('closes passively: CLOSE-WAIT, then LAST-ACK, then CLOSED when our FIN is acknowledged', () => {
    const s = new Script();
    s.handshake();
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0), flags: FIN | PSH | ACK, payload: Buffer.from('bye')});
    assert.equal(s.conn.state, 'close-wait');
    const fin = s.shutdown();
    assert.deepEqual(fin.map(describeSegment), [`F. seq=${s.clientSeq(0)} len=0 ack=${s.serverSeq(3) + 1} win=2047`]);
    assert.equal(s.conn.state, 'last-ack');
    s.receive({seq: s.serverSeq(3) + 1, ack: s.clientSeq(0) + 1, flags: ACK});
    assert.ok(s.conn.finished);
    assert.deepEqual(s.takeEvents().map((e) => e.type), ['established', 'data', 'remote-fin', 'closed']);
  });

  it('retransmits an unacknowledged FIN in LAST-ACK', () => {
    const s = new Script();
    s.handshake();
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0), flags: FIN | ACK});
    s.shutdown();
    const again = s.runTimers(s.now + 250);
    assert.deepEqual(again.map(describeSegment), [`F. seq=${s.clientSeq(0)} len=0 ack=${s.serverSeq(0) + 1} win=2048`]);
  });

  it('handles a simultaneous close: FIN-WAIT-1, CLOSING, TIME-WAIT', () => {
    const s = new Script();
    s.handshake();
    s.shutdown();
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0), flags: FIN | ACK}); // their FIN crossed ours
    assert.equal(s.conn.state, 'closing');
    s.receive({seq: s.serverSeq(0) + 1, ack: s.clientSeq(0) + 1, flags: ACK});
    assert.equal(s.conn.state, 'time-wait');
  });

  it('accepts a RST exactly at RCV.NXT mid-stream: reset error, nothing sent back', () => {
    const s = new Script();
    s.handshake();
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0), flags: ACK, payload: pattern(1000)});
    s.takeEvents();
    const out = s.receive({seq: s.serverSeq(1000), ack: s.clientSeq(0), flags: RST | ACK});
    assert.deepEqual(out, []);
    assert.deepEqual(s.takeEvents(), [{type: 'error', reason: 'reset', message: 'connection reset by the peer'}, {type: 'closed'}]);
    assert.equal(s.conn.error, 'reset');
  });

  it('answers a RST inside the window but not at RCV.NXT with a challenge ACK and stays up (RFC 5961 3.2)', () => {
    const s = new Script();
    s.handshake();
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0), flags: ACK, payload: pattern(1000)});
    const out = s.receive({seq: s.serverSeq(5000), flags: RST});
    assert.deepEqual(out.map(describeSegment), [`. seq=${s.clientSeq(0)} len=0 ack=${s.serverSeq(1000)} win=2040`]);
    assert.equal(s.conn.state, 'established');
    s.receive({seq: s.serverSeq(1000), ack: s.clientSeq(0), flags: ACK, payload: pattern(10, 1000)});
    assert.equal(s.readAll().data.length, 1010, 'the conversation goes on');
  });

  it('ignores a RST outside the window silently', () => {
    const s = new Script();
    s.handshake();
    assert.deepEqual(s.receive({seq: s.serverSeq(10_000_000), flags: RST}), []);
    assert.deepEqual(s.receive({seq: s.serverSeq(-1), flags: RST | ACK, ack: s.clientSeq(0)}), []);
    assert.equal(s.conn.state, 'established');
  });

  it('treats a RST in LAST-ACK or TIME-WAIT as the end, not an error', () => {
    const lastAck = new Script();
    lastAck.handshake();
    lastAck.receive({seq: lastAck.serverSeq(0), ack: lastAck.clientSeq(0), flags: FIN | ACK});
    lastAck.shutdown();
    lastAck.receive({seq: lastAck.serverSeq(0) + 1, flags: RST});
    assert.ok(lastAck.conn.finished);
    assert.equal(lastAck.conn.error, undefined);

    const timeWait = new Script();
    timeWait.handshake();
    timeWait.shutdown();
    timeWait.receive({seq: timeWait.serverSeq(0), ack: timeWait.clientSeq(0) + 1, flags: FIN | ACK});
    assert.equal(timeWait.conn.state, 'time-wait');
    timeWait.receive({seq: timeWait.serverSeq(0) + 1, flags: RST});
    assert.ok(timeWait.conn.finished);
    assert.equal(timeWait.conn.error, undefined);
  });

  it('answers a SYN in a synchronized state with a challenge ACK (RFC 5961 4)', () => {
    const s = new Script();
    s.handshake();
    const out = s.receive({seq: s.serverSeq(100), flags: SYN});
    assert.deepEqual(out.map(describeSegment), [`. seq=${s.clientSeq(0)} len=0 ack=${s.serverSeq(0)} win=2048`]);
    assert.equal(s.conn.state, 'established');
  });

  it('aborts with RST|ACK at SND.MAX and a closed event without an error', () => {
    const s = new Script();
    s.handshake();
    s.write('abc');
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0), flags: ACK, payload: pattern(5)});
    s.takeEvents();
    const out = s.abort();
    assert.deepEqual(out.map(describeSegment), [`R. seq=${s.clientSeq(3)} len=0 ack=${s.serverSeq(5)} win=0`]);
    assert.deepEqual(s.takeEvents(), [{type: 'closed'}]);
    assert.ok(s.conn.finished);
  });

  it('gives up at the deadline when the server never closes: timeout error and a RST', () => {
    const s = new Script({deadline: 3000});
    s.handshake();
    s.write('GET / HTTP/1.1\r\n\r\n');
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(18), flags: ACK | PSH, payload: Buffer.from('HTTP/1.1 200 OK\r\n')});
    s.takeEvents();
    s.runTimers(5000);
    assert.equal(s.now, 3000);
    assert.deepEqual(s.sent.at(-1) && describeSegment(s.sent.at(-1)!), `R. seq=${s.clientSeq(18)} len=0 ack=${s.serverSeq(17)} win=0`);
    assert.deepEqual(s.takeEvents(), [{type: 'error', reason: 'timeout', message: 'deadline reached: the connection was still ESTABLISHED'}, {type: 'closed'}]);
  });

  it('answers nothing past the deadline: a late segment ends the connection as the timer would', () => {
    const s = new Script({deadline: 1000});
    s.handshake();
    s.now = 1000;
    const out = s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0), flags: ACK, payload: pattern(10)});
    assert.deepEqual(out.map(describeSegment), [`R. seq=${s.clientSeq(0)} len=0 ack=${s.serverSeq(0)} win=0`]);
    assert.equal(s.conn.error, 'timeout');
    assert.equal(s.conn.readableLength, 0);
  });

  it('ends TIME-WAIT at the deadline rather than after it', () => {
    const s = new Script({deadline: 200, timeWaitMs: 5000});
    s.handshake();
    s.shutdown();
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0) + 1, flags: FIN | ACK});
    assert.equal(s.conn.pollAt(), 200);
    s.runTimers(200);
    assert.ok(s.conn.finished);
    assert.equal(s.conn.error, undefined);
  });

  describe('sequence numbers wrapping past 2^32', () => {
    const CLIENT_NEAR_WRAP = 0xffff_fc00; // our data crosses 2^32 after 1023 bytes
    const SERVER_NEAR_WRAP = 0xffff_ff00; // theirs after 255 bytes

    function wrapped(): Script {
      const s = new Script({isn: CLIENT_NEAR_WRAP});
      s.serverIsn = SERVER_NEAR_WRAP;
      s.handshake();
      return s;
    }

    it('sends across the wrap and takes the ACKs beyond it', () => {
      const s = wrapped();
      const {out} = s.write(pattern(3000));
      assert.deepEqual(out.map((seg) => seg.repr.sequenceNumber), [s.clientSeq(0), s.clientSeq(1448), s.clientSeq(2896)]);
      assert.ok(s.clientSeq(1448) < s.clientSeq(0), 'the second segment starts after the wrap');
      s.receive({seq: s.serverSeq(0), ack: s.clientSeq(3000), flags: ACK});
      assert.equal(s.conn.unacknowledgedBytes, 0);
    });

    it('reassembles out-of-order data across the wrap with SACK blocks that wrap', () => {
      const s = wrapped();
      const ack = s.clientSeq(0);
      const dup = s.receive({seq: s.serverSeq(200), ack, flags: ACK, payload: pattern(300, 200)}); // spans the wrap
      assert.deepEqual(dup[0]!.repr.options!.sackBlocks, [[s.serverSeq(200), s.serverSeq(500)]]);
      assert.ok(s.serverSeq(500) < s.serverSeq(200));
      s.receive({seq: s.serverSeq(0), ack, flags: ACK, payload: pattern(200)});
      s.receive({seq: s.serverSeq(500), ack, flags: FIN | ACK, payload: pattern(100, 500)});
      assert.deepEqual(s.readAll().data, pattern(600));
      assert.equal(s.conn.state, 'close-wait');
    });

    it('retransmits across the wrap and resets with the right numbers', () => {
      const s = wrapped();
      s.write(pattern(2000));
      s.receive({seq: s.serverSeq(0), ack: s.clientSeq(1448), flags: ACK});
      const again = s.runTimers(s.now + 250);
      assert.equal(again[0]!.repr.sequenceNumber, s.clientSeq(1448));
      const rst = s.abort();
      assert.deepEqual(rst.map(describeSegment), [`R. seq=${s.clientSeq(2000)} len=0 ack=${s.serverSeq(0)} win=0`]);
    });

    it('accepts an exact RST and ignores a far one across the wrap', () => {
      const s = wrapped();
      s.receive({seq: s.serverSeq(0), ack: s.clientSeq(0), flags: ACK, payload: pattern(1000)});
      assert.deepEqual(s.receive({seq: s.serverSeq(-1000), flags: RST}), []);
      assert.equal(s.conn.state, 'established');
      s.receive({seq: s.serverSeq(1000), flags: RST});
      assert.equal(s.conn.error, 'reset');
    });
  });
});

describe('TcpConnection with a SYN-ACK lacking options', () => {
  it('works without timestamps: Karn timing gives the RTT', () => {
    const s = new Script({timestamps: false, minRtoMs: 1});
    s.handshake({mss: 1460, sackPermitted: true});
    s.now = 100;
    s.write('abc');
    s.now = 105;
    s.receive({seq: s.serverSeq(0), ack: s.clientSeq(3), flags: ACK});
    assert.equal(s.conn.srttMs, 0.875 * 0 + 0.125 * 5);
  });
});
