/**
 * The dns check end to end on the in-memory wire, through the same VipNetwork seam the agent uses: a scripted
 * DNS server behind the VIP (UDP), and the test TCP peer for the fallback after a truncated reply. Plus the
 * message helpers: what counts as the reply to our query, answers as text, the TCP framing.
 */
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type {Answer, Packet} from 'dns-packet';
import {realClock} from '../../../src/core/flow/drive.js';
import {MemoryWire} from '../../../src/core/link/memory-link.js';
import type {InterfaceInfo} from '../../../src/core/neighbor/interfaces.js';
import type {CheckResult} from '../../../src/core/result/check-result.js';
import {State} from '../../../src/core/result/state.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import type {RunContext} from '../../../src/plugin-api/plugin.js';
import type {VipNetwork} from '../../../src/plugin-api/vip-network.js';
import {dnsPlugin} from '../../../src/plugins/dns/index.js';
import {answerTexts, decodeReply, encodeQuery, frameForTcp, messageFromTcp, type DnsQuery} from '../../../src/plugins/dns/message.js';
import {FakeUdpServer, type UdpRequest, type UdpServerActions} from '../../support/fake-udp-server.js';
import {PEER_MAC, PEER_RIP, PEER_VIP, TestPeer} from '../../support/tcp-test-peer.js';

const CLIENT_MAC = MacAddress.parse('02:00:00:00:00:02')!;
const CLIENT_IP = IpAddress.parse('198.51.100.2')!;
const A_RECORDS = ['198.51.100.80', '198.51.100.81'];

type DnsResponder = (query: Packet, actions: UdpServerActions, request: UdpRequest) => void;

/** The response code sits in the low 4 bits of the flags dns-packet encodes. */
const NXDOMAIN = 3;

function answer(query: Packet, answers: Answer[], flags = dnsPacket.AUTHORITATIVE_ANSWER): Buffer {
  return dnsPacket.encode({type: 'response', id: query.id, flags, questions: query.questions, answers});
}

const aRecords = (name: string): Answer[] => A_RECORDS.map((data) => ({type: 'A', name, ttl: 60, data}));

/** The in-memory network: every flow a link of its own on one wire, the real server's MAC known. */
function memoryNetwork(wire: MemoryWire): VipNetwork {
  let nextPort = 40000;
  const info = {name: 'mem0', mac: CLIENT_MAC, up: true, arp: true, ethernet: true, mtu: 1500, addresses: [{address: CLIENT_IP, prefixLength: 24}]} as InterfaceInfo;
  return {
    openFlowLink: (_request, context) => {
      const link = wire.attach('mem0', CLIENT_MAC);
      context.onCleanup(() => link.close());
      return {link, localPort: nextPort++};
    },
    resolveNeighbor: async () => ({mac: PEER_MAC, protocol: 'ARP', requests: 0, elapsedMs: 0}),
    timestampBase: () => 1,
    suppressesKernelRsts: true,
    hostFacts: <T>() => ({info, source: CLIENT_IP, vipIsLocal: true}) as T,
  };
}

async function runDns(args: string[], respond: DnsResponder, options: {tcp?: (query: Packet) => Buffer; timeoutMs?: number} = {}) {
  const wire = new MemoryWire();
  const udp = new FakeUdpServer(wire, PEER_MAC, [PEER_RIP, PEER_VIP], (request, actions) => respond(dnsPacket.decode(request.payload), actions, request));
  let tcpQueries = 0;
  if (options.tcp) {
    new TestPeer({
      wire,
      clock: realClock,
      port: 53,
      onConnection: (connection) => {
        connection.onData = () => {
          const message = messageFromTcp(connection.receivedData());
          if (!message) return;
          tcpQueries++;
          connection.write(frameForTcp(options.tcp!(dnsPacket.decode(message))));
        };
      },
    });
  }
  const cleanups: Array<() => void> = [];
  const notes: string[] = [];
  const timeoutMs = options.timeoutMs ?? 2000;
  const context: RunContext = {
    deadline: performance.now() + timeoutMs,
    timeoutMs,
    verbosity: 2,
    note: (_level, text) => notes.push(text),
    onCleanup: (fn) => cleanups.push(fn),
    network: memoryNetwork(wire),
  };
  const values = {vip: PEER_VIP.toString(), rs: PEER_RIP.toString(), port: '53', ...parseArgs(args)};
  let result: CheckResult;
  try {
    result = await dnsPlugin.run(dnsPlugin.prepare(values), context);
  } finally {
    for (const fn of cleanups.reverse()) fn();
  }
  return {result, udp, tcpQueries, notes};
}

