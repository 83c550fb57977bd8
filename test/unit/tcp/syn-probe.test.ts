import assert from 'node:assert/strict';
import {SynProbe, type SynProbeConfig} from '../../../src/core/tcp/syn-probe.js';
import {ACK, ECE, FIN, PSH, RST, SYN, serverSegment} from '../../support/segments.js';

const ISN = 0xfffffff0; // close to wrap-around on purpose: ISN+1 and ISN+2 must wrap correctly
const SERVER_ISN = 1000;

function probe(overrides: Partial<SynProbeConfig> = {}): SynProbe {
  return new SynProbe({
    localPort: 40000,
    remotePort: 80,
    isn: ISN,
    mss: 1460,
    close: 'rst',
    initialRtoMs: 200,
    deadline: 2000,
    timestampBase: 5000,
    ...overrides,
  });
}

/** The outcome's kind, read through a function so TypeScript does not narrow p.outcome across steps. */
const kindOf = (p: SynProbe): string | undefined => p.outcome?.kind;

const synAck = (attemptEcho?: number, extra = 0) =>
  serverSegment({
    seq: SERVER_ISN,
    ack: (ISN + 1) >>> 0,
    flags: SYN | ACK | extra,
    options: {mss: 1460, sackPermitted: true, windowScale: 7, ...(attemptEcho === undefined ? {} : {timestamp: {value: 1, echo: attemptEcho}})},
  });

