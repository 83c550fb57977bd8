/**
 * The kernel filters vipcheck compiles itself (core/link/bpf.ts), run by an interpreter of the same
 * instructions on frames captured from real kernels: each filter accepts exactly the frames it names.
 * The lab tests run the same programs in the kernel (test/lab/packet-socket.test.ts and every check).
 */
import assert from 'node:assert/strict';
import {anyOf, arpFrames, arpInvolving, icmp6, ndpAdvertisements, neighborAnswers, tcpFromPeer} from '../../../src/core/link/bpf.js';
import {IpAddress} from '../../../src/core/wire/address.js';
import {frameBytes, kernelFrames} from '../../fixtures/wire/kernel-frames.js';
import {runBpf} from '../../support/bpf-interpreter.js';

type FrameName = keyof typeof kernelFrames;
const ALL = Object.keys(kernelFrames) as FrameName[];
const ip = (text: string) => IpAddress.parse(text)!;

/** The fixture frames a program accepts. */
function accepted(program: Buffer, frames: readonly FrameName[] = ALL): FrameName[] {
  return frames.filter((name) => runBpf(program, frameBytes(kernelFrames[name])) > 0);
}

describe('BPF filters', () => {
  it('arp accepts both ARP frames and nothing else', () => {
    assert.deepEqual(accepted(arpFrames().compile()), ['arpRequest', 'arpReply']);
  });

  it('arp about an address matches it as sender or as target', () => {
    assert.deepEqual(accepted(arpInvolving([ip('198.51.100.100')]).compile()), ['arpRequest', 'arpReply']);
    assert.deepEqual(accepted(arpInvolving([ip('198.51.100.2')]).compile()), ['arpRequest', 'arpReply']);
    assert.deepEqual(accepted(arpInvolving([ip('198.51.100.7'), ip('198.51.100.8')]).compile()), []);
    assert.equal(arpInvolving([ip('198.51.100.7'), ip('198.51.100.8')]).toString(), '(arp host 198.51.100.7) or (arp host 198.51.100.8)');
    assert.throws(() => arpInvolving([ip('2001:db8::1')]), /IPv4 addresses only/);
  });

  it('one IPv4 TCP flow: only segments from VIP:port to our port', () => {
    const server = accepted(tcpFromPeer(ip('198.51.100.100'), 8080, 40001).compile());
    assert.deepEqual(server, ['synAck', 'httpResponseHeader', 'httpResponseBody', 'serverFin']);
    assert.deepEqual(accepted(tcpFromPeer(ip('198.51.100.100'), 8081, 40002).compile()), ['rstAck']);
    assert.deepEqual(accepted(tcpFromPeer(ip('198.51.100.100'), 8080, 40009).compile()), [], 'another local port');
    assert.deepEqual(accepted(tcpFromPeer(ip('198.51.100.101'), 8080, 40001).compile()), [], 'another source address');
  });

  it('follows the IPv4 header length and skips non-first fragments', () => {
    const synAck = frameBytes(kernelFrames.synAck);
    const program = tcpFromPeer(ip('198.51.100.100'), 8080, 40001).compile();
    // Insert 8 bytes of IPv4 options (4 NOPs, end of list): IHL 7, the TCP header moves back 8 bytes.
    const withOptions = Buffer.concat([synAck.subarray(0, 34), Buffer.from([1, 1, 1, 1, 1, 1, 1, 0]), synAck.subarray(34)]);
    withOptions[14] = 0x47;
    assert.ok(runBpf(program, withOptions) > 0, 'IHL 7');
    const fragment = Buffer.from(synAck);
    fragment.writeUInt16BE(0x0001, 20); // fragment offset 8 bytes: no TCP header here
    assert.equal(runBpf(program, fragment), 0);
    assert.equal(runBpf(program, synAck.subarray(0, 37)), 0, 'a frame cut inside the destination port');
  });

  it('one IPv6 TCP flow', () => {
    assert.deepEqual(accepted(tcpFromPeer(ip('2001:db8::100'), 8080, 40003).compile()), ['ipv6SynAck']);
    assert.deepEqual(accepted(tcpFromPeer(ip('2001:db8::101'), 8080, 40003).compile()), []);
    assert.equal(tcpFromPeer(ip('2001:db8::100'), 8080, 40003).toString(), 'ip6 and tcp and src host 2001:db8::100 and src port 8080 and dst port 40003');
  });

  it('NDP advertisements, not solicitations, and nothing behind an extension header', () => {
    assert.deepEqual(accepted(ndpAdvertisements().compile()), ['ndpAdvertisement']);
    assert.deepEqual(accepted(icmp6().compile()), ['ndpSolicitation', 'ndpAdvertisement']);
    assert.deepEqual(accepted(neighborAnswers(6).compile()), ['ndpAdvertisement']);
  });

  it('alternatives: the VIP path filter takes neighbour answers and the flow', () => {
    const filter = anyOf(neighborAnswers(4), tcpFromPeer(ip('198.51.100.100'), 8080, 40001));
    assert.deepEqual(accepted(filter.compile()), ['arpRequest', 'arpReply', 'synAck', 'httpResponseHeader', 'httpResponseBody', 'serverFin']);
    assert.equal(filter.toString(), '(arp) or (ip and tcp and src host 198.51.100.100 and src port 8080 and dst port 40001)');
  });

  it('rejects frames too short for any test, and ports out of range', () => {
    const program = anyOf(arpFrames(), tcpFromPeer(ip('198.51.100.100'), 80, 40000)).compile();
    for (const length of [0, 1, 12, 13]) assert.equal(runBpf(program, Buffer.alloc(length)), 0);
    assert.throws(() => tcpFromPeer(ip('198.51.100.100'), 65536, 1), /invalid port/);
    assert.throws(() => tcpFromPeer(ip('198.51.100.100'), 80, 1.5), /invalid port/);
  });
});