function parseArgs(args: string[]): Record<string, string | string[] | boolean> {
  const out: Record<string, string | string[] | boolean> = {};
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]!.replace(/^--/, '');
    if (name === 'expect') out[name] = [...((out[name] as string[] | undefined) ?? []), args[i + 1]!];
    else out[name] = args[i + 1]!;
  }
  return out;
}

describe('dns check over the in-memory VIP path', () => {
  it('is OK with the expected records, with time and answer count perfdata', async () => {
    const {result, udp} = await runDns(['--query', 'www.lab.example', '--expect', '198.51.100.81'], (q, a) => a.reply(answer(q, aRecords('www.lab.example'))));
    assert.equal(result.state, State.Ok, result.summary);
    assert.match(result.summary, /answered A www\.lab\.example .* NOERROR, 198\.51\.100\.80, 198\.51\.100\.81$/);
    assert.deepEqual(result.perfdata.map((p) => p.label), ['time', 'answers']);
    assert.equal(result.perfdata[1]!.value, 2);
    const query = dnsPacket.decode(udp.requests[0]!.payload);
    assert.equal(query.questions?.[0]?.name, 'www.lab.example');
    assert.equal(query.flag_rd, true);
  });

  it('uses a fresh random id per check', async () => {
    const ids = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const {udp} = await runDns(['--query', 'www.lab.example'], (q, a) => a.reply(answer(q, [])));
      ids.add(dnsPacket.decode(udp.requests[0]!.payload).id!);
    }
    assert.ok(ids.size >= 3, `ids ${[...ids]}`);
  });

  it('is CRITICAL when an expected record is missing, naming it and what came', async () => {
    const {result} = await runDns(['--query', 'www.lab.example', '--expect', '198.51.100.99'], (q, a) => a.reply(answer(q, aRecords('www.lab.example'))));
    assert.equal(result.state, State.Critical);
    assert.match(result.summary, /without 198\.51\.100\.99 \(got 198\.51\.100\.80, 198\.51\.100\.81\)/);
  });

  it('is CRITICAL on another response code, OK when that code is the one asked for', async () => {
    const nx = (q: Packet, a: UdpServerActions) => a.reply(answer(q, [], dnsPacket.AUTHORITATIVE_ANSWER | NXDOMAIN));
    const bad = await runDns(['--query', 'nope.lab.example'], nx);
    assert.equal(bad.result.state, State.Critical);
    assert.match(bad.result.summary, /with NXDOMAIN .*\(expected NOERROR\)/);
    const good = await runDns(['--query', 'nope.lab.example', '--rcode', 'NXDOMAIN'], nx);
    assert.equal(good.result.state, State.Ok, good.result.summary);
  });

  it('ignores replies with another id or another question, and takes the right one', async () => {
    const {result, notes} = await runDns(['--query', 'www.lab.example'], (q, a) => {
      a.reply(dnsPacket.encode({type: 'response', id: (q.id! + 1) & 0xffff, questions: q.questions, answers: aRecords('www.lab.example')}));
      a.reply(dnsPacket.encode({type: 'response', id: q.id, questions: [{type: 'A', name: 'other.lab.example'}], answers: aRecords('other.lab.example')}));
      a.reply(Buffer.from('junk that is no DNS message'));
      a.reply(answer(q, aRecords('WWW.LAB.EXAMPLE')));
    });
    assert.equal(result.state, State.Ok, result.summary);
    assert.equal(notes.filter((n) => n.startsWith('ignored a datagram')).length, 3, notes.join('\n'));
    assert.match(notes.join('\n'), /DNS id \d+, not ours/);
    assert.match(notes.join('\n'), /question \(other\.lab\.example A\) is not ours/);
  });

  it('asks again over TCP through the VIP path when the UDP reply is truncated', async () => {
    const many = Array.from({length: 60}, (_, i): Answer => ({type: 'A', name: 'big.lab.example', ttl: 60, data: `198.51.100.${i + 1}`}));
    const {result, tcpQueries} = await runDns(
      ['--query', 'big.lab.example', '--expect', '198.51.100.60'],
      (q, a) => a.reply(answer(q, [], dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.TRUNCATED_RESPONSE)),
      {tcp: (q) => answer(q, many)},
    );
    assert.equal(tcpQueries, 1);
    assert.equal(result.state, State.Ok, result.summary);
    assert.match(result.summary, /\(TCP after a truncated UDP reply\)/);
    assert.equal(result.perfdata[1]!.value, 60);
    assert.equal(result.data?.['transport'], 'tcp');
  });

  it('is CRITICAL when the TCP retry after truncation gets no answer', async () => {
    const {result} = await runDns(['--query', 'big.lab.example'], (q, a) => a.reply(answer(q, [], dnsPacket.TRUNCATED_RESPONSE)), {timeoutMs: 600});
    assert.equal(result.state, State.Critical);
    assert.match(result.summary, /truncated its UDP reply .* the TCP retry failed: no answer within/);
  });

  it('is CRITICAL refused on ICMP port unreachable from the VIP', async () => {
    const {result} = await runDns(['--query', 'www.lab.example'], (_q, a) => a.unreachable());
    assert.equal(result.state, State.Critical);
    assert.match(result.summary, /refused the request .* \(ICMP port unreachable from the VIP\)/);
  });
});

