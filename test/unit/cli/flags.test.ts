import assert from 'node:assert/strict';
import {parseFlags} from '../../../src/cli/parse-flags.js';
import {UsageError} from '../../../src/core/errors.js';
import {buildAgentSchema} from '../../../src/agent/config-schema.js';
import {httpPlugin} from '../../../src/plugins/http/index.js';
import {tcpPlugin} from '../../../src/plugins/tcp/index.js';

const base = ['--vip', '198.51.100.100', '--rs', '198.51.100.11', '--port', '80'];

function prepare(argv: string[]) {
  return tcpPlugin.prepare(parseFlags(tcpPlugin.flags, argv));
}

function rejects(argv: string[], pattern: RegExp) {
  assert.throws(
    () => prepare(argv),
    (e: unknown) => e instanceof UsageError && pattern.test(e.message) && !e.message.includes('\n'),
    `expected UsageError matching ${pattern} for ${argv.join(' ')}`,
  );
}

describe('tcp flags', () => {
  it('parses the long names and the short aliases alike', () => {
    const long = prepare([...base, '--interface', 'eth0', '--mac', '02:00:00:00:00:11', '--clean-close']);
    const short = prepare(['--vip', '198.51.100.100', '-H', '198.51.100.11', '-p', '80', '-I', 'eth0', '--mac', '02-00-00-00-00-11', '--clean-close']);
    assert.deepEqual(JSON.parse(JSON.stringify(long)), JSON.parse(JSON.stringify(short)));
    assert.equal(long.target.port, 80);
    assert.equal(long.cleanClose, true);
    assert.equal(long.target.mac?.toString(), '02:00:00:00:00:11');
  });

  it('counts -v and -vvv', () => {
    assert.equal(parseFlags(tcpPlugin.flags, [...base, '-vvv'])['verbose'], 3);
    assert.equal(parseFlags(tcpPlugin.flags, [...base, '-v', '--verbose'])['verbose'], 2);
    assert.equal(parseFlags(tcpPlugin.flags, base)['verbose'], 0);
  });

  it('defaults --timeout to 8 s (inside check_nrpe\'s 10 s) and --exit-codes to nagios', () => {
    const values = parseFlags(tcpPlugin.flags, base);
    assert.equal(values['timeout'], '8');
    assert.equal(values['exit-codes'], 'nagios');
  });

  it('accepts IPv6 VIPs and thresholds', () => {
    const o = prepare(['--vip', '2001:db8:100::100', '--rs', '2001:db8:100::11', '-p', '443', '-w', '0.05', '-c', '@0.2:']);
    assert.equal(o.target.vip.family, 6);
    assert.equal(o.thresholds.warning?.text, '0.05');
  });

  it('rejects bad input with one line naming the flag', () => {
    rejects(['--rs', '198.51.100.11', '--port', '80'], /--vip is required/);
    rejects([...base.slice(0, 4), '--port', '0'], /--port.*1-65535/);
    rejects([...base.slice(0, 4), '--port', '80x'], /--port/);
    rejects(['--vip', '198.51.100.300', '--rs', '198.51.100.11', '-p', '80'], /--vip.*not an IPv4 or IPv6/);
    rejects(['--vip', '198.51.100.100', '--rs', '198.51.100.100', '-p', '80'], /must differ from the VIP/);
    rejects(['--vip', '224.0.0.1', '--rs', '198.51.100.11', '-p', '80'], /not a unicast/);
    rejects([...base, '--mac', 'zz:00:00:00:00:00'], /--mac/);
    rejects([...base, '--mac', '01:00:5e:00:00:01'], /not a unicast MAC/);
    rejects([...base, '-w', '20:10'], /--warning/);
    rejects([...base, '--role', 'primary'], /--role must be one of/);
    rejects([...base, '--role', 'master', '--role-file', '/x'], /either --role or --role-file/);
    rejects([...base, '--exit-codes', 'sensu'], /--exit-codes/);
    rejects([...base, '--bogus'], /bogus/);
    rejects([...base, 'positional'], /positional/i);
    rejects([...base, '--source', '2001:db8::1'], /--source/);
    rejects([...base, '--interface', 'eth0;rm -rf'], /--interface/);
  });
});

/** --forwarding, --tun-type and --tun-port, shared by every VIP-path check (docs/tun.md). */
const targetWith = (argv: string[]) => prepare([...base, ...argv]).target;

describe('tunnel-mode flags', () => {
  it('defaults to DR; tun defaults to IPIP; GUE carries its port', () => {
    assert.equal(targetWith([]).tunnel, undefined);
    assert.equal(targetWith(['--forwarding', 'dr']).tunnel, undefined);
    assert.deepEqual(targetWith(['--forwarding', 'tun']).tunnel, {type: 'ipip'});
    assert.deepEqual(targetWith(['--forwarding', 'tun', '--tun-type', 'gre']).tunnel, {type: 'gre'});
    assert.deepEqual(targetWith(['--forwarding', 'tun', '--tun-type', 'gue', '--tun-port', '6080']).tunnel, {type: 'gue', port: 6080});
  });

  it('the same flags on http (every VIP-path check)', () => {
    const o = httpPlugin.prepare(parseFlags(httpPlugin.flags, [...base, '--forwarding', 'tun', '--tun-type', 'gue', '--tun-port', '6080']));
    assert.deepEqual(o.target.tunnel, {type: 'gue', port: 6080});
  });

  it('refuses combinations IPVS could not have, in one line', () => {
    rejects([...base, '--forwarding', 'tun', '--tun-type', 'gue'], /gue needs --tun-port/);
    rejects([...base, '--tun-type', 'gre'], /--tun-type needs --forwarding tun/);
    rejects([...base, '--tun-port', '6080'], /--tun-port needs --forwarding tun/);
    rejects([...base, '--forwarding', 'tun', '--tun-port', '6080'], /gue only \(ipip has no port\)/);
    rejects([...base, '--forwarding', 'tun', '--tun-type', 'gue', '--tun-port', '0'], /--tun-port.*1-65535/);
    rejects([...base, '--forwarding', 'tun', '--tun-type', 'vxlan'], /--tun-type/);
    rejects([...base, '--forwarding', 'nat'], /--forwarding/);
    rejects([...base, '--forwarding', 'tun', '--mac', '02:00:00:00:00:11'], /--mac does not apply/);
  });

  it('are service keys of the agent schema, with their options', () => {
    const schema = buildAgentSchema([{id: 'tcp', flags: tcpPlugin.flags}]) as {$defs?: Record<string, {properties?: Record<string, {enum?: string[]}>}>};
    const text = JSON.stringify(schema);
    assert.match(text, /"forwarding":\{"enum":\["dr","tun"\]/);
    assert.match(text, /"tun-type":\{"enum":\["ipip","gue","gre"\]/);
    assert.match(text, /"tun-port":\{"type":\["string","number"\]/);
  });
});
