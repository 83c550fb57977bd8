import assert from 'node:assert/strict';
import {internetChecksum} from '../../../src/core/wire/checksum.js';
import {buildEthernet, EtherType} from '../../../src/core/wire/ethernet.js';
import {decodeFrame, describeFrame} from '../../../src/core/wire/frame.js';
import {Ipv4Packet} from '../../../src/core/wire/ipv4.js';
import {Ipv6Packet} from '../../../src/core/wire/ipv6.js';
import {frameBytes, kernelFrames, type KernelFrame} from '../../fixtures/wire/kernel-frames.js';
import {arpAnnouncement, arpProbe, ipv6LaterFragment} from '../../fixtures/wire/rfc-examples.js';
import {CLIENT_MAC, decode, failure, SERVER_MAC} from './support.js';

const LINK = '02:00:00:00:00:01 > 02:00:00:00:00:0b';
const REVERSE_LINK = '02:00:00:00:00:0b > 02:00:00:00:00:01';

function describe_(frame: KernelFrame): string {
  return describeFrame(frameBytes(frame));
}

/** A copy of the kernel SYN frame with one byte changed. */
function synWithByte(offset: number, value: number): Buffer {
  const bytes = frameBytes(kernelFrames.syn);
  bytes[offset] = value;
  return bytes;
}

function ethernetAround(etherType: number, payload: Buffer): Buffer {
  return buildEthernet({destination: SERVER_MAC, source: CLIENT_MAC, etherType}, payload);
}

