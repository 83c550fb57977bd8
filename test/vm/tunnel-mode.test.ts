// Tunnel mode on a real IPVS TUN director in a VM (src/lab/vm/guest/tunnel-mode.ts): an IPIP, a GUE and a GRE
// real server (the GRE one behind a router), IPv4 and IPv6. The director's own IPVS forwards a client's requests
// to them; vipcheck probes each through its tunnel from the same director, OK with the VIP and CRITICAL without;
// the two kinds of outer packet, captured as they leave the director, are compared field by field.

import assert from 'node:assert/strict';
import { EthernetFrame } from '../../src/core/wire/ethernet.js';
import { parseIpPacket, type IpPacketView } from '../../src/core/wire/ip.js';
import { TcpFlags, TcpSegment } from '../../src/core/wire/tcp.js';
import { parseGre, parseGue } from '../../src/core/wire/tunnel.js';
import { parseFouShow } from '../../src/plugins/arp-audit/local-facts.js';
import type { CapturedPacket, TimedRun, TunnelModeResult } from '../../src/lab/vm/scenarios.js';
import { describeVmScenario } from './harness.js';

/** One captured outer packet, taken apart with vipcheck's own codecs. */
interface Decoded {
  destinationMac: string;
  outer: IpPacketView;
  /** 'ipip' | 'gue' | 'gre', and the bytes between the outer header and the inner packet (UDP ports excluded). */
  type: 'ipip' | 'gue' | 'gre';
  encapsulation: string;
  udpDestinationPort: number | null;
  inner: IpPacketView;
}

function decode(packet: CapturedPacket): Decoded | null {
  const eth = EthernetFrame.parse(Buffer.from(packet.hex, 'hex'));
  if (!eth.ok) return null;
  const outer = parseIpPacket(eth.value.etherType, eth.value.payload);
  if (!outer.ok) return null;
  let type: Decoded['type'];
  let innerBytes: Buffer;
  let encapsulation = '';
  let udpDestinationPort: number | null = null;
  const payload = outer.value.payload;
  if (outer.value.protocol === 4 || outer.value.protocol === 41) {
    type = 'ipip';
    innerBytes = payload;
  } else if (outer.value.protocol === 47) {
    const gre = parseGre(payload);
    if (!gre.ok) return null;
    type = 'gre';
    encapsulation = payload.subarray(0, payload.length - gre.value.payload.length).toString('hex');
    innerBytes = gre.value.payload;
  } else if (outer.value.protocol === 17 && payload.length >= 8) {
    const gue = parseGue(payload.subarray(8));
    if (!gue.ok) return null;
    type = 'gue';
    udpDestinationPort = payload.readUInt16BE(2);
    encapsulation = payload.subarray(8, 8 + 4 + gue.value.headerWords * 4).toString('hex');
    innerBytes = gue.value.payload;
  } else {
    return null;
  }
  const inner = parseIpPacket((innerBytes[0] ?? 0) >> 4 === 4 ? 0x0800 : 0x86dd, innerBytes);
  if (!inner.ok) return null;
  return { destinationMac: eth.value.destination.toString(), outer: outer.value, type, encapsulation, udpDestinationPort, inner: inner.value };
}

/** A plain (not encapsulated) TCP segment of the capture: a DR probe's, or a reply from the VIP. */
function plainTcp(packet: CapturedPacket): { ip: IpPacketView; tcp: TcpSegment } | null {
  const eth = EthernetFrame.parse(Buffer.from(packet.hex, 'hex'));
  if (!eth.ok) return null;
  const ip = parseIpPacket(eth.value.etherType, eth.value.payload);
  if (!ip.ok || ip.value.protocol !== 6) return null;
  const tcp = TcpSegment.parse(ip.value.payload);
  return tcp.ok ? { ip: ip.value, tcp: tcp.value } : null;
}

/** Microseconds from a probe's first SYN leaving the director to the SYN-ACK from the VIP arriving, on the wire. */
function wireRttUs(captured: readonly CapturedPacket[], sourcePort: number, tunnelled: boolean): number | null {
  let synAt: number | null = null;
  for (const packet of captured) {
    if (synAt === null) {
      const inner = tunnelled ? decode(packet)?.inner : plainTcp(packet)?.ip;
      const syn = inner?.protocol === 6 ? TcpSegment.parse(inner.payload) : null;
      if (syn?.ok && syn.value.sourcePort === sourcePort && syn.value.flags === TcpFlags.SYN) synAt = packet.atUs;
      continue;
    }
    const reply = plainTcp(packet);
    if (reply && reply.tcp.destinationPort === sourcePort && reply.tcp.flags === (TcpFlags.SYN | TcpFlags.ACK)) return packet.atUs - synAt;
  }
  return null;
}

