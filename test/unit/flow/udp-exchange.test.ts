/**
 * The UDP flow and its exchange on the in-memory wire with the virtual clock: retransmission timing, loss,
 * ICMP refusals, replies that must be ignored (wrong port, wrong address, wrong DNS id), and the frames the
 * flow sends passing the checksum gate.
 */
import assert from 'node:assert/strict';
import {MemoryWire, faults} from '../../../src/core/link/memory-link.js';
import {exchangeUdp, RETRY_FIRST_MS, type UdpExchangeOutcome} from '../../../src/core/flow/udp-exchange.js';
import {UdpFlow} from '../../../src/core/flow/udp-flow.js';
import {checksumFault} from '../../../src/core/link/frame-integrity.js';
import {IpAddress, MacAddress} from '../../../src/core/wire/address.js';
import {FakeUdpServer, type UdpRequest, type UdpServerActions} from '../../support/fake-udp-server.js';
import {VirtualClock} from '../../support/virtual-clock.js';

const CLIENT_MAC = MacAddress.parse('02:00:00:00:00:02')!;
const RS_MAC = MacAddress.parse('02:00:00:00:00:11')!;
const FAMILIES = {
  4: {client: IpAddress.parse('198.51.100.2')!, vip: IpAddress.parse('198.51.100.100')!, rip: IpAddress.parse('198.51.100.11')!},
  6: {client: IpAddress.parse('2001:db8::2')!, vip: IpAddress.parse('2001:db8::100')!, rip: IpAddress.parse('2001:db8::11')!},
} as const;
const LOCAL_PORT = 40010;
const SERVICE_PORT = 7007;

interface Run {
  outcome: UdpExchangeOutcome;
  server: FakeUdpServer;
  /** Virtual times at which requests reached the server. */
  arrivals: number[];
  clientSent: Buffer[];
}

async function exchange(options: {
  family?: 4 | 6;
  respond?: (request: UdpRequest, actions: UdpServerActions, index: number) => void;
  vipOnServer?: boolean;
  deadline?: number;
  accept?: (payload: Buffer) => boolean;
  dropFirstRequests?: number;
}): Promise<Run> {
  const addresses = FAMILIES[options.family ?? 4];
  const clock = new VirtualClock();
  const wire = new MemoryWire();
  wire.now = () => clock.now();
  const client = wire.attach('eth0', CLIENT_MAC);
  const arrivals: number[] = [];
  const server = new FakeUdpServer(wire, RS_MAC, options.vipOnServer === false ? [addresses.rip] : [addresses.rip, addresses.vip], (request, actions) => {
    arrivals.push(clock.now());
    options.respond?.(request, actions, arrivals.length - 1);
  });
  if (options.dropFirstRequests) client.faults = faults.dropMatching(() => true, options.dropFirstRequests);
  const flow = new UdpFlow(
    {localMac: CLIENT_MAC, remoteMac: RS_MAC, localIp: addresses.client, remoteIp: addresses.vip, localPort: LOCAL_PORT, remotePort: SERVICE_PORT},
    1,
  );
  let outcome: UdpExchangeOutcome | undefined;
  void exchangeUdp({link: client, flow, request: Buffer.from('ping'), deadline: options.deadline ?? 8000, clock, ...(options.accept ? {accept: options.accept} : {})}).then((o) => (outcome = o));
  await clock.run(() => outcome !== undefined);
  return {outcome: outcome!, server, arrivals, clientSent: client.sent};
}

const echo = (request: UdpRequest, actions: UdpServerActions) => actions.reply(Buffer.concat([Buffer.from('echo:'), request.payload]));

