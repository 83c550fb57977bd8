/**
 * Tunnel mode's link over the in-memory wire: the unchanged SYN probe sends through an EncapsulatingLink whose
 * sender hands the encapsulated payload to a fake real-server kernel (which decapsulates it with the wire
 * codecs and delivers the inner packet to the real server, as tunl0/gre0/fou do), and the reply comes back
 * un-encapsulated on the wire, from the VIP, as from a real TUN real server.
 */
import assert from 'node:assert/strict';
import {MemoryWire} from '../../../src/core/link/memory-link.js';
import {EncapsulatingLink, tunnelSenderKey, type TunnelSender} from '../../../src/core/link/tunnel-link.js';
import {drive} from '../../../src/core/flow/drive.js';
import {TcpFlow} from '../../../src/core/flow/tcp-flow.js';
import {SynProbe} from '../../../src/core/tcp/syn-probe.js';
import {IpAddress, MacAddress, type IpFamily} from '../../../src/core/wire/address.js';
import {buildEthernet, EtherType} from '../../../src/core/wire/ethernet.js';
import {encapsulate, parseGre, parseGue, type TunnelType} from '../../../src/core/wire/tunnel.js';
import {FakeRealServer, listeningServer} from '../../support/fake-real-server.js';

const PROBER_MAC = MacAddress.parse('02:00:00:00:00:02')!;
const RS_MAC = MacAddress.parse('02:00:00:00:00:11')!;
const PROBER = IpAddress.parse('198.51.100.2')!;
const RIP = IpAddress.parse('203.0.113.13')!;
const VIP = IpAddress.parse('198.51.100.100')!;

/** The real server's side of the tunnel: decapsulates what the sender got and puts the inner packet on the wire. */
function fakeTunnel(wire: MemoryWire, type: TunnelType, innerFamily: IpFamily) {
  const kernel = wire.attach('tunl0', MacAddress.parse('02:00:00:00:00:ee')!);
  const sent: Array<{remote: IpAddress; payload: Buffer}> = [];
  const sender: TunnelSender = {
    key: tunnelSenderKey({type, remote: RIP, ...(type === 'gue' ? {port: 6080} : {})}, innerFamily),
    lastError: undefined,
    send(remote, inner) {
      const payload = encapsulate(type, innerFamily, inner);
      sent.push({remote, payload});
      const decapsulated = type === 'gre' ? parseGre(payload) : type === 'gue' ? parseGue(payload) : {ok: true as const, value: {payload}};
      assert.ok(decapsulated.ok);
      kernel.send(buildEthernet({destination: RS_MAC, source: kernel.mac, etherType: innerFamily === 4 ? EtherType.IPv4 : EtherType.IPv6}, decapsulated.value.payload));
    },
    close() {},
  };
  return {sender, sent};
}

async function probeThrough(type: TunnelType, vipOnServer: boolean) {
  const wire = new MemoryWire();
  const capture = wire.attach('eth0', PROBER_MAC);
  const server = new FakeRealServer(wire, RS_MAC, RIP, vipOnServer ? [RIP, VIP] : [RIP], listeningServer());
  const {sender, sent} = fakeTunnel(wire, type, 4);
  const link = new EncapsulatingLink(capture, sender, RIP);
  const deadline = performance.now() + 300;
  const probe = new SynProbe({localPort: 40000, remotePort: 80, isn: 1, mss: 1460 - 24, close: 'rst', initialRtoMs: 20, deadline, timestampBase: 1000});
  // The MAC is never used in tunnel mode (the Ethernet header is stripped): zero, as openVipPath gives it.
  const flow = new TcpFlow({localMac: capture.mac, remoteMac: MacAddress.ZERO, localIp: PROBER, remoteIp: VIP, localPort: 40000, remotePort: 80}, 1);
  await drive(link, flow, probe);
  return {probe, server, sent};
}

describe('EncapsulatingLink (tunnel mode over the in-memory wire)', () => {
  for (const type of ['ipip', 'gue', 'gre'] as const) {
    it(`${type}: the unchanged SYN probe gets the SYN-ACK from the VIP through a server holding it`, async () => {
      const {probe, server, sent} = await probeThrough(type, true);
      assert.equal(probe.outcome?.kind, 'open');
      assert.ok(sent.every((s) => s.remote.equals(RIP)), 'every packet goes to the RIP');
      const first = sent[0]!.payload;
      const innerAt = type === 'ipip' ? 0 : 4;
      assert.equal(first[innerAt]! >> 4, 4, 'the inner packet is IPv4');
      assert.deepEqual([...first.subarray(innerAt + 16, innerAt + 20)], [198, 51, 100, 100], 'inner destination: the VIP');
      assert.equal(first.length, innerAt + first.readUInt16BE(innerAt + 2), 'no Ethernet padding inside the tunnel');
      assert.equal(server.received[0]!.segment.destinationPort, 80, "the real server got the decapsulated SYN to VIP:80");
    });

    it(`${type}: times out through a server without the VIP`, async () => {
      const {probe, sent} = await probeThrough(type, false);
      assert.equal(probe.outcome?.kind, 'timeout');
      assert.ok(sent.length >= 2, 'the SYN was retransmitted through the tunnel');
    });
  }

  it('passes no ARP or NDP into the tunnel and refuses a frame without a whole IP packet', () => {
    const wire = new MemoryWire();
    const {sender, sent} = fakeTunnel(wire, 'gre', 4);
    const link = new EncapsulatingLink(wire.attach('eth0', PROBER_MAC), sender, RIP);
    link.send(buildEthernet({destination: MacAddress.BROADCAST, source: PROBER_MAC, etherType: EtherType.ARP}, Buffer.alloc(28)));
    assert.equal(sent.length, 0);
    assert.throws(() => link.send(Buffer.alloc(10)), /cannot encapsulate/);
    const truncated = buildEthernet({destination: RS_MAC, source: PROBER_MAC, etherType: EtherType.IPv4}, Buffer.from([0x45, 0, 0x05, 0xdc, ...Buffer.alloc(36)]));
    assert.throws(() => link.send(truncated), /no whole IP packet/);
  });
});
