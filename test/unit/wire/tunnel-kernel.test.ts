/**
 * The director's own tunnel packets (test/fixtures/wire/tunnel-frames.ts, captured from a real IPVS TUN director
 * in the VM lab): vipcheck's codecs take them apart, and encapsulating their inner packet again gives the very
 * bytes IPVS put after the outer header (GUE: the UDP payload), so a probe carries what the director sends.
 */
import assert from 'node:assert/strict';
import {EthernetFrame} from '../../../src/core/wire/ethernet.js';
import {parseIpPacket} from '../../../src/core/wire/ip.js';
import {TcpFlags, TcpSegment} from '../../../src/core/wire/tcp.js';
import {encapsulate, parseGre, parseGue, type TunnelType} from '../../../src/core/wire/tunnel.js';
import {ipvsTunnelFrames, tunnelFrameBytes, type TunnelFrame} from '../../fixtures/wire/tunnel-frames.js';
import {unwrap} from './support.js';

interface Expected {
  type: TunnelType;
  outerFamily: 4 | 6;
  outerProtocol: number;
  rip: string;
  vip: string;
  client: string;
}

const V4 = {vip: '198.51.100.100', client: '198.51.100.50'};
const V6 = {vip: '2001:db8:100::100', client: '2001:db8:100::50'};
const cases: Array<[keyof typeof ipvsTunnelFrames, Expected]> = [
  ['ipipV4', {type: 'ipip', outerFamily: 4, outerProtocol: 4, rip: '198.51.100.11', ...V4}],
  ['gueV4', {type: 'gue', outerFamily: 4, outerProtocol: 17, rip: '198.51.100.12', ...V4}],
  ['greV4', {type: 'gre', outerFamily: 4, outerProtocol: 47, rip: '203.0.113.13', ...V4}],
  ['ipipV6', {type: 'ipip', outerFamily: 6, outerProtocol: 41, rip: '2001:db8:100::11', ...V6}],
  ['gueV6', {type: 'gue', outerFamily: 6, outerProtocol: 17, rip: '2001:db8:100::12', ...V6}],
  ['greV6', {type: 'gre', outerFamily: 6, outerProtocol: 47, rip: '2001:db8:203::13', ...V6}],
];

function takeApart(frame: TunnelFrame, type: TunnelType) {
  const eth = unwrap(EthernetFrame.parse(tunnelFrameBytes(frame)));
  const outer = unwrap(parseIpPacket(eth.etherType, eth.payload));
  // What follows the outer header, as far as vipcheck builds it (GUE's UDP header is the socket's).
  const carried = type === 'gue' ? outer.payload.subarray(8) : outer.payload;
  const innerBytes = type === 'gre' ? unwrap(parseGre(carried)).payload : type === 'gue' ? unwrap(parseGue(carried)).payload : carried;
  const inner = unwrap(parseIpPacket((innerBytes[0]! >> 4) === 4 ? 0x0800 : 0x86dd, innerBytes));
  return {outer, carried, innerBytes, inner};
}

describe('wire/tunnel on IPVS TUN packets captured from a real director', () => {
  for (const [name, e] of cases) {
    it(`${name}: ${ipvsTunnelFrames[name].description}`, () => {
      const {outer, carried, innerBytes, inner} = takeApart(ipvsTunnelFrames[name], e.type);
      assert.equal(outer.family, e.outerFamily);
      assert.equal(outer.protocol, e.outerProtocol);
      assert.equal(outer.source.toString(), e.outerFamily === 4 ? '198.51.100.2' : '2001:db8:100::2', 'the director, by its route to the RIP');
      assert.equal(outer.destination.toString(), e.rip);
      if (e.type === 'gue') assert.equal(outer.payload.readUInt16BE(2), 6080, 'UDP to the tun_port');
      assert.equal(inner.source.toString(), e.client, 'the inner packet is the client\'s, unchanged');
      assert.equal(inner.destination.toString(), e.vip);
      const syn = unwrap(TcpSegment.parse(inner.payload));
      assert.equal(syn.destinationPort, 80);
      assert.equal(syn.flags, TcpFlags.SYN);
      // Round trip: the inner packet encapsulated by vipcheck gives IPVS's bytes exactly.
      assert.equal(encapsulate(e.type, inner.family, innerBytes).toString('hex'), carried.toString('hex'));
    });
  }
});