describe('dns messages', () => {
  const query: DnsQuery = {id: 4242, question: {name: 'www.lab.example', type: 'A', class: 'IN'}, recursionDesired: false};

  it('refuses a query (QR clear) and malformed bytes with a reason, never throwing', () => {
    const echoed = decodeReply(encodeQuery(query), query);
    assert.deepEqual(echoed, {ok: false, error: 'a DNS query, not a response'});
    const short = decodeReply(Buffer.from('0001', 'hex'), query);
    assert.equal(short.ok, false);
    assert.match(!short.ok ? short.error : '', /^malformed DNS message/);
  });

  it('reads answers as the texts --expect compares', () => {
    assert.deepEqual(answerTexts({type: 'AAAA', name: 'x', data: '2001:0db8::0080'}), ['2001:db8::80']);
    assert.deepEqual(answerTexts({type: 'CNAME', name: 'x', data: 'Target.Example.'}), ['target.example']);
    assert.deepEqual(answerTexts({type: 'MX', name: 'x', data: {preference: 10, exchange: 'mail.example'}}), ['mail.example', '10 mail.example']);
    assert.deepEqual(answerTexts({type: 'TXT', name: 'x', data: [Buffer.from('v=spf1 '), Buffer.from('-all')]}), ['v=spf1 -all', 'v=spf1 ', '-all']);
  });

  it('frames a message for TCP behind its length and finds it only when whole', () => {
    const framed = frameForTcp(Buffer.from('abc'));
    assert.deepEqual(framed, Buffer.from([0, 3, 0x61, 0x62, 0x63]));
    assert.equal(messageFromTcp(framed.subarray(0, 4)), undefined);
    assert.deepEqual(messageFromTcp(Buffer.concat([framed, Buffer.from('next')])), Buffer.from('abc'));
  });

  it('refuses bad --query names and normalizes --expect', () => {
    const base = {vip: '198.51.100.100', rs: '198.51.100.11', port: '53'};
    assert.throws(() => dnsPlugin.prepare({...base, query: 'a..b'}), /empty label/);
    assert.throws(() => dnsPlugin.prepare({...base, query: `${'x'.repeat(64)}.example`}), /longer than 63/);
    assert.throws(() => dnsPlugin.prepare({...base, query: 'a b.example'}), /whitespace/);
    const options = dnsPlugin.prepare({...base, query: 'WWW.Example.', type: 'AAAA', expect: ['2001:0db8::1']});
    assert.equal(options.name, 'WWW.Example');
    assert.deepEqual(options.expect, ['2001:db8::1']);
  });
});
