// The kernel's share of a check's start-up with vipcheck's own packet socket: load the addon, open a socket on
// eth0 the way PacketSocketLink does (same filter kind, snap length and receive buffer), release it, exit.
// Releasing any packet socket waits for one RCU grace period (packet_release calls synchronize_net).
'use strict';
const addon = require('../build/Release/packet_socket.node');
const {handle} = addon.open('eth0', 'arp', 262144, 4 * 1024 * 1024, false, () => {}, () => {});
addon.close(handle);
process.exit(0);