describe('wire/frame', () => {
  describe('decodeFrame', () => {
    it('decodes Ethernet, IPv4 and TCP of a kernel SYN', () => {
      const frame = decode(kernelFrames.syn);
      assert.equal(frame.ethernet.etherType, EtherType.IPv4);
      assert.ok(frame.ip instanceof Ipv4Packet);
      assert.equal(frame.tcp?.destinationPort, 8080);
      assert.equal(frame.arp, undefined);
      assert.equal(frame.innerError, undefined);
    });

    it('decodes IPv6 and TCP', () => {
      const frame = decode(kernelFrames.ipv6SynAck);
      assert.ok(frame.ip instanceof Ipv6Packet);
      assert.equal(frame.tcp?.flagsText(), 'S.');
    });

    it('decodes ARP', () => {
      const frame = decode(kernelFrames.arpReply);
      assert.ok(frame.arp?.senderMac.equals(SERVER_MAC));
      assert.equal(frame.ip, undefined);
    });

    it('stops at IP for other protocols, without an error', () => {
      const frame = decode(kernelFrames.ndpSolicitation);
      assert.equal(frame.ip?.protocol, 58);
      assert.equal(frame.tcp, undefined);
      assert.equal(frame.innerError, undefined);
    });

    it('does not read TCP out of a fragment', () => {
      const frame = decode(ethernetAround(EtherType.IPv6, ipv6LaterFragment));
      assert.equal(frame.ip?.isFragment, true);
      assert.equal(frame.tcp, undefined);
      assert.equal(frame.innerError, undefined);
    });

    it('keeps only the Ethernet layer of an unknown EtherType', () => {
      const frame = decode(ethernetAround(0x88cc, Buffer.alloc(20)));
      assert.deepEqual(Object.keys(frame), ['ethernet']);
    });

    it('returns the Ethernet layer and the reason when the IP packet is bad', () => {
      const frame = decode(frameBytes(kernelFrames.syn).subarray(0, 24));
      assert.equal(frame.ip, undefined);
      assert.equal(frame.innerError, 'truncated IPv4 header: 10 bytes, need 20');
    });

    it('returns the IP layer and the reason when the TCP header is bad', () => {
      const frame = decode(synWithByte(34 + 12, 0x40)); // TCP data offset 4 (the IP checksum does not cover it)
      assert.ok(frame.ip);
      assert.equal(frame.tcp, undefined);
      assert.equal(frame.innerError, 'TCP data offset 4 is below 5');
    });

    it('returns the reason when the ARP packet is bad', () => {
      const frame = decode(frameBytes(kernelFrames.arpRequest).subarray(0, 30));
      assert.equal(frame.innerError, 'truncated ARP packet: 16 bytes, need 28');
    });

    it('fails only when the Ethernet header is unusable', () => {
      assert.equal(failure(decodeFrame(Buffer.alloc(5))), 'truncated Ethernet header: 5 bytes, need 14');
    });
  });

  describe('describeFrame', () => {
    it('describes a SYN with its options, like tcpdump -e -S', () => {
      assert.equal(
        describe_(kernelFrames.syn),
        `${LINK} IPv4 198.51.100.2.40001 > 198.51.100.100.8080: Flags [S], seq 3355767685, win 64240, ` +
          'options [mss 1460,sackOK,TS val 157065253 ecr 0,nop,wscale 10], length 0',
      );
    });

    it('shows a wrong checksum as tcpdump -vv does', () => {
      assert.equal(
        describe_(kernelFrames.synOffloaded),
        `${LINK} IPv4 198.51.100.2.40000 > 198.51.100.100.8080: Flags [S], cksum 0x54fc (incorrect -> 0x82d8), ` +
          'seq 2945563497, win 64240, options [mss 1460,sackOK,TS val 222642517 ecr 0,nop,wscale 10], length 0',
      );
    });

    it('shows the acknowledgment, a data range and the RST', () => {
      assert.equal(
        describe_(kernelFrames.httpGet),
        `${LINK} IPv4 198.51.100.2.40001 > 198.51.100.100.8080: Flags [P.], seq 3355767686:3355767779, ` +
          'ack 2310971077, win 63, options [nop,nop,TS val 157065253 ecr 3545151189], length 93',
      );
      assert.equal(
        describe_(kernelFrames.rstAck),
        `${REVERSE_LINK} IPv4 198.51.100.100.8081 > 198.51.100.2.40002: Flags [R.], seq 0, ack 839802057, ` +
          'win 0, length 0',
      );
      assert.match(describe_(kernelFrames.serverFin), /: Flags \[F\.\], seq 2310971270, ack 3355767779, /);
    });

    it('describes IPv6 TCP and other IPv6 traffic', () => {
      assert.equal(
        describe_(kernelFrames.ipv6Syn),
        `${LINK} IPv6 2001:db8::2.40003 > 2001:db8::100.8080: Flags [S], seq 3326909109, win 64800, ` +
          'options [mss 1440,sackOK,TS val 3401743480 ecr 0,nop,wscale 10], length 0',
      );
      assert.equal(
        describe_(kernelFrames.ndpSolicitation),
        '02:00:00:00:00:01 > 33:33:ff:00:01:00 IPv6 2001:db8::2 > ff02::1:ff00:100: ICMP6, neighbor solicitation, ' +
          'who has 2001:db8::100, source link-address 02:00:00:00:00:01, length 32',
      );
      assert.equal(
        describeFrame(ethernetAround(EtherType.IPv6, ipv6LaterFragment)),
        `${LINK} IPv6 2001:db8::2 > 2001:db8::100: TCP fragment, length 8`,
      );
    });

    it('describes ARP requests, replies, probes and announcements', () => {
      assert.equal(
        describe_(kernelFrames.arpRequest),
        '02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP who-has 198.51.100.100 tell 198.51.100.2',
      );
      assert.equal(
        describe_(kernelFrames.arpReply),
        `${REVERSE_LINK} ARP reply 198.51.100.100 is-at 02:00:00:00:00:0b`,
      );
      assert.match(describeFrame(arpProbe), / ARP who-has 198\.51\.100\.100 tell 0\.0\.0\.0$/);
      assert.match(describeFrame(arpAnnouncement), / ARP who-has (\S+) tell \1 \(gratuitous\)$/);
    });

    it('shows the VLAN id of a tagged frame', () => {
      const plain = frameBytes(kernelFrames.arpReply);
      const tagged = Buffer.concat([plain.subarray(0, 12), Buffer.from('8100000a', 'hex'), plain.subarray(12)]);
      assert.match(describeFrame(tagged), /^02:00:00:00:00:0b > 02:00:00:00:00:01 vlan 10 ARP reply /);
    });

    it('describes what it cannot decode instead of throwing', () => {
      assert.equal(
        describeFrame(Buffer.alloc(5)),
        'invalid frame (5 bytes): truncated Ethernet header: 5 bytes, need 14',
      );
      assert.equal(
        describeFrame(frameBytes(kernelFrames.syn).subarray(0, 24)),
        `${LINK} IPv4 [invalid: truncated IPv4 header: 10 bytes, need 20], length 10`,
      );
      assert.equal(
        describeFrame(synWithByte(34 + 12, 0x40)),
        `${LINK} IPv4 198.51.100.2 > 198.51.100.100: TCP [invalid: TCP data offset 4 is below 5], length 40`,
      );
      assert.equal(describeFrame(ethernetAround(0x88cc, Buffer.alloc(20))), `${LINK} ethertype 0x88cc, length 46`);
    });

    it('names IP protocols it knows and numbers the rest', () => {
      const udp = Buffer.from(frameBytes(kernelFrames.rstAck));
      udp[14 + 9] = 17;
      udp.writeUInt16BE(0, 14 + 10);
      udp.writeUInt16BE(internetChecksum(udp.subarray(14, 34)), 14 + 10);
      assert.match(describeFrame(udp), /IPv4 198\.51\.100\.100 > 198\.51\.100\.2: UDP, length 20$/);
      udp[14 + 9] = 250;
      udp.writeUInt16BE(0, 14 + 10);
      udp.writeUInt16BE(internetChecksum(udp.subarray(14, 34)), 14 + 10);
      assert.match(describeFrame(udp), /: ip-proto-250, length 20$/);
    });
  });
});
