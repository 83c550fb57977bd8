// vipcheck's IPVS netlink client and ipvs-audit on a real IPVS (Debian's kernel in the VM lab, guest side
// src/lab/vm/guest/ipvs-netlink.ts): what it reads equals what ipvsadm says, a weight change keeps every other
// field (ipvsadm's own output before and after), the /proc fallback reads the same without CAP_NET_ADMIN, and
// each ipvs-audit finding shows on a table built for it.

import assert from 'node:assert/strict';
import type { IpvsAuditCase, IpvsNetlinkResult } from '../../src/lab/vm/scenarios.js';
import { describeVmScenario } from './harness.js';

/** A table as result.json carries it: IpAddress fields are strings there. */
interface TableJson {
  services: Array<{
    service: { key: { kind: 'address'; protocol: string; address: string; port: number } | { kind: 'fwmark'; family: number; fwmark: number }; scheduler: string; flags: number; timeout: number };
    destinations: DestinationJson[];
  }>;
  source: string;
}

interface DestinationJson {
  address: string;
  port: number;
  forwarding: string;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
  tunnelType: string;
  tunnelPort: number;
  tunnelFlags: number;
}

const hostPort = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);
const FORWARDING: Record<string, string> = { dr: '-g', tun: '-i', nat: '-m' };
/** IP_VS_TUNNEL_ENCAP_FLAG_CSUM | _REMCSUM: neither set is what ipvsadm prints as --tun-nocsum. */
const CHECKSUM_FLAGS = 0x3;

/** The table in `ipvsadm -S -n` form (ipvsadm 1.31: no thresholds there). */
function saveLines(table: TableJson): string[] {
  return table.services.flatMap(({ service, destinations }) => {
    const key = service.key;
    const svc = key.kind === 'fwmark' ? `-f ${key.fwmark}` : `${key.protocol === 'udp' ? '-u' : '-t'} ${hostPort(key.address, key.port)}`;
    const persistent = service.flags & 1 ? ` -p ${service.timeout}` : '';
    return [
      `-A ${svc} -s ${service.scheduler}${persistent}`,
      ...destinations.map((d) => {
        const tunnel = d.forwarding === 'tun' ? ` --tun-type ${d.tunnelType}${d.tunnelType === 'gue' ? ` --tun-port ${d.tunnelPort}` : ''}${d.tunnelType !== 'ipip' && (d.tunnelFlags & CHECKSUM_FLAGS) === 0 ? ' --tun-nocsum' : ''}` : '';
        return `-a ${svc} -r ${hostPort(d.address, d.port)} ${FORWARDING[d.forwarding]} -w ${d.weight}${tunnel}`;
      }),
    ];
  });
}

/** `RIP:port -> [upper, lower]` from `ipvsadm -L -n --thresholds`. */
function thresholdsOf(text: string): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const m of text.matchAll(/^\s+-> (\S+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s*$/gm)) out[m[1]!] = [Number(m[2]), Number(m[3])];
  return out;
}

const lines = (text: string): string[] => text.trim().split('\n');

