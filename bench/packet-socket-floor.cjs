// The kernel's share of a check's start-up with vipcheck's own packet socket: load the addon, open a socket on
// eth0 the way PacketSocketLink does (a kernel filter, the same snap length and receive buffer), release it,
// exit. Releasing any packet socket waits for one RCU grace period (packet_release calls synchronize_net).
'use strict';
const addon = require('../build/Release/packet_socket.node');
// What arpFrames().compile() gives (src/core/link/bpf.ts): ldh [12]; jeq #0x806, else drop; accept.
const program = Buffer.alloc(4 * 8);
[[0x28, 0, 0, 12], [0x15, 0, 1, 0x806], [0x06, 0, 0, 262144], [0x06, 0, 0, 0]].forEach(([code, jt, jf, k], i) => {
  program.writeUInt16LE(code, i * 8);
  program.writeUInt8(jt, i * 8 + 2);
  program.writeUInt8(jf, i * 8 + 3);
  program.writeUInt32LE(k, i * 8 + 4);
});
const {handle} = addon.open('eth0', program, 262144, 4 * 1024 * 1024, false, () => {}, () => {}, () => {});
addon.close(handle);
process.exit(0);
