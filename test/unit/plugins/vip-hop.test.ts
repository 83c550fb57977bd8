/**
 * What a VIP-path check says about the hop it took and, on silence, what to look at: the real server's MAC in DR,
 * the tunnel in TUN mode (whose MAC is zero: the kernel routes the outer packet), for TCP and UDP alike.
 */
import assert from 'node:assert/strict';
import {noReplyResult, type VipUdpExchange} from '../../../src/plugins/common/vip-udp.js';
import {describeHop, silenceHint, type VipPath} from '../../../src/plugins/common/vip-path.js';
import type {RunContext} from '../../../src/plugin-api/plugin.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';

const rs = IpAddress.parse('198.51.100.11')!;
const vip = IpAddress.parse('198.51.100.100')!;
const drPath = {rsMac: MacAddress.parse('02:00:00:00:00:11')!, tunnel: undefined} as unknown as VipPath;
const tunPath = {rsMac: MacAddress.ZERO, tunnel: {type: 'gue', port: 6080}} as unknown as VipPath;
const context = {timeoutMs: 2000} as RunContext;

function silentExchange(path: VipPath): VipUdpExchange {
  return {
    target: {vip, rs, port: 53},
    path,
    outcome: {kind: 'timeout', attempts: 3} as VipUdpExchange['outcome'],
    service: '198.51.100.100:53',
    via: describeHop({vip, rs, port: 53}, path),
    details: [],
    data: {},
  };
}

describe('VIP-path hop and silence hints', () => {
  it('names the MAC in DR and the tunnel in TUN mode, never a zero MAC', () => {
    assert.equal(describeHop({vip, rs, port: 53}, drPath), 'via 198.51.100.11 (02:00:00:00:00:11)');
    assert.equal(describeHop({vip, rs, port: 53}, tunPath), 'via 198.51.100.11 (gue tunnel)');
  });

  it('asks about decapsulation and rp_filter only in tunnel mode', () => {
    assert.equal(silenceHint(drPath), "(is the VIP configured on the real server's loopback?)");
    assert.match(silenceHint(tunPath), /gue decapsulation up, rp_filter relaxed\? vipcheck arp-audit --local --forwarding tun/);
  });

  it('gives a silent UDP service the same hints, with its own question', () => {
    const dr = noReplyResult('UDP', silentExchange(drPath), context, {});
    assert.equal(dr.summary, "no answer from 198.51.100.100:53 via 198.51.100.11 (02:00:00:00:00:11) within 2 s to 3 datagrams (is the VIP configured on the real server's loopback, and the service running?)");
    const tun = noReplyResult('UDP', silentExchange(tunPath), context, {});
    assert.match(tun.summary, /via 198\.51\.100\.11 \(gue tunnel\) within 2 s to 3 datagrams \(is the VIP on the real server's loopback, its gue decapsulation up, rp_filter relaxed, and the service running\?/);
    assert.doesNotMatch(tun.summary, /00:00:00:00:00:00/);
  });
});
