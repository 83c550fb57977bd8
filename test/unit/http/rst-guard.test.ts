import assert from 'node:assert/strict';
import {listeningPorts, rstGuardRules, staleGuardTables} from '../../../src/plugins/common/rst-guard.js';
import {IpAddress} from '../../../src/core/wire/address.js';

// /proc/net/tcp as the kernel prints it: a listener on 198.51.100.2:40000 (0x9C40) and an established socket.
const PROC_NET_TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 026433C6:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 026433C6:9C41 0B6433C6:0050 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
`;

describe('kernel RST guard', () => {
  it('drops only RSTs from our source port to the VIP, per family', () => {
    assert.match(rstGuardRules(IpAddress.parse('198.51.100.100')!, 40000), /ip daddr 198\.51\.100\.100 tcp sport 40000 tcp flags & rst == rst drop/);
    assert.match(rstGuardRules(IpAddress.parse('2001:db8::100')!, 40000), /ip6 daddr 2001:db8::100 tcp sport 40000/);
  });

  it('finds leftover tables of checks that are gone (port no longer listening)', () => {
    const listening = listeningPorts([PROC_NET_TCP]);
    assert.deepEqual([...listening], [40000]);
    const tables = 'table inet filter\ntable inet vipcheck_rst_40000\ntable inet vipcheck_rst_40001\n';
    assert.deepEqual(staleGuardTables(tables, listening), ['vipcheck_rst_40001']);
  });
});
