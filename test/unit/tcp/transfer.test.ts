/**
 * The engine end to end: TcpDuplex + driver + TcpConnection on the in-memory wire against the independent test
 * peer, in virtual time with seeded loss, so every run is the same run. Bodies are checked byte for byte.
 */
import assert from 'node:assert/strict';
import {createHash} from 'node:crypto';
import {EthernetFrame} from '../../../src/core/wire/ethernet.js';
import {parseIpPacket} from '../../../src/core/wire/ip.js';
import {TcpFlags, TcpSegment} from '../../../src/core/wire/tcp.js';
import {closedPort, FakeRealServer} from '../../support/fake-real-server.js';
import {collect, harness, until, type Harness} from '../../support/tcp-harness.js';
import {pattern} from '../../support/tcp-script.js';
import {PEER_MAC, PEER_RIP, PEER_VIP} from '../../support/tcp-test-peer.js';

const MIB = 1024 * 1024;
const ACK_FLAG = TcpFlags.ACK;

/** The TCP segment in a frame the client sent. */
function clientSegment(frame: Buffer): TcpSegment {
  const eth = EthernetFrame.parse(frame);
  const ip = eth.ok ? parseIpPacket(eth.value.etherType, eth.value.payload) : undefined;
  const tcp = ip?.ok ? TcpSegment.parse(ip.value.payload) : undefined;
  if (!tcp?.ok) throw new Error('not a TCP frame');
  return tcp.value;
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** The peer sends `body` as soon as the connection is up, then closes. */
function serveBody(body: Buffer) {
  return {onConnection: (c: {write(b: Buffer): void; end(): void}) => (c.write(body), c.end())};
}

/** Downloads `body` through h; returns what the client read, and figures for the report. */
async function download(h: Harness) {
  const got = collect(h.socket);
  const started = performance.now();
  const virtualStart = h.clock.now();
  await until(h, () => got.closed && h.connection.finished);
  return {got, wallMs: performance.now() - started, virtualMs: h.clock.now() - virtualStart};
}

function report(label: string, h: Harness, figures: {wallMs: number; virtualMs: number}): void {
  if (!process.env.TCP_FIGURES) return;
  const c = h.connection.counters;
  const p = h.peer.connections[0]!.stats;
  console.log(
    `      [figures] ${label}: wall ${figures.wallMs.toFixed(0)} ms, virtual ${figures.virtualMs.toFixed(0)} ms; ` +
      `client sent ${c.segmentsSent} (retransmitted ${c.retransmittedSegments}, timeouts ${c.timeouts}, fast retransmits ${c.fastRetransmits}), received ${c.segmentsReceived} ` +
      `(out of order ${c.outOfOrderSegments}, duplicate ${c.duplicateSegments}); peer sent ${p.segmentsSent} ` +
      `(retransmitted ${p.retransmittedSegments})`,
  );
}

describe('TCP engine transfers over the in-memory wire (virtual time)', function () {
  this.timeout(60_000);
  const body = pattern(MIB);

  for (const loss of [0, 0.1, 0.3]) {
    it(`downloads a 1 MiB body intact at ${loss * 100}% loss in both directions`, async () => {
      const h = harness({loss, seed: 42, peer: serveBody(body)});
      const result = await download(h);
      assert.equal(result.got.error, undefined);
      assert.ok(result.got.ended);
      assert.equal(md5(result.got.data()), md5(body));
      assert.equal(h.socket.bytesRead, MIB);
      assert.equal(h.connection.error, undefined);
      if (loss > 0) assert.ok(h.connection.counters.outOfOrderSegments > 0, 'loss must have caused reassembly');
      report(`1 MiB download, ${loss * 100}% loss`, h, result);
    });
  }

  for (const loss of [0, 0.1, 0.3]) {
    it(`downloads a 1 MiB body intact at ${loss * 100}% loss with a bulk receive offload taking the in-order segments`, async () => {
      const h = harness({loss, seed: 42, peer: serveBody(body), bulkReceive: true});
      const result = await download(h);
      assert.equal(result.got.error, undefined);
      assert.equal(md5(result.got.data()), md5(body));
      assert.equal(h.connection.error, undefined);
      // At 30% loss some hole is open nearly all the time: the engine holds out-of-order data, so the offload is
      // rarely armed, and the body must come through all the same.
      const taken = h.offload!.counters.frames;
      if (loss < 0.3) assert.ok(taken > (loss === 0 ? 100 : 0), `the offload took ${taken} segments`);
      if (loss > 0) assert.ok(h.connection.counters.outOfOrderSegments > 0, 'and the engine the out-of-order ones');
      if (loss === 0) {
        // Every pure ACK the client sent, the offload's and the engine's, moves the ACK number or the window on:
        // a duplicate would count toward the server's fast retransmit.
        const acks = h.link.sent.map((frame) => clientSegment(frame)).filter((t) => t.payload.length === 0 && t.flags === ACK_FLAG);
        for (let i = 1; i < acks.length; i++) {
          const same = acks[i]!.acknowledgmentNumber === acks[i - 1]!.acknowledgmentNumber && acks[i]!.window === acks[i - 1]!.window;
          assert.ok(!same, `ACK ${i} repeats ${acks[i]!.acknowledgmentNumber} win ${acks[i]!.window}`);
        }
      }
      report(`1 MiB download with the offload, ${loss * 100}% loss`, h, result);
    });
  }

  // Our ISN is random: loss recovery must work in both halves of the sequence space (NewReno's "recover" once
  // blocked it in the upper half), and with the data wrapping past 2^32.
  const isns = [
    {name: 'ISN in the lower half', isn: 0x1234_5678},
    {name: 'ISN in the upper half', isn: 0x9000_0000},
    {name: 'sequence numbers wrapping', isn: 0xffff_ff00},
  ];
  for (const {name, isn} of isns) {
  for (const [loss, keepOutOfOrder] of [[0.1, false], [0.1, true], [0.3, false], [0.3, true]] as const) {
    const peerKind = keepOutOfOrder ? 'a peer that keeps out-of-order segments and SACKs them' : 'a peer that drops out-of-order segments';
    it(`uploads 256 KiB intact at ${loss * 100}% loss to ${peerKind}, ${name}`, async () => {
      const upload = pattern(256 * 1024, 7);
      const h = harness({loss, seed: 7, connection: {isn}, peer: {keepOutOfOrder, onConnection: (c) => (c.onEnd = () => c.end())}});
      const got = collect(h.socket);
      const started = performance.now();
      const virtualStart = h.clock.now();
      h.socket.end(upload);
      await until(h, () => got.closed && h.connection.finished);
      const peer = h.peer.connections[0]!;
      assert.equal(md5(peer.receivedData()), md5(upload));
      assert.equal(got.error, undefined);
      assert.ok(h.connection.counters.retransmittedSegments > 0);
      assert.ok(h.connection.counters.fastRetransmits > 0, 'duplicate ACKs trigger fast retransmit');
      report(`256 KiB upload, ${loss * 100}% loss, ${keepOutOfOrder ? 'SACKing' : 'dropping'} peer, ${name}`, h, {wallMs: performance.now() - started, virtualMs: h.clock.now() - virtualStart});
    });
  }
  }

  it('takes segments far larger than the MSS (GRO-sized, 16000 bytes) under loss', async () => {
    const h = harness({loss: 0.1, seed: 3, peer: {...serveBody(body), segmentSize: 16_000}});
    const result = await download(h);
    assert.equal(md5(result.got.data()), md5(body));
  });

  it('survives sequence numbers wrapping past 2^32 on both sides under loss', async () => {
    const h = harness({loss: 0.1, seed: 11, connection: {isn: 0xffff_fff0}, peer: {...serveBody(body), isn: 0xffff_0000}});
    const result = await download(h);
    assert.equal(md5(result.got.data()), md5(body));
  });

  it('runs without window scaling, SACK or timestamps when the peer offers none', async () => {
    const h = harness({loss: 0.1, seed: 5, peer: {...serveBody(pattern(300_000)), windowScale: null, sack: false, timestamps: false}});
    const result = await download(h);
    assert.equal(md5(result.got.data()), md5(pattern(300_000)));
    assert.deepEqual(h.connection.negotiated, {peerMss: 1460, sendMss: 1460, receiveWindowScale: 0, sendWindowScale: 0, sack: false, timestamps: false});
  });

  it('exchanges request and response (echo) at 30% loss', async () => {
    const request = pattern(40_000, 3);
    const h = harness({loss: 0.3, seed: 9, peer: {onConnection: (c) => ((c.onData = (chunk) => c.write(chunk)), (c.onEnd = () => c.end()))}});
    const got = collect(h.socket);
    h.socket.end(request);
    await until(h, () => got.closed && h.connection.finished);
    assert.equal(md5(got.data()), md5(request));
  });

  it('sends the SYN once the turn that created the socket is over; a request written meanwhile leaves with the handshake', async () => {
    const request = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    const h = harness({peer: {onConnection: (c) => ((c.onData = (chunk) => c.write(chunk)), (c.onEnd = () => c.end()))}});
    const got = collect(h.socket);
    h.socket.end(request);
    await Promise.resolve();
    assert.equal(h.clientFrames(), 0, 'the SYN left in the turn that created the socket');
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.ok(h.clientFrames() >= 1, 'the SYN did not leave at the end of the turn');
    await until(h, () => got.closed && h.connection.finished);
    assert.equal(got.data().toString(), request.toString());
    // SYN, then the request riding on the handshake's ACK: no pure ACK in between.
    assert.ok(h.link.sent[1]!.length > 54 + request.length - 1, 'the second frame did not carry the request');
  });

  it('closes the window for a paused reader (backpressure), lets the peer probe it, and reopens it', async () => {
    const h = harness({
      connection: {receiveBufferSize: 32 * 1024},
      duplex: {readableHighWaterMark: 8 * 1024},
      peer: serveBody(pattern(200_000)),
    });
    h.socket.pause();
    const got = collect(h.socket);
    h.socket.pause(); // collect() attached a 'data' listener, which resumes the stream
    await until(h, () => (h.peer.connections[0]?.stats.windowProbes ?? 0) >= 3);
    const peer = h.peer.connections[0]!;
    assert.ok(peer.stats.zeroWindowAcks > 0, 'the peer was shown a zero window');
    assert.ok(h.connection.readableLength <= 32 * 1024, `${h.connection.readableLength} bytes held by the connection`);
    assert.ok(h.socket.readableLength <= 16 * 1024, `${h.socket.readableLength} bytes held by the stream`);
    h.socket.resume();
    await until(h, () => got.closed && h.connection.finished);
    assert.equal(md5(got.data()), md5(pattern(200_000)));
  });

  it('fails with ETIMEDOUT at the deadline when the server never closes, and resets it', async () => {
    const h = harness({connection: {deadline: 1000 + 5000}, peer: {onConnection: (c) => c.write('HTTP/1.1 200 OK\r\n')}});
    const got = collect(h.socket);
    await until(h, () => got.closed);
    assert.equal(got.error?.code, 'ETIMEDOUT');
    assert.equal((got.error as {syscall?: string}).syscall, 'read');
    assert.equal(h.clock.now(), 6000);
    assert.equal(got.data().toString(), 'HTTP/1.1 200 OK\r\n');
    await until(h, () => h.peer.connections[0]!.resetReceived);
  });

  it('fails with ETIMEDOUT (syscall connect) when nothing answers the SYN', async () => {
    const h = harness({connection: {deadline: 1000 + 3000}, peer: {}});
    h.peer.link.close(); // the real server is gone
    const got = collect(h.socket);
    assert.equal(h.socket.connecting, true);
    await until(h, () => got.closed);
    assert.equal(got.error?.code, 'ETIMEDOUT');
    assert.equal((got.error as {syscall?: string}).syscall, 'connect');
  });

  it('fails with ERR_TCP_RECEIVE_LIMIT past maxReceiveBytes and resets the peer', async () => {
    const h = harness({connection: {maxReceiveBytes: 50_000}, peer: serveBody(pattern(100_000))});
    const got = collect(h.socket);
    await until(h, () => got.closed && h.connection.finished);
    assert.equal(got.error?.code, 'ERR_TCP_RECEIVE_LIMIT');
    assert.ok(got.data().length <= 50_000);
    await until(h, () => h.peer.connections[0]!.resetReceived);
  });

  it('fails with ECONNRESET when the server resets mid-stream, after delivering what came before', async () => {
    const h = harness({peer: {onConnection: (c) => (c.write(pattern(10_000)), setImmediate(() => c.reset()))}});
    const got = collect(h.socket);
    await until(h, () => got.closed);
    assert.equal(got.error?.code, 'ECONNRESET');
    assert.deepEqual(got.data(), pattern(10_000));
  });

  it('fails with ECONNREFUSED when the port is closed', async () => {
    const h = harness({peer: {port: 81}});
    h.peer.link.close();
    new FakeRealServer(h.wire, PEER_MAC, PEER_RIP, [PEER_RIP, PEER_VIP], closedPort());
    const got = collect(h.socket);
    await until(h, () => got.closed);
    assert.equal(got.error?.code, 'ECONNREFUSED');
    assert.equal(got.error?.message, 'connect ECONNREFUSED 198.51.100.100:80 (connection refused: the peer answered the SYN with RST)');
  });

  it('sends a FIN on end() and a RST on destroy()', async () => {
    const ending = harness({peer: {onConnection: (c) => (c.onEnd = () => c.end())}});
    const got = collect(ending.socket);
    ending.socket.end('bye');
    await until(ending, () => got.closed && ending.connection.finished);
    assert.equal(ending.peer.connections[0]!.finReceived, true);
    assert.equal(ending.peer.connections[0]!.resetReceived, false);

    const destroying = harness({peer: {onConnection: (c) => c.write('hello')}});
    const got2 = collect(destroying.socket);
    await until(destroying, () => got2.chunks.length > 0);
    destroying.socket.destroy();
    await until(destroying, () => destroying.peer.connections[0]!.resetReceived && destroying.connection.finished);
    assert.equal(got2.error, undefined);
  });

  it("emits 'connect', clears `connecting`, and emits 'timeout' after the idle time without closing", async () => {
    const h = harness({peer: {}});
    const events: string[] = [];
    h.socket.on('connect', () => events.push(`connect connecting=${h.socket.connecting}`));
    h.socket.setTimeout(2000, () => events.push(`timeout at ${h.clock.now()}`));
    await until(h, () => events.length >= 2);
    assert.deepEqual(events, ['connect connecting=false', 'timeout at 3000']);
    assert.equal(h.socket.destroyed, false);
    h.socket.destroy();
  });

  it('presents net.Socket fields', async () => {
    const h = harness({peer: {}});
    assert.equal(h.socket.readyState, 'opening');
    await until(h, () => !h.socket.connecting);
    assert.equal(h.socket.readyState, 'open');
    assert.deepEqual(
      {remote: `${h.socket.remoteAddress}:${h.socket.remotePort}`, local: `${h.socket.localAddress}:${h.socket.localPort}`, family: h.socket.remoteFamily},
      {remote: '198.51.100.100:80', local: '198.51.100.2:40000', family: 'IPv4'},
    );
    assert.deepEqual(h.socket.address(), {address: '198.51.100.2', family: 'IPv4', port: 40000});
    assert.equal(h.socket.setNoDelay(true), h.socket);
    assert.equal(h.socket.setKeepAlive(true, 1000), h.socket);
    assert.equal(h.socket.unref(), h.socket);
    assert.equal(h.socket.ref(), h.socket);
    h.socket.write('abc');
    assert.equal(h.socket.bytesWritten, 3);
    h.socket.destroy();
  });
});
