/**
 * The closed port's RST (core/flow/tcp-reset.ts) the agent sends for segments to ports no flow owns: addressed
 * back to the sender, with the sequence numbers RFC 9293 3.10.7.1 gives, and never an answer to a RST.
 */
import assert from 'node:assert/strict';
import {resetFrameFor} from '../../../src/core/flow/tcp-reset.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import {buildEthernet, EtherType} from '../../../src/core/wire/ethernet.js';
import {decodeFrame} from '../../../src/core/wire/frame.js';
import {buildIpPacket, IpProtocol} from '../../../src/core/wire/ip.js';
import {buildTcp, TcpFlags} from '../../../src/core/wire/tcp.js';

const RS_MAC = MacAddress.parse('02:00:00:00:00:11')!;
const OUR_MAC = MacAddress.parse('02:00:00:00:00:02')!;

function segmentFrame(vip: string, us: string, flags: number, seq: number, ack: number, payload = Buffer.alloc(0)): Buffer {
  const from = IpAddress.parse(vip)!;
  const to = IpAddress.parse(us)!;
  const tcp = buildTcp({sourcePort: 80, destinationPort: 40960, sequenceNumber: seq, acknowledgmentNumber: ack, flags, window: 1000}, payload, from, to);
  const ip = buildIpPacket({family: from.family, source: from, destination: to, protocol: IpProtocol.TCP}, tcp);
  return buildEthernet({destination: OUR_MAC, source: RS_MAC, etherType: from.family === 4 ? EtherType.IPv4 : EtherType.IPv6}, ip);
}

function decoded(frame: Buffer) {
  const d = decodeFrame(frame);
  assert.ok(d.ok && d.value.ip && d.value.tcp);
  return {ethernet: d.value.ethernet, ip: d.value.ip, tcp: d.value.tcp};
}

describe('the closed port RST for late segments', () => {
  it('answers a late SYN-ACK with RST at its ACK number, back to the real server, from VIP:port to us', () => {
    const reset = resetFrameFor(segmentFrame('198.51.100.100', '198.51.100.2', TcpFlags.SYN | TcpFlags.ACK, 5000, 0x9000_0001))!;
    const {ethernet, ip, tcp} = decoded(reset);
    assert.ok(ethernet.destination.equals(RS_MAC) && ethernet.source.equals(OUR_MAC));
    assert.equal(`${ip.source} > ${ip.destination}`, '198.51.100.2 > 198.51.100.100');
    assert.equal(`${tcp.sourcePort} > ${tcp.destinationPort}`, '40960 > 80');
    assert.equal(tcp.flags, TcpFlags.RST);
    assert.equal(tcp.sequenceNumber, 0x9000_0001);
    assert.ok(tcp.checksumValid(ip.source, ip.destination));
  });

  it('answers a segment without ACK with RST|ACK acknowledging its sequence space (IPv6 too)', () => {
    const reset = resetFrameFor(segmentFrame('2001:db8::100', '2001:db8::2', TcpFlags.SYN, 0xffff_ffff, 0))!;
    const {tcp, ip} = decoded(reset);
    assert.equal(tcp.flags, TcpFlags.RST | TcpFlags.ACK);
    assert.equal(tcp.sequenceNumber, 0);
    assert.equal(tcp.acknowledgmentNumber, 0, 'SYN at 2^32-1 takes one: wraps to 0');
    assert.ok(tcp.checksumValid(ip.source, ip.destination));
    const data = decoded(resetFrameFor(segmentFrame('198.51.100.100', '198.51.100.2', TcpFlags.PSH, 100, 0, Buffer.from('hello')))!).tcp;
    assert.equal(data.acknowledgmentNumber, 105);
  });

  it('never answers a RST, nor what is not TCP', () => {
    assert.equal(resetFrameFor(segmentFrame('198.51.100.100', '198.51.100.2', TcpFlags.RST | TcpFlags.ACK, 1, 2)), undefined);
    assert.equal(resetFrameFor(Buffer.alloc(20)), undefined);
  });
});
