/**
 * The tunnel-mode encapsulations (wire/tunnel.ts): GUE and GRE headers built as IPVS builds them and parsed back,
 * the longer forms IPVS sends with tun_flags, and hostile input. The director's own packets, captured in the VM
 * lab, are in tunnel-kernel.test.ts.
 */
import assert from 'node:assert/strict';
import {buildGre, buildGue, encapsulate, encapsulationLength, outerIpProtocol, parseGre, parseGue} from '../../../src/core/wire/tunnel.js';
import {failure, unwrap} from './support.js';

const INNER_V4 = Buffer.from('450000280001400040060000c6336402c6336464', 'hex');
const INNER_V6 = Buffer.from('6000000000000640', 'hex');

describe('wire/tunnel', () => {
  it('builds the 4-byte GUE v0 header IPVS sends (hlen 0, proto_ctype 4 or 41) and parses it back', () => {
    const v4 = buildGue(4, INNER_V4);
    assert.equal(v4.subarray(0, 4).toString('hex'), '00040000');
    const parsed = unwrap(parseGue(v4));
    assert.deepEqual([parsed.version, parsed.control, parsed.headerWords, parsed.protocol, parsed.flags], [0, false, 0, 4, 0]);
    assert.ok(parsed.payload.equals(INNER_V4));
    assert.equal(buildGue(6, INNER_V6).subarray(0, 4).toString('hex'), '00290000');
  });

  it('skips GUE options (remote checksum offload: hlen 1) and refuses version 1 and truncation', () => {
    const withOption = Buffer.concat([Buffer.from('01048000', 'hex'), Buffer.from('00140006', 'hex'), INNER_V4]);
    const parsed = unwrap(parseGue(withOption));
    assert.equal(parsed.headerWords, 1);
    assert.ok(parsed.payload.equals(INNER_V4));
    assert.match(failure(parseGue(Buffer.from('45000028', 'hex'))), /version 1/);
    assert.match(failure(parseGue(Buffer.from('0004', 'hex'))), /truncated GUE header/);
    assert.match(failure(parseGue(Buffer.from('02040000', 'hex'))), /with options/);
  });

  it('builds the 4-byte GRE header IPVS sends (no checksum, key or sequence) and parses it back', () => {
    assert.equal(buildGre(4, INNER_V4).subarray(0, 4).toString('hex'), '00000800');
    const v6 = unwrap(parseGre(buildGre(6, INNER_V6)));
    assert.deepEqual([v6.protocolType, v6.checksumPresent, v6.key, v6.sequence], [0x86dd, false, undefined, undefined]);
    assert.ok(v6.payload.equals(INNER_V6));
  });

  it('reads past GRE checksum, key and sequence, and refuses other versions, routing bits and truncation', () => {
    const long = Buffer.concat([Buffer.from('b0000800', 'hex'), Buffer.from('abcd0000', 'hex'), Buffer.from('0000002a', 'hex'), Buffer.from('00000007', 'hex'), INNER_V4]);
    const parsed = unwrap(parseGre(long));
    assert.deepEqual([parsed.checksumPresent, parsed.key, parsed.sequence], [true, 42, 7]);
    assert.ok(parsed.payload.equals(INNER_V4));
    assert.match(failure(parseGre(Buffer.from('00010800', 'hex'))), /version 1/);
    assert.match(failure(parseGre(Buffer.from('40000800', 'hex'))), /routing/);
    assert.match(failure(parseGre(Buffer.from('80000800', 'hex'))), /truncated GRE header with its optional fields/);
    assert.match(failure(parseGre(Buffer.from('00', 'hex'))), /truncated GRE header/);
  });

  it('names the outer protocol and the overhead of each encapsulation', () => {
    assert.deepEqual([outerIpProtocol('ipip', 4), outerIpProtocol('ipip', 6), outerIpProtocol('gre', 6), outerIpProtocol('gue', 4)], [4, 41, 47, 17]);
    assert.deepEqual([encapsulationLength('ipip'), encapsulationLength('gre'), encapsulationLength('gue')], [0, 4, 12]);
    assert.equal(encapsulate('ipip', 4, INNER_V4), INNER_V4, 'IPIP adds nothing and copies nothing');
    assert.ok(encapsulate('gre', 4, INNER_V4).subarray(4).equals(INNER_V4));
  });
});
