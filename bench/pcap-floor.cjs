// The kernel's share of a check's start-up: load the pcap binding, open a capture on eth0 the way PcapLink
// does (same buffer and snap length, immediate mode), exit. Opening and releasing an AF_PACKET ring waits for
// RCU grace periods (packet_set_ring and packet_release call synchronize_net), which no user code can avoid.
'use strict';
const binding = require('pcap/build/Release/pcap_binding.node');
const session = new binding.PcapSession();
session.open_live('eth0', 'arp', 4 * 1024 * 1024, 262144, '', () => {}, false, 0, () => {}, false);
process.exit(0);
