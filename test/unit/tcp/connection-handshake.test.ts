/**
 * TcpConnection: the active open (SYN-SENT) in scripted exchanges -- options, retransmission, refusal, stale
 * answers, and the first data riding on the handshake in either direction.
 */
import assert from 'node:assert/strict';
import {ACK, FIN, PSH, RST, SYN} from '../../support/segments.js';
import {CLIENT_ISN, LINUX_SYN_ACK_OPTIONS, SERVER_ISN, SERVER_TS, Script, TS_BASE, describeSegment, flags} from '../../support/tcp-script.js';

describe('TcpConnection handshake', () => {
  it('sends a SYN offering MSS, SACK, timestamps and window scale, with an unscaled window', () => {
    const s = new Script();
    const [syn, ...rest] = s.start();
    assert.equal(rest.length, 0);
    assert.equal(flags(syn), 'S');
    assert.equal(syn!.repr.sequenceNumber, CLIENT_ISN);
    assert.deepEqual(syn!.repr.options, {mss: 1460, sackPermitted: true, timestamp: {value: TS_BASE, echo: 0}, windowScale: 7});
    assert.equal(syn!.repr.window, 0xffff, 'a 256 KiB buffer shows as 65535 in the SYN (never scaled)');
    assert.equal(s.conn.state, 'syn-sent');
  });

  it('completes on a SYN-ACK: ACK, established event, negotiated options', () => {
    const s = new Script();
    const out = s.handshake();
    assert.deepEqual(out.map(describeSegment), [`. seq=${CLIENT_ISN + 1} len=0 ack=${SERVER_ISN + 1} win=2048`]);
    assert.deepEqual(out[0]!.repr.options, {timestamp: {value: TS_BASE, echo: SERVER_TS}}, 'TS echoes the SYN-ACK, no SACK blocks');
    assert.deepEqual(s.takeEvents(), [{type: 'established'}]);
    assert.equal(s.conn.state, 'established');
    assert.deepEqual(s.conn.negotiated, {peerMss: 1460, sendMss: 1460, receiveWindowScale: 7, sendWindowScale: 7, sack: true, timestamps: true});
  });

  it('falls back to no options when the SYN-ACK has none (536-byte MSS, unscaled windows)', () => {
    const s = new Script();
    const out = s.handshake({}, {}, false);
    assert.equal(out[0]!.repr.window, 0xffff, 'without window scaling the window field is capped at 65535');
    assert.equal(out[0]!.repr.options, undefined);
    assert.deepEqual(s.conn.negotiated, {peerMss: 536, sendMss: 536, receiveWindowScale: 0, sendWindowScale: 0, sack: false, timestamps: false});
    const {out: data} = s.write(Buffer.alloc(1200, 1));
    assert.deepEqual(data.map((d) => d.payload.length), [536, 536, 128], 'writes cut at the default MSS');
  });

  it('retransmits the SYN with exponential backoff, then fails with timeout at the deadline without a RST', () => {
    const s = new Script({deadline: 1700});
    s.start();
    const out = s.runTimers(1700);
    assert.deepEqual(
      s.sent.map((seg) => flags(seg)),
      ['S', 'S', 'S', 'S'],
      'SYNs at 0, 200, 600 and 1400 ms; nothing at the deadline (no RST in SYN-SENT)',
    );
    assert.equal(out.length, 3);
    assert.ok(s.sent.every((seg) => seg.repr.sequenceNumber === CLIENT_ISN));
    assert.deepEqual(s.takeEvents().map((e) => e.type), ['error', 'closed']);
    assert.equal(s.conn.error, 'timeout');
    assert.ok(s.conn.finished);
    assert.equal(s.conn.counters.timeouts, 3);
  });

  it('distinct TSvals on retransmitted SYNs give an exact handshake RTT from the echo (Karn solved)', () => {
    const s = new Script();
    const [first] = s.start();
    const [second] = s.at(200);
    assert.notEqual(first!.repr.options!.timestamp!.value, second!.repr.options!.timestamp!.value);
    s.now = 203;
    s.receive({seq: SERVER_ISN, ack: CLIENT_ISN + 1, flags: SYN | ACK, options: {...LINUX_SYN_ACK_OPTIONS, timestamp: {value: 1, echo: second!.repr.options!.timestamp!.value}}});
    assert.equal(s.conn.srttMs, 3);
  });

  it('takes no RTT sample from a retransmitted SYN without timestamps (Karn)', () => {
    const s = new Script({timestamps: false});
    s.start();
    s.at(200);
    s.now = 203;
    s.receive({seq: SERVER_ISN, ack: CLIENT_ISN + 1, flags: SYN | ACK, options: {mss: 1460}});
    assert.equal(s.conn.state, 'established');
    assert.equal(s.conn.srttMs, undefined);
    assert.equal(s.conn.rtoMs, 400, 'the backed-off RTO stays until a valid sample');
  });

  it('reports refused on RST|ACK acknowledging the SYN', () => {
    const s = new Script();
    s.start();
    const out = s.receive({seq: 0, ack: CLIENT_ISN + 1, flags: RST | ACK});
    assert.deepEqual(out, []);
    assert.deepEqual(s.takeEvents(), [{type: 'error', reason: 'refused', message: 'connection refused: the peer answered the SYN with RST'}, {type: 'closed'}]);
    assert.ok(s.conn.finished);
  });

  it('ignores RSTs that do not acknowledge the SYN (RFC 9293 3.10.7.3), so they cannot fake a refusal', () => {
    const s = new Script();
    s.start();
    assert.deepEqual(s.receive({seq: 0, flags: RST}), []);
    assert.deepEqual(s.receive({seq: 0, ack: 12345, flags: RST | ACK}), []);
    assert.equal(s.conn.state, 'syn-sent');
    assert.equal(s.conn.counters.rejectedSegments, 2);
  });

  it('resets a SYN-ACK with the wrong ACK (bare RST at its ACK) and keeps waiting for the right one', () => {
    const s = new Script();
    s.start();
    const out = s.receive({seq: 77, ack: 4242, flags: SYN | ACK});
    assert.deepEqual(out.map(describeSegment), ['R seq=4242 len=0 ack=0 win=0']);
    assert.equal(s.conn.state, 'syn-sent');
    s.receive({seq: SERVER_ISN, ack: CLIENT_ISN + 1, flags: SYN | ACK, options: LINUX_SYN_ACK_OPTIONS});
    assert.equal(s.conn.state, 'established');
  });

  it('ignores a bare SYN (no simultaneous open) and segments without SYN in SYN-SENT', () => {
    const s = new Script();
    s.start();
    assert.deepEqual(s.receive({seq: SERVER_ISN, flags: SYN}), []);
    assert.deepEqual(s.receive({seq: SERVER_ISN, flags: PSH, payload: Buffer.from('x')}), []);
    assert.equal(s.conn.state, 'syn-sent');
  });

  it('answers a retransmitted SYN-ACK (our ACK was lost) with the ACK again, without a second established event', () => {
    const s = new Script();
    s.handshake();
    s.takeEvents();
    const out = s.receive({seq: SERVER_ISN, ack: CLIENT_ISN + 1, flags: SYN | ACK, options: LINUX_SYN_ACK_OPTIONS});
    assert.deepEqual(out.map(describeSegment), [`. seq=${CLIENT_ISN + 1} len=0 ack=${SERVER_ISN + 1} win=2048`]);
    assert.deepEqual(s.takeEvents(), []);
    assert.equal(s.conn.state, 'established');
  });

  it('sends data written before the handshake with the handshake ACK (PSH|ACK)', () => {
    const s = new Script();
    s.start();
    assert.equal(s.write('GET / HTTP/1.1\r\n\r\n').taken, 18);
    assert.deepEqual(s.sent.map((seg) => flags(seg)), ['S'], 'nothing but the SYN before the SYN-ACK');
    const out = s.receive({seq: SERVER_ISN, ack: CLIENT_ISN + 1, flags: SYN | ACK, options: LINUX_SYN_ACK_OPTIONS});
    assert.deepEqual(out.map(describeSegment), [`P. seq=${CLIENT_ISN + 1} len=18 ack=${SERVER_ISN + 1} win=2048`]);
    assert.equal(out[0]!.payload.toString(), 'GET / HTTP/1.1\r\n\r\n');
  });

  it('accepts data and a FIN carried by the SYN-ACK itself', () => {
    const s = new Script();
    s.start();
    const out = s.receive({seq: SERVER_ISN, ack: CLIENT_ISN + 1, flags: SYN | ACK | PSH | FIN, options: LINUX_SYN_ACK_OPTIONS, payload: Buffer.from('220 hi\r\n')});
    assert.deepEqual(out.map(describeSegment), [`. seq=${CLIENT_ISN + 1} len=0 ack=${SERVER_ISN + 1 + 8 + 1} win=2047`]);
    assert.deepEqual(s.takeEvents().map((e) => e.type), ['established', 'data', 'remote-fin']);
    assert.equal(s.readAll().data.toString(), '220 hi\r\n');
    assert.equal(s.conn.state, 'close-wait');
  });

  it('moves to FIN-WAIT-1 on the SYN-ACK when shut down while connecting, sending data and FIN with the ACK', () => {
    const s = new Script();
    s.start();
    s.write('QUIT\r\n');
    s.shutdown();
    assert.equal(s.conn.state, 'syn-sent');
    const out = s.receive({seq: SERVER_ISN, ack: CLIENT_ISN + 1, flags: SYN | ACK, options: LINUX_SYN_ACK_OPTIONS});
    assert.deepEqual(out.map(describeSegment), [`FP. seq=${CLIENT_ISN + 1} len=6 ack=${SERVER_ISN + 1} win=2048`]);
    assert.equal(s.conn.state, 'fin-wait-1');
  });

  it('aborting while connecting closes without a RST (nothing to reset yet)', () => {
    const s = new Script();
    s.start();
    assert.deepEqual(s.abort(), []);
    assert.deepEqual(s.takeEvents(), [{type: 'closed'}]);
    assert.ok(s.conn.finished);
  });
});
