/** The pure codec layer: one module per protocol, each a checked view over untrusted bytes plus an emitter. */
export * from './address.js';
export * from './arp.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './frame.js';
export * from './icmp-unreachable.js';
export * from './icmpv6.js';
export * from './ip.js';
export * from './ipv4.js';
export * from './ipv6.js';
export * from './parsed.js';
export * from './seq.js';
export * from './tcp.js';
export * from './tunnel.js';
export * from './udp.js';
