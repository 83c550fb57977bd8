/**
 * The VIP-path machinery end to end over the in-memory link: ARP resolution, frame building (dst MAC = real
 * server, dst IP = VIP), the driver and the probe, with loss and duplication injected on the wire.
 */
import assert from 'node:assert/strict';
import {MemoryWire, faults} from '../../../src/core/link/memory-link.js';
import {resolveArp} from '../../../src/core/neighbor/arp-resolver.js';
import {drive} from '../../../src/core/flow/drive.js';
import {TcpFlow} from '../../../src/core/flow/tcp-flow.js';
import {SynProbe} from '../../../src/core/tcp/syn-probe.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import {EthernetFrame} from '../../../src/core/wire/ethernet.js';
import {parseIpPacket} from '../../../src/core/wire/ip.js';
import {TcpFlags, TcpSegment} from '../../../src/core/wire/tcp.js';
import {FakeRealServer, closedPort, listeningServer, type TcpResponder} from '../../support/fake-real-server.js';

const DIRECTOR_MAC = MacAddress.parse('02:00:00:00:00:02')!;
const RS_MAC = MacAddress.parse('02:00:00:00:00:11')!;
const DIRECTOR_IP = IpAddress.parse('198.51.100.2')!;
const RIP = IpAddress.parse('198.51.100.11')!;
const VIP = IpAddress.parse('198.51.100.100')!;

function isTcpFlags(flags: number) {
  return (frame: Buffer) => {
    const eth = EthernetFrame.parse(frame);
    if (!eth.ok) return false;
    const ip = parseIpPacket(eth.value.etherType, eth.value.payload);
    if (!ip.ok) return false;
    const tcp = TcpSegment.parse(ip.value.payload);
    return tcp.ok && tcp.value.flags === flags;
  };
}

async function runProbe(options: {responder: TcpResponder; vipOnServer?: boolean; setup?: (server: FakeRealServer, client: ReturnType<MemoryWire['attach']>) => void; timeoutMs?: number; close?: 'rst' | 'fin'}) {
  const wire = new MemoryWire();
  const client = wire.attach('eth0', DIRECTOR_MAC);
  const server = new FakeRealServer(wire, RS_MAC, RIP, options.vipOnServer === false ? [RIP] : [RIP, VIP], options.responder);
  options.setup?.(server, client);
  const deadline = performance.now() + (options.timeoutMs ?? 1500);
  const arp = await resolveArp(client, {target: RIP, source: DIRECTOR_IP, deadline, intervalMs: 20});
  const probe = new SynProbe({localPort: 40000, remotePort: 80, isn: 123456, mss: 1460, close: options.close ?? 'rst', initialRtoMs: 20, deadline, timestampBase: 1000});
  const flow = new TcpFlow({localMac: client.mac, remoteMac: arp.mac, localIp: DIRECTOR_IP, remoteIp: VIP, localPort: 40000, remotePort: 80}, 1);
  await drive(client, flow, probe);
  return {probe, server, arp, client};
}

describe('VIP path over the in-memory link', () => {
  it('resolves the RS MAC by ARP and gets a SYN-ACK from the VIP on an open port', async () => {
    const {probe, server, arp} = await runProbe({responder: listeningServer()});
    assert.ok(arp.mac.equals(RS_MAC));
    assert.equal(probe.outcome?.kind, 'open');
    const syn = server.received[0]!;
    assert.ok(syn.destinationMac.equals(RS_MAC), 'frame addressed to the real server MAC');
    assert.equal(syn.segment.destinationPort, 80);
    assert.deepEqual(
      server.received.map((r) => r.segment.flags),
      [TcpFlags.SYN, TcpFlags.RST | TcpFlags.ACK],
    );
  });

  it('is refused by a server holding the VIP with the port closed', async () => {
    const {probe} = await runProbe({responder: closedPort()});
    assert.equal(probe.outcome?.kind, 'refused');
  });

  it('times out against a server without the VIP, after retransmitting the SYN', async () => {
    const {probe, server} = await runProbe({responder: listeningServer(), vipOnServer: false, timeoutMs: 300});
    assert.equal(probe.outcome?.kind, 'timeout');
    assert.ok(probe.outcome!.attempts >= 3, `attempts ${probe.outcome!.attempts}`);
    assert.equal(server.received.length, 0, 'the kernel dropped every SYN to the VIP');
  });

  it('recovers when the first SYN-ACK is lost', async () => {
    const {probe} = await runProbe({
      responder: listeningServer(),
      setup: (server) => (server.link.faults = faults.dropMatching(isTcpFlags(TcpFlags.SYN | TcpFlags.ACK), 1)),
    });
    assert.equal(probe.outcome?.kind, 'open');
    assert.equal(probe.outcome!.attempts, 2);
  });

  it('recovers when the first SYN is lost', async () => {
    const {probe, server} = await runProbe({
      responder: listeningServer(),
      setup: (_server, client) => (client.faults = faults.dropMatching(isTcpFlags(TcpFlags.SYN), 1)),
    });
    assert.equal(probe.outcome?.kind, 'open');
    assert.equal(server.received.filter((r) => r.segment.flags === TcpFlags.SYN).length, 1);
  });

  it('ignores duplicated SYN-ACKs', async () => {
    const {probe, server} = await runProbe({
      responder: listeningServer(),
      setup: (server) => (server.link.faults = faults.duplicateMatching(isTcpFlags(TcpFlags.SYN | TcpFlags.ACK))),
    });
    assert.equal(probe.outcome?.kind, 'open');
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(server.received.filter((r) => r.segment.has(TcpFlags.RST)).length, 1, 'exactly one RST sent');
  });

  it('retries ARP when the first request goes unanswered', async () => {
    let dropped = false;
    const {arp} = await runProbe({
      responder: listeningServer(),
      setup: (server) => {
        server.link.faults = (frame) => {
          if (!dropped && frame.readUInt16BE(12) === 0x0806) {
            dropped = true;
            return [];
          }
          return [frame];
        };
      },
    });
    assert.equal(arp.requests, 2);
  });

  it('closes cleanly with FIN when asked', async () => {
    const {probe, server} = await runProbe({responder: listeningServer(), close: 'fin'});
    assert.equal(probe.outcome?.kind, 'open');
    assert.equal((probe.outcome as {closedCleanly?: boolean}).closedCleanly, true);
    assert.deepEqual(
      server.received.map((r) => r.segment.flags),
      [TcpFlags.SYN, TcpFlags.ACK, TcpFlags.FIN | TcpFlags.ACK, TcpFlags.ACK],
    );
  });
});