describe('UDP flow and exchange (in-memory wire, virtual clock)', () => {
  for (const family of [4, 6] as const) {
    it(`IPv${family}: gets the reply to the first datagram, sent to the real server's MAC and the VIP`, async () => {
      const {outcome, server} = await exchange({family, respond: echo});
      assert.equal(outcome.kind, 'reply');
      assert.equal(outcome.kind === 'reply' && outcome.payload.toString(), 'echo:ping');
      assert.equal(outcome.attempts, 1);
      assert.ok(server.requests[0]!.to.ip.equals(FAMILIES[family].vip));
      assert.equal(server.requests[0]!.from.port, LOCAL_PORT);
    });

    it(`IPv${family}: ICMP port unreachable from the VIP quoting our datagram ends the exchange`, async () => {
      const {outcome} = await exchange({family, respond: (_r, actions) => actions.unreachable()});
      assert.equal(outcome.kind, 'unreachable');
      if (outcome.kind !== 'unreachable') return;
      assert.ok(outcome.report.portUnreachable);
      assert.ok(outcome.report.reporter.equals(FAMILIES[family].vip));
      assert.equal(outcome.attempts, 1);
    });
  }

  it('retransmits on the documented backoff until the deadline when nothing answers', async () => {
    const {outcome, arrivals} = await exchange({respond: () => {}, deadline: 8000});
    assert.equal(outcome.kind, 'timeout');
    assert.equal(outcome.attempts, 7);
    assert.deepEqual(arrivals, [0, 250, 750, 1750, 3750, 5750, 7750]);
  });

  it('sends nothing to a server without the VIP that answers (its kernel drops the datagrams): timeout', async () => {
    const {outcome, server} = await exchange({respond: echo, vipOnServer: false, deadline: 1000});
    assert.equal(outcome.kind, 'timeout');
    assert.equal(server.requests.length, 0);
    assert.equal(outcome.attempts, 3);
  });

  it('recovers a lost request with the first retransmission', async () => {
    const {outcome, arrivals} = await exchange({respond: echo, dropFirstRequests: 1});
    assert.equal(outcome.kind, 'reply');
    assert.equal(outcome.attempts, 2);
    assert.deepEqual(arrivals, [RETRY_FIRST_MS]);
    assert.equal(outcome.kind === 'reply' && outcome.elapsedMs, RETRY_FIRST_MS);
  });

  it('recovers lost replies: a reply to any copy counts', async () => {
    const {outcome, arrivals} = await exchange({respond: (r, a, index) => index >= 2 && echo(r, a)});
    assert.equal(outcome.kind, 'reply');
    assert.equal(outcome.attempts, 3);
    assert.equal(arrivals.length, 3);
  });

  it('ignores a reply from the wrong port or the wrong address, then takes the right one', async () => {
    const {outcome} = await exchange({
      respond: (request, actions, index) => {
        if (index === 0) {
          actions.reply(Buffer.from('wrong port'), {port: SERVICE_PORT + 1});
          actions.reply(Buffer.from('from the RIP'), {ip: FAMILIES[4].rip});
        } else {
          echo(request, actions);
        }
      },
    });
    assert.equal(outcome.kind, 'reply');
    assert.equal(outcome.kind === 'reply' && outcome.payload.toString(), 'echo:ping');
    assert.equal(outcome.attempts, 2, 'the wrong replies did not end the exchange');
  });

  it('ignores an unreachable quoting another port (another flow of this host)', async () => {
    const {outcome} = await exchange({respond: (_r, actions) => actions.unreachable({quotePort: LOCAL_PORT + 1}), deadline: 1000});
    assert.equal(outcome.kind, 'timeout');
  });

  it('reports an unreachable of another code, or from a router, as such (not as refused)', async () => {
    const router = IpAddress.parse('198.51.100.1')!;
    const {outcome} = await exchange({respond: (_r, actions) => actions.unreachable({from: router, code: 1})});
    assert.equal(outcome.kind, 'unreachable');
    if (outcome.kind !== 'unreachable') return;
    assert.equal(outcome.report.portUnreachable, false);
    assert.ok(outcome.report.reporter.equals(router));
  });

  it("counts replies the caller's accept refuses (a DNS reply with another id) and keeps waiting", async () => {
    const {outcome} = await exchange({
      respond: (_r, actions, index) => actions.reply(Buffer.from(index === 0 ? 'id 1' : 'id 2')),
      accept: (payload) => payload.toString() === 'id 2',
    });
    assert.equal(outcome.kind, 'reply');
    assert.equal(outcome.ignored, 1);
    assert.equal(outcome.attempts, 2);
  });

  it('gives up at once when the deadline has passed', async () => {
    const {outcome, clientSent} = await exchange({respond: echo, deadline: 0});
    assert.equal(outcome.kind, 'timeout');
    assert.equal(outcome.attempts, 0);
    assert.equal(clientSent.length, 0);
  });

  it("sends frames that pass the checksum gate, with DF set like the kernel's", () => {
    for (const family of [4, 6] as const) {
      const a = FAMILIES[family];
      const flow = new UdpFlow({localMac: CLIENT_MAC, remoteMac: RS_MAC, localIp: a.client, remoteIp: a.vip, localPort: LOCAL_PORT, remotePort: 53}, 7);
      const frame = flow.frame(Buffer.from('query'));
      assert.equal(checksumFault(frame), undefined);
      if (family === 4) assert.equal(frame.readUInt16BE(14 + 6) & 0x4000, 0x4000);
    }
  });
});
