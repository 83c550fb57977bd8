/**
 * `vipcheck udp` and `vipcheck dns` in the namespace lab: dnsmasq (Debian's dnsmasq-base, its whole
 * configuration on the command line, no system service) and a python3 UDP echo bound to the VIPs in the good
 * real server's namespace; the closed real server holds the VIP with nothing on the ports (its kernel answers
 * ICMP port unreachable from the VIP); novip lacks the VIP (its kernel drops the datagrams: silence).
 */
import assert from 'node:assert/strict';
import {AgentProcess} from '../support/agent-process.js';
import {UDP_ECHO_PORT, startDnsmasq, startUdpEcho} from '../support/lab-services.js';
import {describeLab, runVipcheck} from './harness.js';

describeLab('udp and dns through the VIP path', (s) => {
  before(async () => {
    await startDnsmasq(s.lab, 'good');
    await startUdpEcho(s.lab, 'good');
  });

  const dns = (rs: 'good' | 'novip' | 'closed', ...extra: string[]) =>
    runVipcheck(s.lab, 'client', ['dns', '--vip', s.lab.vip4, '--rs', s.lab.hosts[rs].ipv4, '--timeout', '1.5', ...extra]);

  it('dns: OK with the expected record from the real server holding the VIP', async () => {
    const run = await dns('good', '--query', 'www.lab.example', '--expect', '198.51.100.80');
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /^VIPCHECK DNS OK - 198\.51\.100\.100:53 answered A www\.lab\.example via 198\.51\.100\.11 .*NOERROR, 198\.51\.100\.80 \| time=[\d.]+s;;;0;1\.5 answers=1;;;0/);
  });

  it('dns: CRITICAL from a real server without the VIP (silence)', async () => {
    const run = await dns('novip', '--query', 'www.lab.example');
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stdout, /^VIPCHECK DNS CRITICAL - no answer from 198\.51\.100\.100:53 .* to [34] datagrams/);
  });

  it('dns: CRITICAL refused from the real server with port 53 closed (ICMP port unreachable from the VIP)', async () => {
    const run = await dns('closed', '--query', 'www.lab.example');
    assert.equal(run.code, 2, run.stdout);
    assert.match(run.stdout, /refused the request .*\(ICMP port unreachable from the VIP\)/);
  });

  it('dns: a truncated UDP reply is asked again over TCP through the VIP path', async () => {
    const run = await dns('good', '--query', 'big.lab.example', '--type', 'TXT', '--timeout', '3');
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /\(TCP after a truncated UDP reply\): NOERROR/);
  });

  it('dns over IPv6: AAAA from the VIP6', async function () {
    if (!s.lab.ipv6) this.skip();
    const run = await runVipcheck(s.lab, 'client', ['dns', '--vip', s.lab.vip6, '--rs', s.lab.hosts.good.ipv6, '--query', 'www.lab.example', '--type', 'AAAA', '--expect', '2001:db8:100::80']);
    assert.equal(run.code, 0, run.stdout);
  });

  it('udp --send/--expect: OK from the echo service, over IPv4 and IPv6', async () => {
    const v4 = await runVipcheck(s.lab, 'client', ['udp', '--vip', s.lab.vip4, '--rs', s.lab.hosts.good.ipv4, '-p', String(UDP_ECHO_PORT), '--send', 'ping\\r\\n', '--expect', 'echo:ping']);
    assert.equal(v4.code, 0, v4.stdout);
    assert.match(v4.stdout, /^VIPCHECK UDP OK - .*: 'echo:ping' \| time=/);
    if (s.lab.ipv6) {
      const v6 = await runVipcheck(s.lab, 'client', ['udp', '--vip', s.lab.vip6, '--rs', s.lab.hosts.good.ipv6, '-p', String(UDP_ECHO_PORT), '--send', 'ping', '--expect', 'echo:ping']);
      assert.equal(v6.code, 0, v6.stdout);
    }
  });

  it('udp: a reply that does not match is WARNING (tcp --mismatch rules), a closed port CRITICAL refused', async () => {
    const mismatch = await runVipcheck(s.lab, 'client', ['udp', '--vip', s.lab.vip4, '--rs', s.lab.hosts.good.ipv4, '-p', String(UDP_ECHO_PORT), '--send', 'ping', '--expect', 'pong']);
    assert.equal(mismatch.code, 1, mismatch.stdout);
    const closed = await runVipcheck(s.lab, 'client', ['udp', '--vip', s.lab.vip4, '--rs', s.lab.hosts.closed.ipv4, '-p', String(UDP_ECHO_PORT), '--send', 'ping', '--timeout', '1']);
    assert.equal(closed.code, 2, closed.stdout);
    assert.match(closed.stdout, /refused the request/);
  });

  it('the agent probes a dns service (and a udp one) through its shared socket: up, refused, silent', async () => {
    const {good, novip, closed} = s.lab.hosts;
    const config = `
listen: 127.0.0.1:9471
defaults: {interval: 0.3, timeout: 0.25, rise: 2, fall: 2}
services:
  - name: dns
    vip: ${s.lab.vip4}
    port: 53
    check: dns
    query: www.lab.example
    expect: [198.51.100.80]
    real-servers: [${good.ipv4}, ${novip.ipv4}, ${closed.ipv4}]
  - name: echo6
    vip: ${s.lab.vip6}
    port: ${UDP_ECHO_PORT}
    check: udp
    send: ping
    expect: echo:ping
    real-servers: [${good.ipv6}]
`;
    const agent = await AgentProcess.start(s.lab, 'director', config, 9471);
    try {
      await agent.until(async () => (await agent.upOf('dns'))[good.ipv4] === 1, 10_000, 'dns up on good');
      await agent.until(async () => (await agent.upOf('echo6'))[good.ipv6] === 1, 10_000, 'udp echo up over IPv6');
      await agent.untilProbed('dns', [novip.ipv4, closed.ipv4]);
      assert.deepEqual(await agent.upOf('dns'), {[good.ipv4]: 1, [novip.ipv4]: 0, [closed.ipv4]: 0});
      const byRs = await agent.realServersOf('dns');
      assert.match(byRs[novip.ipv4]!.lastProbe!.summary, /no answer/);
      assert.match(byRs[closed.ipv4]!.lastProbe!.summary, /refused/);
    } finally {
      await agent.stop();
    }
  });
}, {timeoutMs: 60_000});