describeVmScenario<IpvsNetlinkResult>('ipvs-netlink', (s) => {
  const table = (): TableJson => s.result.discovery.netlink as TableJson;
  const audit = (name: string): IpvsAuditCase => {
    const found = s.result.audits.find((a) => a.name === name);
    assert.ok(found, `audit case ${name}`);
    return found;
  };

  it('reads through netlink exactly what ipvsadm -S -n saves: DR, TUN ipip/GUE+port/GRE, NAT, fwmark, IPv6', () => {
    assert.equal(table().source, 'netlink');
    // ipvsadm sorts services and real servers; the kernel dumps them in its hash order. Each line names both.
    assert.deepEqual(saveLines(table()).sort(), lines(s.result.discovery.ipvsadm.save).sort());
    assert.match(s.result.discovery.ipvsadm.tunInfo, /203\.0\.113\.21:443\s+Tunnel\s+gue:6080:-c/);
  });

  it('reads the thresholds ipvsadm -Ln --thresholds shows', () => {
    const fromNetlink = Object.fromEntries(table().services.flatMap((e) => e.destinations.map((d) => [hostPort(d.address, d.port), [d.upperThreshold, d.lowerThreshold]])));
    assert.deepEqual(fromNetlink, thresholdsOf(s.result.discovery.ipvsadm.thresholds));
    assert.deepEqual(fromNetlink['198.51.100.12:80'], [100, 10]);
  });

  it('without CAP_NET_ADMIN says so in one line and reads the same table from /proc/net/ip_vs, read-only', () => {
    const proc = s.result.discovery.proc;
    assert.equal(proc.code, 0, proc.stderr);
    const read = JSON.parse(proc.stdout) as { canWrite: boolean; table: TableJson; notices: string[] };
    assert.equal(read.canWrite, false);
    assert.equal(read.table.source, 'proc');
    assert.deepEqual(read.notices, [
      'IPVS netlink needs CAP_NET_ADMIN, even to read (the kernel says EPERM (operation not permitted)): reading /proc/net/ip_vs instead (read-only; no tunnel types, ports or thresholds)',
    ]);
    // /proc lists services in its hash order and lacks tunnel types and thresholds: compare what it has.
    const comparable = (t: TableJson): string[] =>
      t.services
        .map(({ service, destinations }) => `${JSON.stringify(service.key)} ${service.scheduler} ${service.flags & 1} ${service.timeout} | ${destinations.map((d) => `${hostPort(d.address, d.port)} ${d.forwarding} ${d.weight}`).sort().join(', ')}`)
        .sort();
    assert.deepEqual(comparable(read.table), comparable(table()));
  });

  it('changes weights through updateDestination keeping forwarding, thresholds and tunnel type/port/flags (ipvsadm before and after)', () => {
    const { before, after, returned } = s.result.writes;
    const changed: Record<string, string> = {
      '-r 203.0.113.21:443 ': '-w 0',
      '-r 203.0.113.23:443 ': '-w 6',
      '-r 198.51.100.12:80 ': '-w 9',
      '-r 203.0.113.31:5353 ': '-w 4',
      '-r 198.51.100.13:0 ': '-w 2',
      '-r [2001:db8::11]:80 ': '-w 0',
    };
    const expected = lines(before.save).map((line) => {
      const hit = Object.keys(changed).find((k) => line.includes(k));
      return hit ? line.replace(/-w \d+/, changed[hit]!) : line;
    });
    assert.notDeepEqual(expected, lines(before.save));
    assert.deepEqual(lines(after.save), expected);
    assert.deepEqual(thresholdsOf(after.thresholds), thresholdsOf(before.thresholds));
    assert.deepEqual(
      (returned as DestinationJson[]).map((d) => [d.address, d.forwarding, d.weight, d.tunnelType, d.tunnelPort, d.upperThreshold]),
      [
        ['203.0.113.21', 'tun', 0, 'gue', 6080, 0],
        ['203.0.113.23', 'tun', 6, 'gre', 0, 0],
        ['198.51.100.12', 'dr', 9, 'ipip', 0, 100],
        ['203.0.113.31', 'nat', 4, 'ipip', 0, 0],
        ['198.51.100.13', 'dr', 2, 'ipip', 0, 0],
        ['2001:db8::11', 'dr', 0, 'ipip', 0, 0],
      ],
      'updateDestination returns the destination as the kernel now holds it',
    );
  });

  it('adds a GUE real server with every field and removes it; a missing one is a one-line error', () => {
    const { after, afterAdd, afterRemove, missingError } = s.result.writes;
    assert.ok(lines(afterAdd.save).includes('-a -t 198.51.100.101:443 -r 203.0.113.24:443 -i -w 3 --tun-type gue --tun-port 6081 --tun-nocsum'), afterAdd.save);
    assert.deepEqual(thresholdsOf(afterAdd.thresholds)['203.0.113.24:443'], [50, 5]);
    assert.deepEqual(lines(afterRemove), lines(after.save));
    assert.equal(missingError, 'IPVS: no real server 203.0.113.99:443 in TCP 198.51.100.101:443');
  });

  it('ipvs-audit: a clean table is OK, exit 0, also with --on-down remove', () => {
    const clean = audit('clean');
    assert.equal(clean.state, 'OK', clean.details.join('\n'));
    assert.equal(clean.cli?.code, 0, clean.cli?.stderr);
    const json = JSON.parse(clean.cli!.stdout) as { status: string; summary: string };
    assert.equal(json.status, 'OK');
    assert.equal(json.summary, 'no IPVS faults (5 services, 6 real servers, read through netlink)');
  });

  const expected: Array<[string, string, RegExp]> = [
    ['I1', 'CRITICAL', /^I1 CRITICAL: TCP 198\.51\.100\.100:80 -> 198\.51\.100\.12:10: DR cannot change the port.*; fix: ipvsadm -d -t 198\.51\.100\.100:80 -r 198\.51\.100\.12:10 && ipvsadm -a -t 198\.51\.100\.100:80 -r 198\.51\.100\.12:80 -g -w 1$/],
    ['I2', 'CRITICAL', /^I2 CRITICAL: TCP 198\.51\.100\.100:80 -> 192\.0\.2\.11:80: a DR real server must be on a directly connected network, and the route to it goes through a gateway/],
    ['I3', 'CRITICAL', /^I3 CRITICAL: TCP 198\.51\.100\.100:80 has no real servers/],
    ['I4', 'CRITICAL', /^I4 CRITICAL: TCP 198\.51\.100\.100:80: all 2 real servers have weight 0.*; fix: ipvsadm -e -t 198\.51\.100\.100:80 -r 198\.51\.100\.1[12]:80 -g -w 1$/],
    ['I5', 'WARNING', /^I5 WARNING: TCP 198\.51\.100\.100:80 is persistent \(300 s\) and 198\.51\.100\.12:80 has weight 0 .*; fix: sysctl -w net\.ipv4\.vs\.expire_quiescent_template=1$/],
    ['I6', 'WARNING', /^I6 WARNING: net\.ipv4\.vs\.expire_nodest_conn=0 while real servers are removed on failure.*; fix: sysctl -w net\.ipv4\.vs\.expire_nodest_conn=1$/],
    ['I8', 'CRITICAL', /^I8 CRITICAL: TCP 198\.51\.100\.200:80: the VIP 198\.51\.100\.200 is not a local address of this director/],
  ];
  for (const [id, state, detail] of expected) {
    it(`ipvs-audit ${id}: the one finding of a table built to show it, with its fix`, () => {
      const c = audit(id);
      assert.equal(c.state, state, `${c.summary}\n${c.ipvsadmList}`);
      assert.equal(c.details.length, 1, c.details.join('\n'));
      assert.match(c.details[0]!, detail);
    });
  }

  it('ipvs-audit I1: the kernel holds the DR real server on port 10 that ipvsadm itself would have stored on port 80', () => {
    const list = audit('I1').ipvsadmList;
    assert.match(list, /-> 198\.51\.100\.11:80\s+Route/, 'ipvsadm -r 198.51.100.11:10 -g stored the service port');
    assert.match(list, /-> 198\.51\.100\.12:10\s+Route/, 'NEW_DEST over netlink keeps port 10');
  });

  it('ipvs-audit on the command line: WARNING exits 1 with the finding in --json', () => {
    const i6 = audit('I6').cli;
    assert.equal(i6?.code, 1, i6?.stderr);
    const json = JSON.parse(i6!.stdout) as { status: string; data?: { findings: Array<{ id: string; fix: string }> } } & Record<string, unknown>;
    assert.equal(json.status, 'WARNING');
    assert.match(i6!.stdout, /"id": "I6"/);
    assert.match(i6!.stdout, /"fix": "sysctl -w net\.ipv4\.vs\.expire_nodest_conn=1"/);
  });

  it('reads 100 services x 10 real servers through netlink (figures against ipvsadm -Ln and /proc)', () => {
    const t = s.result.timing;
    assert.equal(t.destinationsRead, 1000);
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(
      `      figures (TCG guest, ${s.result.kernel}): read 100x10 through netlink ${t.netlinkMs.join(' / ')} ms (median ${median(t.netlinkMs)}), ` +
        `ipvsadm -L -n ${t.ipvsadmMs.join(' / ')} ms, cat /proc/net/ip_vs ${t.procCatMs.join(' / ')} ms, one updateDestination ${t.updateDestinationMs} ms`,
    );
    // A bound that catches a hang or a per-entry round trip, not a benchmark: under TCG a read is ~1-2.5 s.
    assert.ok(median(t.netlinkMs) < 10_000, `netlink read took ${median(t.netlinkMs)} ms`);
  });
});
