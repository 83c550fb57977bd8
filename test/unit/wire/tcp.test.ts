import assert from 'node:assert/strict';
import {buildTcp, TcpFlags, TcpSegment, type TcpOptions, type TcpRepr} from '../../../src/core/wire/tcp.js';
import {kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {CLIENT_V4, CLIENT_V6, decode, failure, kernelTcpFrames, SERVER_V4, SERVER_V6, unwrap} from './support.js';

/** A bare header (ports 40000 > 80, SYN) followed by `options`, whose length must be a multiple of 4. */
function segmentWithOptions(options: number[]): Buffer {
  const header = Buffer.from('9c400050000000010000000050020000000000000000', 'hex').subarray(0, 20);
  const bytes = Buffer.concat([header, Buffer.from(options)]);
  bytes[12] = ((20 + options.length) / 4) << 4;
  return bytes;
}

/** What tcpdump -vv said about the TCP part of a frame. */
function tcpdumpSays(line: string) {
  const tcpPart = line.slice(line.indexOf('Flags ['));
  const checksum = /cksum 0x([0-9a-f]{4}) \((?:correct|incorrect -> 0x([0-9a-f]{4}))\)/.exec(tcpPart);
  assert.ok(checksum, line);
  return {
    flags: /Flags \[([^\]]+)\]/.exec(tcpPart)![1],
    window: Number(/win (\d+)/.exec(tcpPart)![1]),
    options: /options \[([^\]]*)\]/.exec(tcpPart)?.[1] ?? '',
    length: Number(/, length (\d+)/.exec(tcpPart)![1]),
    checksum: Number.parseInt(checksum[1]!, 16),
    expected: checksum[2] === undefined ? undefined : Number.parseInt(checksum[2], 16),
  };
}

const synRepr: TcpRepr = {
  sourcePort: 40000,
  destinationPort: 80,
  sequenceNumber: 123,
  acknowledgmentNumber: 0,
  flags: TcpFlags.SYN,
  window: 64240,
};