function status(run: TimedRun): string {
  return (run.json as { status?: string } | null)?.status ?? `exit ${run.code}: ${run.stdout} ${run.stderr}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

describeVmScenario<TunnelModeResult>('tunnel-mode', (s) => {
  it('runs a real IPVS TUN service: IPIP, GUE port 6080 and GRE destinations, IPv4 and IPv6', () => {
    const table = s.result.ipvsTable;
    assert.match(table, /198\.51\.100\.11:80\s+Tunnel/, table);
    assert.match(table, /198\.51\.100\.12:80\s+Tunnel\s+gue:6080/, table);
    assert.match(table, /203\.0\.113\.13:80\s+Tunnel\s+gre/, table);
    assert.match(table, /\[2001:db8:100::12\]:80\s+Tunnel\s+gue:6080/, table);
    assert.match(table, /\[2001:db8:203::13\]:80\s+Tunnel\s+gre/, table);
  });

  it("forwards the client's requests through each tunnel (every real server answers, both families)", () => {
    for (const family of ['ipv4', 'ipv6'] as const) {
      const requests = s.result.requests[family];
      assert.deepEqual(requests.filter((r) => !r.ok), [], `${family}: failed requests`);
      assert.deepEqual([...new Set(requests.map((r) => r.server))].sort(), ['gre', 'gue', 'ipip'], family);
    }
  });

  it('probes every variant through its tunnel: OK with the VIP, CRITICAL once the VIP is gone', () => {
    const labels = s.result.probes.map((p) => p.label);
    for (const expected of ['ipip v4 in v4', 'gue v4 in v4', 'gre v4 in v4, routed', 'ipip v6 in v6', 'ipip v4 in v6', 'gue v6 in v6', 'gre v6 in v6, routed']) {
      assert.ok(labels.includes(expected), `${expected} ran`);
    }
    for (const p of s.result.probes) {
      assert.equal(status(p.withVip), 'OK', `${p.label} with the VIP: ${p.withVip.stdout}`);
      assert.equal(p.withVip.code, 0);
      assert.equal(status(p.withoutVip), 'CRITICAL', `${p.label} without the VIP: ${p.withoutVip.stdout}`);
      assert.equal(p.withoutVip.code, 2);
      assert.equal((p.withoutVip.json as { outcome?: string }).outcome, 'timeout', `${p.label}: every SYN unanswered, not a deadline overrun`);
      const data = p.withVip.json as { forwarding: string; tunType: string; macOrigin: string };
      assert.deepEqual([data.forwarding, data.tunType, data.macOrigin], ['tun', p.type, 'tunnel']);
    }
  });

  it('runs the conversation checks over TUN: http over routed GRE, http-status over IPv6 GUE, tcp --send/--expect over IPIP', () => {
    assert.equal(status(s.result.http), 'OK', s.result.http.stdout);
    assert.equal(status(s.result.httpStatus), 'OK', s.result.httpStatus.stdout);
    assert.equal(status(s.result.conversation), 'OK', s.result.conversation.stdout);
  });

  it('runs udp --send/--expect over GUE, and a closed UDP port is refused by ICMP from the VIP', () => {
    assert.equal(status(s.result.udp), 'OK', `${s.result.udp.stdout}\n${s.result.udp.stderr}`);
    assert.equal(status(s.result.udpClosed), 'CRITICAL', s.result.udpClosed.stdout);
    assert.match(s.result.udpClosed.stdout, /refused/, s.result.udpClosed.stdout);
  });

  it('guards a conversation from a host without the VIP against its own kernel RSTs, as in DR, and removes the guard', () => {
    const run = s.result.fromClient;
    assert.equal(status(run), 'OK', `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /is not local here/, 'the run knew its kernel would answer with RSTs');
    assert.doesNotMatch(s.result.clientNftAfter, /vipcheck_rst_/, s.result.clientNftAfter);
  });

  it("sends the same outer packets as the director's IPVS: protocol, addresses, MAC, encapsulation header", () => {
    const decoded = s.result.captured.map(decode).filter((d): d is Decoded => d !== null);
    const { director, client } = s.result;
    for (const [type, rip, vip, label] of [
      ['ipip', s.result.servers.ipip.ipv4, s.result.vip4, 'IPIP'],
      ['gue', s.result.servers.gue.ipv4, s.result.vip4, 'GUE'],
      ['gre', s.result.servers.gre.ipv4, s.result.vip4, 'GRE (routed)'],
      ['ipip', s.result.servers.ipip.ipv6, s.result.vip6, 'IPv6 IPIP'],
      ['gue', s.result.servers.gue.ipv6, s.result.vip6, 'IPv6 GUE'],
      ['gre', s.result.servers.gre.ipv6, s.result.vip6, 'IPv6 GRE (routed)'],
    ] as const) {
      const to = decoded.filter((d) => d.type === type && d.outer.destination.toString() === rip && d.inner.destination.toString() === vip);
      const innerSource = (d: Decoded) => d.inner.source.toString();
      const ipvs = to.find((d) => innerSource(d) === (vip.includes(':') ? client.ipv6 : client.ipv4));
      const probe = to.find((d) => innerSource(d) === (vip.includes(':') ? director.ipv6 : director.ipv4));
      assert.ok(ipvs, `${label}: a packet IPVS forwarded from the client`);
      assert.ok(probe, `${label}: a packet of vipcheck's probe`);
      assert.equal(probe.outer.protocol, ipvs.outer.protocol, `${label}: outer protocol`);
      assert.equal(probe.outer.source.toString(), ipvs.outer.source.toString(), `${label}: outer source (the kernel's choice both times)`);
      assert.equal(probe.destinationMac, ipvs.destinationMac, `${label}: next hop MAC (the router's for GRE)`);
      assert.equal(probe.encapsulation, ipvs.encapsulation, `${label}: encapsulation header`);
      assert.equal(probe.udpDestinationPort, ipvs.udpDestinationPort, `${label}: GUE port`);
      assert.equal(probe.inner.protocol, 6);
      // MSS = the director's eth0 MTU (1500) less the outer header, the encapsulation and the inner IP and TCP headers.
      const syn = TcpSegment.parse(probe.inner.payload);
      assert.ok(syn.ok && syn.value.flags === TcpFlags.SYN, `${label}: the probe's first packet is its SYN`);
      const overhead = (probe.outer.family === 4 ? 20 : 40) + { ipip: 0, gre: 4, gue: 12 }[type] + (probe.inner.family === 4 ? 20 : 40) + 20;
      assert.equal(syn.value.options.mss, 1500 - overhead, `${label}: MSS`);
    }
    // The routed real server's packets leave towards the router, the on-link ones towards the server itself.
    const mac = (rip: string) => decoded.find((d) => d.outer.destination.toString() === rip)?.destinationMac;
    assert.notEqual(mac(s.result.servers.gre.ipv4), mac(s.result.servers.ipip.ipv4));
  });

  it('measures a TUN probe against a DR probe of the same real server', () => {
    const { dr, tun } = s.result.timing;
    for (const run of [...dr, ...tun]) assert.equal(status(run), 'OK', run.stdout);
    const checkTime = (run: TimedRun) => ((run.json as { perfdata: Array<{ label: string; value: number }> }).perfdata.find((p) => p.label === 'time')?.value ?? NaN) * 1000;
    const wire = (run: TimedRun, tunnelled: boolean) => {
      const us = wireRttUs(s.result.captured, (run.json as { sourcePort: number }).sourcePort, tunnelled);
      assert.notEqual(us, null, `the capture holds the SYN and SYN-ACK of ${run.stdout}`);
      return us! / 1000;
    };
    const line = (name: string, runs: TimedRun[], tunnelled: boolean) =>
      `      ${name} probe (median of ${runs.length}): process ${median(runs.map((r) => r.ms))} ms, handshake RTT ${median(runs.map(checkTime)).toFixed(2)} ms as measured by the check, ` +
      `${median(runs.map((r) => wire(r, tunnelled))).toFixed(2)} ms on the director's wire`;
    console.log(`${line('DR ', dr, false)}\n${line('TUN', tun, true)}`);
  });

  it('arp-audit --local --forwarding tun: good real servers pass, broken ones name the fault', () => {
    const { good, broken, fouShow } = s.result.arpAudit;
    assert.deepEqual(parseFouShow(fouShow), { 4: [6080], 6: [6080] }, `ip fou show printed:\n${fouShow}`);
    for (const type of ['ipip', 'gue', 'gre'] as const) assert.equal(status(good[type]), 'OK', `${type}: ${good[type].stdout}`);
    const ids = (run: TimedRun) => JSON.stringify(run.json).match(/"id":"[AT]\d+"/g)?.join() ?? run.stdout;
    assert.equal(status(broken.ipip), 'WARNING', broken.ipip.stdout);
    assert.match(ids(broken.ipip), /A12/);
    assert.equal(status(broken.gue), 'CRITICAL', broken.gue.stdout);
    assert.match(ids(broken.gue), /T2/);
    assert.equal(status(broken.gre), 'CRITICAL', broken.gre.stdout);
    assert.match(ids(broken.gre), /T1/);
  });

  it('the agent probes TUN services (service-level forwarding): all up, the routed GRE server down without its VIP', () => {
    const a = s.result.agent;
    assert.match(a.config, /forwarding: tun/);
    assert.notEqual(a.allUpAfterMs, null, `agent never had every file at 0: ${a.log}`);
    assert.deepEqual(Object.values(a.filesWhenUp), ['0', '0', '0']);
    assert.notEqual(a.greDownAfterMs, null, a.log);
    assert.deepEqual(a.filesAfterFault, { ipip: '0', gue: '0', gre: '1' });
    assert.equal(a.exitCode, 0, a.log);
    console.log(`      agent: every TUN target up ${a.allUpAfterMs} ms after its spawn; GRE server's VIP deleted to its file at 1: ${a.greDownAfterMs} ms`);
  });
});
