// The read-only fallback against the guest kernel's own /proc/net/ip_vs of the captured table
// (test/fixtures/ipvs/proc-ip_vs.txt, capture.sh), compared with what netlink read of the same table.
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {NetlinkIpvsControl} from '../../../src/core/ipvs/netlink-control.js';
import {kernelHz, parseProcIpvs, ProcIpvsControl} from '../../../src/core/ipvs/proc.js';
import {describeServiceKey, type IpvsTable} from '../../../src/core/ipvs/model.js';
import {IpAddress} from '../../../src/core/wire/address.js';
import {replayKernel} from './replay-kernel.js';
import {FIXTURES} from './strace-fixture.js';

const procText = readFileSync(new URL('proc-ip_vs.txt', FIXTURES), 'utf8');

/** What both sources hold (proc has no tunnel type, thresholds or persistence engine). */
function comparable(table: IpvsTable): string[] {
  return table.services
    .map(({service, destinations}) =>
      [
        `${describeServiceKey(service.key)} ${service.scheduler} persistent=${service.flags & 1} timeout=${service.timeout}`,
        ...destinations.map((d) => `${d.address}:${d.port} ${d.forwarding} ${d.weight}`).sort(),
      ].join(' | '),
    )
    .sort();
}

describe('IPVS /proc/net/ip_vs fallback', function () {
  it('reads the same services and real servers as netlink, minus what /proc lacks', async function () {
    const parsed = parseProcIpvs(procText, 250);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    assert.equal(parsed.value.source, 'proc');
    const kernel = replayKernel('set-dest', 'list-tun-info');
    const control = await NetlinkIpvsControl.open({transport: kernel.factory});
    const netlink = await control.read();
    control.close();
    // The fixture's /proc was read after the GUE destination's weight went from 2 to 7 (set-dest).
    assert.deepEqual(
      comparable(parsed.value),
      comparable(netlink).map((line) => line.replace('203.0.113.21:443 tun 2', '203.0.113.21:443 tun 7')),
    );
    const tunnel = parsed.value.services.find((s) => s.service.key.kind === 'address' && s.service.key.port === 443)!;
    assert.deepEqual(
      tunnel.destinations.map((d) => [d.tunnelType, d.tunnelPort, d.upperThreshold]),
      [['ipip', 0, 0], ['ipip', 0, 0], ['ipip', 0, 0]],
    );
    const v6 = parsed.value.services.find((s) => s.service.key.kind === 'address' && s.service.key.address.family === 6)!;
    assert.ok(v6.destinations[0]!.address.equals(IpAddress.parse('2001:db8::11')));
  });

  it('takes an fwmark service family from its real servers', function () {
    const text = 'IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\nFWM  00000009 rr \n  -> [2001:0db8:0000:0000:0000:0000:0000:0011]:0000      Route   1      0          0\n';
    const parsed = parseProcIpvs(text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.services[0]!.service.key, {kind: 'fwmark', family: 6, fwmark: 9});
  });

  it('reads persistent services of both families whatever their mask (IPv6: the prefix length, byte-swapped)', function () {
    // As ip_vs_ctl.c prints them: "persistent %d %08X" of the timeout in ticks and ntohl(netmask); an IPv6
    // service's netmask is a prefix length, so /127 prints 7F000000 (read as a decimal number, it was refused).
    const text = [
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn',
      'TCP  [2001:0db8:0000:0000:0000:0000:0000:0100]:01BB wrr persistent 75000 7F000000',
      '  -> [2001:0db8:0000:0000:0000:0000:0000:0011]:01BB      Route   4      0          0         ',
      'TCP  C6336465:0050 rr  persistent 25000 FFFFFF00',
      '  -> C633640B:0050      Route   1      0          0         ',
      '',
    ].join('\n');
    const parsed = parseProcIpvs(text, 250);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    assert.deepEqual(
      parsed.value.services.map(({service}) => [describeServiceKey(service.key), service.flags & 1, service.timeout]),
      [['TCP [2001:db8::100]:443', 1, 300], ['TCP 198.51.100.101:80', 1, 100]],
    );
    assert.match((parseProcIpvs(text.replace('7F000000', '7F00')) as {error: string}).error, /line 4: not a virtual service line/);
  });

  it('rejects a malformed file with one line naming the line', function () {
    assert.deepEqual(parseProcIpvs('hello'), {ok: false, error: '/proc/net/ip_vs: the first line is not "IP Virtual Server version ..."'});
    const broken = procText.replace('Route   3', 'Sideways 3');
    assert.deepEqual(parseProcIpvs(broken), {ok: false, error: '/proc/net/ip_vs line 5: not a real server line: -> C633640C:0050      Sideways 3      0          0'});
    assert.match((parseProcIpvs(procText.replace('rr', 'rr bogus')) as {error: string}).error, /line 4: not a virtual service line/);
  });

  it('is read-only, and reads CONFIG_HZ from the kernel config', async function () {
    const control = new ProcIpvsControl(250, () => procText);
    assert.equal(control.canWrite, false);
    await assert.rejects(control.removeDestination(), /cannot be changed/);
    assert.equal(kernelHz('x', () => 'CONFIG_HZ_1000=y\nCONFIG_HZ=1000\n'), 1000);
    assert.equal(kernelHz('x', () => {
      throw new Error('ENOENT');
    }), 250);
  });
});