describe('wire/tcp', () => {
  it("reads every field and all four options of the kernel's SYN", () => {
    const tcp = decode(kernelFrames.syn).tcp!;
    assert.equal(tcp.sourcePort, 40001);
    assert.equal(tcp.destinationPort, 8080);
    assert.equal(tcp.sequenceNumber, 3355767685);
    assert.equal(tcp.acknowledgmentNumber, 0);
    assert.equal(tcp.headerLength, 40);
    assert.equal(tcp.flags, TcpFlags.SYN);
    assert.ok(tcp.has(TcpFlags.SYN));
    assert.ok(!tcp.has(TcpFlags.ACK));
    assert.equal(tcp.window, 64240);
    assert.equal(tcp.checksum, 0xd760);
    assert.equal(tcp.urgentPointer, 0);
    assert.deepEqual(tcp.options, {
      mss: 1460,
      sackPermitted: true,
      timestamp: {value: 157065253, echo: 0},
      windowScale: 10,
    });
    assert.equal(tcp.payload.length, 0);
    assert.equal(tcp.sequenceLength, 1);
    assert.equal(tcp.flagsText(), 'S');
    assert.equal(tcp.optionsText(), 'mss 1460,sackOK,TS val 157065253 ecr 0,nop,wscale 10');
  });

  it('reads the payload of a data segment, zero-copy and bounded by the IP length', () => {
    const {ip, tcp} = decode(kernelFrames.httpResponseBody);
    assert.equal(tcp!.payload.toString(), 'vipcheck\n');
    assert.equal(tcp!.payload.buffer, ip!.payload.buffer);
    assert.equal(tcp!.sequenceLength, 9);
  });

  it('agrees with tcpdump -vv on flags, window, options, length and checksum for every kernel segment', () => {
    const frames = kernelTcpFrames();
    assert.equal(frames.length, 17);
    for (const {name, frame, ip, tcp} of frames) {
      const said = tcpdumpSays(frame.tcpdump);
      assert.equal(tcp.flagsText(), said.flags, name);
      assert.equal(tcp.window, said.window, name);
      assert.equal(tcp.optionsText(), said.options, name);
      assert.equal(tcp.payload.length, said.length, name);
      assert.equal(tcp.checksum, said.checksum, name);
      assert.equal(tcp.checksumValid(ip.source, ip.destination), said.expected === undefined, name);
      assert.equal(tcp.expectedChecksum(ip.source, ip.destination), said.expected ?? said.checksum, name);
    }
  });

  it('accepts offloaded segments whose checksum is wrong on capture, and says so', () => {
    for (const fixture of [kernelFrames.synOffloaded, kernelFrames.synAckOffloaded, kernelFrames.httpGetOffloaded]) {
      const {ip, tcp} = decode(fixture);
      assert.ok(tcp, fixture.tcpdump);
      assert.equal(tcp.checksumValid(ip!.source, ip!.destination), false);
    }
  });

  it('rebuilds every kernel segment byte for byte (checksum recomputed, so offloaded ones differ only there)', () => {
    for (const {name, ip, tcp} of kernelTcpFrames()) {
      const rebuilt = buildTcp(tcp.toRepr(), tcp.payload, ip.source, ip.destination);
      const expected = Buffer.from(tcp.bytes);
      expected.writeUInt16BE(tcp.expectedChecksum(ip.source, ip.destination), 16);
      assert.deepEqual(rebuilt, expected, name);
    }
  });

  it('emits SYN options in Linux order, padded to 40 header bytes', () => {
    const options: TcpOptions = {mss: 1460, windowScale: 7, sackPermitted: true, timestamp: {value: 1, echo: 0}};
    const segment = buildTcp({...synRepr, options}, Buffer.alloc(0), CLIENT_V4, SERVER_V4);
    assert.equal(segment.length, 40);
    assert.equal(segment.subarray(20).toString('hex'), '020405b4' + '0402080a0000000100000000' + '01030307');
    const parsed = unwrap(TcpSegment.parse(segment));
    assert.deepEqual(parsed.options, options);
    assert.ok(parsed.checksumValid(CLIENT_V4, SERVER_V4));
  });

  it('emits each option alone the way Linux does', () => {
    const optionHex = (options: TcpOptions) =>
      buildTcp({...synRepr, options}, Buffer.alloc(0), CLIENT_V4, SERVER_V4).subarray(20).toString('hex');
    assert.equal(optionHex({}), '');
    assert.equal(optionHex({timestamp: {value: 2, echo: 3}}), '0101080a0000000200000003');
    assert.equal(optionHex({sackPermitted: true}), '01010402');
    assert.equal(optionHex({windowScale: 14}), '0103030e');
    assert.equal(optionHex({sackBlocks: [[1, 100]]}), '0101050a0000000100000064');
    assert.equal(optionHex({unknown: [{kind: 254, data: Buffer.from('abcd', 'hex')}]}), 'fe04abcd');
    assert.equal(optionHex({unknown: [{kind: 253, data: Buffer.from('ab', 'hex')}]}), 'fd03ab00');
  });

  it('round-trips SACK blocks and unknown options through parse', () => {
    const options: TcpOptions = {
      sackBlocks: [
        [0xffff_fff0, 16],
        [100, 200],
      ],
      unknown: [{kind: 30, data: Buffer.from('0102', 'hex')}],
    };
    const segment = buildTcp({...synRepr, flags: TcpFlags.ACK, options}, Buffer.from('data'), CLIENT_V6, SERVER_V6);
    const parsed = unwrap(TcpSegment.parse(segment));
    assert.deepEqual(parsed.options, options);
    assert.equal(parsed.optionsText(), 'nop,nop,sack 2 {4294967280:16}{100:200},unknown-30 0x0102');
    assert.equal(parsed.payload.toString(), 'data');
    assert.ok(parsed.checksumValid(CLIENT_V6, SERVER_V6));
  });

  it('refuses options that do not fit in 40 bytes (a programming error)', () => {
    const options: TcpOptions = {
      mss: 1460,
      timestamp: {value: 1, echo: 2},
      sackBlocks: [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
    };
    assert.throws(() => buildTcp({...synRepr, options}, Buffer.alloc(0), CLIENT_V4, SERVER_V4), RangeError);
  });

  it('stops reading options at end-of-list and keeps the last of repeated options', () => {
    const endOfList = unwrap(TcpSegment.parse(segmentWithOptions([0, 0xff, 0xff, 0xff])));
    assert.deepEqual(endOfList.options, {});
    assert.equal(endOfList.optionsText(), 'eol');
    const repeated = unwrap(TcpSegment.parse(segmentWithOptions([2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18])));
    assert.equal(repeated.options.mss, 536);
  });

  it('fails on malformed option lists, with the reason', () => {
    const reason = (options: number[]) => failure(TcpSegment.parse(segmentWithOptions(options)));
    assert.equal(reason([2, 1, 0, 0]), 'TCP option 2 has length 1');
    assert.equal(reason([2, 6, 5, 0xb4]), 'TCP option 2 of 6 bytes runs past the header');
    assert.equal(reason([1, 1, 1, 2]), 'TCP option 2 has no length byte');
    assert.equal(reason([2, 3, 5, 0]), 'TCP MSS option has length 3');
    assert.equal(reason([3, 4, 7, 0]), 'TCP window scale option has length 4');
    assert.equal(reason([4, 3, 0, 0]), 'TCP SACK-permitted option has length 3');
    assert.equal(reason([5, 6, 0, 0, 0, 1, 0, 0]), 'TCP SACK option has length 6');
    assert.equal(reason([8, 8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0]), 'TCP timestamp option has length 8');
  });

  it('fails on truncated headers and impossible data offsets, with the reason', () => {
    const syn = decode(kernelFrames.syn).tcp!.bytes;
    assert.equal(failure(TcpSegment.parse(syn.subarray(0, 19))), 'truncated TCP header: 19 bytes, need 20');
    const cut = syn.subarray(0, 39);
    assert.equal(failure(TcpSegment.parse(cut)), 'truncated TCP header with options: 39 bytes, need 40');
    const lowOffset = Buffer.from(syn);
    lowOffset[12] = 0x40;
    assert.equal(failure(TcpSegment.parse(lowOffset)), 'TCP data offset 4 is below 5');
  });

  it('spells flags like tcpdump', () => {
    const text = (flags: number) => {
      const segment = buildTcp({...synRepr, flags}, Buffer.alloc(0), CLIENT_V4, SERVER_V4);
      return unwrap(TcpSegment.parse(segment)).flagsText();
    };
    assert.equal(text(0), 'none');
    assert.equal(text(TcpFlags.RST), 'R');
    assert.equal(text(TcpFlags.FIN | TcpFlags.ACK), 'F.');
    assert.equal(text(TcpFlags.PSH | TcpFlags.ACK), 'P.');
    assert.equal(text(0xff), 'FSRP.UEW');
  });

  it('counts SYN and FIN in the sequence space', () => {
    assert.equal(decode(kernelFrames.serverFin).tcp!.sequenceLength, 1);
    assert.equal(decode(kernelFrames.rstAck).tcp!.sequenceLength, 0);
    assert.equal(decode(kernelFrames.httpGet).tcp!.sequenceLength, 93);
  });

  it('exposes the repr of a segment', () => {
    const tcp = decode(kernelFrames.rstAck).tcp!;
    assert.deepEqual(tcp.toRepr(), {
      sourcePort: 8081,
      destinationPort: 40002,
      sequenceNumber: 0,
      acknowledgmentNumber: 839802057,
      flags: TcpFlags.RST | TcpFlags.ACK,
      window: 0,
      urgentPointer: 0,
      options: {},
    });
  });
});
