import assert from 'node:assert/strict';
import {parseFlags} from '../../../src/cli/parse-flags.js';
import {UsageError} from '../../../src/core/errors.js';
import {arpAuditPlugin} from '../../../src/plugins/arp-audit/index.js';

const VIP = ['--vip', '198.51.100.100'];

function prepare(argv: string[]) {
  return arpAuditPlugin.prepare(parseFlags(arpAuditPlugin.flags, argv));
}

function rejects(argv: string[], pattern: RegExp) {
  assert.throws(
    () => prepare(argv),
    (e: unknown) => e instanceof UsageError && pattern.test(e.message) && !e.message.includes('\n'),
    `expected a one-line UsageError matching ${pattern} for ${argv.join(' ')}`,
  );
}

describe('arp-audit flags', () => {
  it('runs active mode with 3 probes 0.5 s apart when no mode is given', () => {
    const o = prepare(VIP);
    assert.deepEqual(o.active, {probes: 3, intervalMs: 500});
    assert.equal(o.listenMs, undefined);
    assert.equal(o.local, undefined);
  });

  it('combines the modes as asked', () => {
    const passive = prepare([...VIP, '--listen', '5']);
    assert.equal(passive.active, undefined);
    assert.equal(passive.listenMs, 5000);
    const local = prepare([...VIP, '--local']);
    assert.equal(local.active, undefined);
    assert.deepEqual(local.local, {role: 'auto'});
    const all = prepare([...VIP, '--active', '--listen', '2', '--local', '--local-role', 'realserver']);
    assert.ok(all.active && all.listenMs === 2000);
    assert.deepEqual(all.local, {role: 'realserver'});
    // --probes/--interval ask for active mode by themselves.
    assert.deepEqual(prepare([...VIP, '--listen', '2', '--probes', '5']).active, {probes: 5, intervalMs: 500});
  });

  it('takes repeated and comma-separated --expect-mac and --rs, without duplicates', () => {
    const o = prepare([...VIP, '--expect-mac', '02:00:00:00:00:02,00:00:5e:00:01:33', '--expect-mac', '02-00-00-00-00-02', '--rs', '198.51.100.11', '--rs', '198.51.100.12, 198.51.100.11']);
    assert.deepEqual(o.expectMacs.map(String), ['02:00:00:00:00:02', '00:00:5e:00:01:33']);
    assert.deepEqual(o.rips.map(String), ['198.51.100.11', '198.51.100.12']);
    assert.equal(prepare([...VIP, '-I', 'eth0']).interfaceName, 'eth0');
  });

  it('shrinks default probing to fit a short --timeout', () => {
    assert.deepEqual(prepare([...VIP, '-t', '1']).active, {probes: 3, intervalMs: 233});
    assert.deepEqual(prepare([...VIP, '-t', '0.5']).active, {probes: 3, intervalMs: 66});
    assert.deepEqual(prepare([...VIP, '-t', '0.32']).active, {probes: 2, intervalMs: 10});
    assert.deepEqual(prepare([...VIP, '-t', '1', '--interval', '0.2']).active, {probes: 3, intervalMs: 200});
    assert.deepEqual(prepare([...VIP, '-t', '1', '--probes', '7']).active, {probes: 7, intervalMs: 100});
  });

  it('rejects timings that cannot fit in --timeout, saying what would', () => {
    rejects([...VIP, '--probes', '10', '--interval', '1'], /--probes 10 and --interval 1 s need 10 s, which does not fit in --timeout 8 s/);
    rejects([...VIP, '--listen', '30'], /--listen 30 s does not fit in --timeout 8 s .*raise --timeout to at least 30\.3 s/);
    rejects([...VIP, '--listen', '7.8'], /--listen 7\.8 s does not fit/);
    rejects([...VIP, '-t', '0.3'], /the active probes need .* does not fit in --timeout 0\.3 s/);
    assert.equal(prepare([...VIP, '--listen', '7.7']).listenMs, 7700);
  });

  it('rejects bad values with one line naming the flag', () => {
    rejects([], /--vip is required/);
    rejects(['--vip', '2001:db8:100::100', '--rs', '198.51.100.11'], /--rs 198\.51\.100\.11 is IPv4 but the VIP is IPv6: real servers are named by NDP/);
    rejects([...VIP, '--rs', '2001:db8:100::11'], /--rs 2001:db8:100::11 is IPv6 but the VIP is IPv4/);
    rejects([...VIP, '--rs', '198.51.100.100'], /--rs 198\.51\.100\.100 is the VIP/);
    rejects([...VIP, '--rs', '198.51.100.300'], /--rs: '198\.51\.100\.300' is not an IPv4 or IPv6 address/);
    rejects([...VIP, '--expect-mac', '01:00:5e:00:00:01'], /--expect-mac: .* not a unicast MAC/);
    rejects([...VIP, '--probes', '0'], /--probes: '0' is not a number of probes \(1-100\)/);
    rejects([...VIP, '--probes', '101'], /--probes/);
    rejects([...VIP, '--interval', '0.001'], /--interval: 0\.001 s is shorter than 0\.01 s/);
    rejects([...VIP, '--local-role', 'director'], /--local-role needs --local/);
    rejects([...VIP, '--local', '--local-role', 'router'], /--local-role must be one of auto, director, realserver/);
    rejects([...VIP, '-w', '1'], /Unknown option '-w'/);
  });
});
