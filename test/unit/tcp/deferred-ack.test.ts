/**
 * The driver's ACK of a short segment waits for the end of the event-loop turn (src/core/flow/drive.ts): an
 * application that answers or closes in that turn sends one frame, not an ACK and then its own segment. So
 * does the ACK of a segment carrying the peer's FIN, whatever its length. A full-sized segment is acknowledged
 * at once, and a short one or a FIN that nobody answers is still acknowledged.
 */
import assert from 'node:assert/strict';
import {describeFrame} from '../../../src/core/wire/frame.js';
import {collect, harness, until, type Harness} from '../../support/tcp-harness.js';

/** The client's frames after its handshake, as tcpdump-like lines. */
function sentAfterHandshake(h: Harness): string[] {
  return h.link.sent.slice(2).map((frame) => describeFrame(frame));
}

const flags = (line: string) => /Flags \[([^\]]*)\]/.exec(line)?.[1];

describe('TCP driver: deferred ACK of a short segment', () => {
  it('lets the RST of an application that closes on a short response carry the ACK (one frame, not two)', async () => {
    const h = harness({peer: {onConnection: (c) => c.write(Buffer.alloc(100, 0x61))}});
    const got = collect(h.socket);
    h.socket.on('data', () => h.socket.destroy());
    await until(h, () => got.closed && h.connection.finished);
    const frames = sentAfterHandshake(h);
    assert.deepEqual(frames.map(flags), ['R.'], frames.join('\n'));
    assert.match(frames[0]!, /ack 1\b|ack \d+/);
  });

  it('lets a request written in answer carry the ACK', async () => {
    const h = harness({peer: {onConnection: (c) => c.write('hello\n')}});
    collect(h.socket);
    h.socket.once('data', () => h.socket.write('reply\n'));
    await until(h, () => h.peer.connections[0]!.receivedData().toString() === 'reply\n');
    const frames = sentAfterHandshake(h);
    assert.deepEqual(frames.map(flags), ['P.'], frames.join('\n'));
    h.socket.destroy();
  });

  it('still acknowledges a short segment nobody answers, at the end of the turn', async () => {
    const h = harness({peer: {onConnection: (c) => c.write('hello\n')}});
    const got = collect(h.socket);
    await until(h, () => got.chunks.length > 0 && h.link.sent.length >= 3);
    const frames = sentAfterHandshake(h);
    assert.deepEqual(frames.map(flags), ['.'], frames.join('\n'));
    assert.equal(h.peer.connections[0]!.stats.retransmittedSegments, 0, 'the peer had no reason to retransmit');
    h.socket.destroy();
  });

  it("lets the RST carry the ACK of a full-sized segment that brings the peer's FIN", async () => {
    // One full-sized segment (the MSS of 1460 less the timestamps option) that also carries the FIN.
    const h = harness({peer: {onConnection: (c) => c.end(Buffer.alloc(1448, 0x63))}});
    const got = collect(h.socket);
    h.socket.on('end', () => h.socket.destroy());
    await until(h, () => got.closed && h.connection.finished);
    const frames = sentAfterHandshake(h);
    assert.deepEqual(frames.map(flags), ['R.'], frames.join('\n'));
    assert.equal(got.chunks.reduce((n, c) => n + c.length, 0), 1448);
  });

  it('still acknowledges a bare FIN nobody answers, at the end of the turn', async () => {
    const h = harness({peer: {onConnection: (c) => c.end()}, duplex: {allowHalfOpen: true}});
    const got = collect(h.socket);
    await until(h, () => got.ended && h.link.sent.length >= 3);
    const frames = sentAfterHandshake(h);
    assert.deepEqual(frames.map(flags), ['.'], frames.join('\n'));
    assert.equal(h.peer.connections[0]!.stats.retransmittedSegments, 0, 'the peer had no reason to retransmit its FIN');
    h.socket.destroy();
  });

  it('lets our own FIN, sent on the end of the stream, carry the ACK of the peer\'s bare FIN', async () => {
    const h = harness({peer: {onConnection: (c) => c.end()}});
    const got = collect(h.socket);
    await until(h, () => got.ended && h.link.sent.length >= 3);
    assert.deepEqual(sentAfterHandshake(h).map(flags), ['F.']);
    h.socket.destroy();
  });

  it('acknowledges a full-sized segment at once, even when the application closes in the same turn', async () => {
    const h = harness({peer: {onConnection: (c) => c.write(Buffer.alloc(1460, 0x62))}});
    const got = collect(h.socket);
    h.socket.on('data', () => h.socket.destroy());
    await until(h, () => got.closed && h.connection.finished);
    assert.deepEqual(sentAfterHandshake(h).map(flags), ['.', 'R.'], h.link.sent.map((f) => describeFrame(f)).join("\n"));
  });
});
