// The libpcap floor, kept to show why vipcheck has its own packet socket: load node_pcap's binding (a dev
// dependency, only for this benchmark), open a capture on eth0 as vipcheck did before, exit. libpcap always sets
// up a TPACKET ring: packet_set_ring() and packet_release() wait for RCU grace periods (synchronize_net).
'use strict';
const binding = require('pcap/build/Release/pcap_binding.node');
const session = new binding.PcapSession();
session.open_live('eth0', 'arp', 4 * 1024 * 1024, 262144, '', () => {}, false, 0, () => {}, false);
process.exit(0);