describe('SynProbe (sans-IO handshake probe)', () => {
  it('sends a SYN with MSS, SACK-permitted, timestamps and window scale', () => {
    const [syn] = probe().start(0);
    assert.equal(syn!.repr.flags, SYN);
    assert.equal(syn!.repr.sequenceNumber, ISN);
    assert.deepEqual(syn!.repr.options, {mss: 1460, sackPermitted: true, timestamp: {value: 5000, echo: 0}, windowScale: 7});
  });

  it('reports open on a SYN-ACK acking ISN+1 and aborts with RST|ACK at ISN+1', () => {
    const p = probe();
    p.start(0);
    const out = p.receive(0.4, synAck(5000));
    assert.deepEqual(p.outcome, {kind: 'open', rttMs: 0.4, attempts: 1, peerOptions: synAck(5000).options});
    assert.equal(out.length, 1);
    assert.equal(out[0]!.repr.flags, RST | ACK);
    assert.equal(out[0]!.repr.sequenceNumber, (ISN + 1) >>> 0);
    assert.equal(out[0]!.repr.acknowledgmentNumber, SERVER_ISN + 1);
    assert.ok(p.finished);
  });

  it('accepts a SYN-ACK with extra flags (ECE), as some stacks send', () => {
    const p = probe();
    p.start(0);
    p.receive(1, synAck(undefined, ECE));
    assert.equal(p.outcome?.kind, 'open');
  });

  it('retransmits the SYN with exponential backoff until the deadline, then times out', () => {
    const p = probe({deadline: 1600});
    const sentAt = [0];
    p.start(0);
    for (let now = 0; now <= 1600 && !p.finished; now = p.pollAt()) {
      const out = p.poll(now);
      if (out.length) sentAt.push(now);
    }
    assert.deepEqual(sentAt, [0, 200, 600, 1400]);
    assert.deepEqual(p.outcome, {kind: 'timeout', attempts: 4});
  });

  it('measures the RTT of the attempt that was answered when the SYN-ACK echoes its timestamp', () => {
    const p = probe();
    p.start(0);
    p.poll(200); // second SYN, TSval 5001
    p.receive(200.3, synAck(5000)); // a late answer to the FIRST SYN
    assert.equal(p.outcome?.kind, 'open');
    assert.equal((p.outcome as {rttMs: number}).rttMs, 200.3);
    assert.equal(p.outcome?.attempts, 2);
  });

  it('recovers from a lost SYN-ACK (answer to the retransmitted SYN)', () => {
    const p = probe();
    p.start(0);
    p.poll(200);
    p.receive(200.5, synAck(5001));
    assert.equal((p.outcome as {rttMs: number}).rttMs, 0.5);
  });

  it('ignores a duplicated SYN-ACK after the verdict', () => {
    const p = probe();
    p.start(0);
    p.receive(1, synAck(5000));
    assert.deepEqual(p.receive(1.1, synAck(5000)), []);
    assert.equal(p.outcome?.kind, 'open');
  });

  it('reports refused on RST|ACK acking ISN+1', () => {
    const p = probe();
    p.start(0);
    p.receive(0.3, serverSegment({seq: 0, ack: (ISN + 1) >>> 0, flags: RST | ACK}));
    assert.deepEqual(p.outcome, {kind: 'refused', rttMs: 0.3, attempts: 1});
  });

  it('ignores RSTs without an acceptable ACK (RFC 9293), so they cannot fake a verdict', () => {
    const p = probe();
    p.start(0);
    assert.deepEqual(p.receive(0.1, serverSegment({seq: 0, flags: RST})), []);
    assert.deepEqual(p.receive(0.2, serverSegment({seq: 0, ack: 12345, flags: RST | ACK})), []);
    assert.equal(kindOf(p), undefined);
    assert.equal(p.notes.length, 2);
  });

  it('resets a SYN-ACK with the wrong ACK (seq = its ACK) and keeps waiting', () => {
    const p = probe();
    p.start(0);
    const out = p.receive(0.1, serverSegment({seq: 77, ack: 4242, flags: SYN | ACK}));
    assert.equal(out[0]!.repr.flags, RST);
    assert.equal(out[0]!.repr.sequenceNumber, 4242);
    assert.equal(kindOf(p), undefined);
    p.receive(0.2, synAck());
    assert.equal(p.outcome?.kind, 'open');
  });

  it('ignores segments of other flows and pure ACKs/data in SYN-SENT', () => {
    const p = probe();
    p.start(0);
    assert.deepEqual(p.receive(0.1, serverSegment({from: 81, seq: SERVER_ISN, ack: (ISN + 1) >>> 0, flags: SYN | ACK})), []);
    assert.deepEqual(p.receive(0.1, serverSegment({to: 40001, seq: SERVER_ISN, ack: (ISN + 1) >>> 0, flags: SYN | ACK})), []);
    assert.deepEqual(p.receive(0.1, serverSegment({seq: SERVER_ISN, ack: (ISN + 1) >>> 0, flags: ACK})), []);
    assert.deepEqual(p.receive(0.1, serverSegment({seq: SERVER_ISN, flags: SYN})), []);
    assert.equal(kindOf(p), undefined);
  });

  describe('clean close (--clean-close)', () => {
    it('completes the handshake, sends FIN, and ACKs the server FIN', () => {
      const p = probe({close: 'fin'});
      p.start(0);
      const out = p.receive(0.2, synAck(5000));
      assert.deepEqual(out.map((s) => s.repr.flags), [ACK, FIN | ACK]);
      assert.equal(kindOf(p), undefined, 'no verdict until the close completes');
      const last = p.receive(0.4, serverSegment({seq: SERVER_ISN + 1, ack: (ISN + 2) >>> 0, flags: FIN | ACK}));
      assert.equal(last[0]!.repr.flags, ACK);
      assert.equal(last[0]!.repr.sequenceNumber, (ISN + 2) >>> 0);
      assert.equal(last[0]!.repr.acknowledgmentNumber, SERVER_ISN + 2);
      assert.deepEqual({kind: p.outcome?.kind, clean: (p.outcome as {closedCleanly?: boolean}).closedCleanly}, {kind: 'open', clean: true});
    });

    it('acknowledges a banner sent with the FIN (FIN|PSH|ACK with data)', () => {
      const p = probe({close: 'fin'});
      p.start(0);
      p.receive(0.2, synAck());
      const banner = Buffer.from('SSH-2.0-OpenSSH_9.2\r\n');
      const out = p.receive(0.3, serverSegment({seq: SERVER_ISN + 1, ack: (ISN + 2) >>> 0, flags: FIN | PSH | ACK, payload: banner}));
      assert.equal(out[0]!.repr.acknowledgmentNumber, SERVER_ISN + 1 + banner.length + 1);
    });

    it('keeps the open verdict but says so when the server never closes', () => {
      const p = probe({close: 'fin', deadline: 1000});
      p.start(0);
      p.receive(0.2, synAck());
      assert.equal(p.pollAt(), 1000);
      const out = p.poll(1000);
      assert.equal(out[0]!.repr.flags, RST | ACK);
      assert.equal((p.outcome as {closedCleanly?: boolean}).closedCleanly, false);
    });

    it('re-acknowledges a duplicated SYN-ACK while closing', () => {
      const p = probe({close: 'fin'});
      p.start(0);
      p.receive(0.2, synAck());
      assert.deepEqual(p.receive(0.3, synAck()).map((s) => s.repr.flags), [ACK, FIN | ACK]);
    });
  });
});
