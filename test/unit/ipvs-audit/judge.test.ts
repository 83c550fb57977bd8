// ipvs-audit's catalogue on tables built in memory: each finding from a table built to show it, with its entry
// and fix, and a clean table OK.
import assert from 'node:assert/strict';
import {newDestination, type IpvsDestination, type IpvsService, type IpvsServiceEntry, type IpvsTable} from '../../../src/core/ipvs/model.js';
import {State} from '../../../src/core/result/state.js';
import {IpAddress} from '../../../src/core/wire/address.js';
import {ipvsAuditResult} from '../../../src/plugins/ipvs-audit/audit.js';
import {auditIpvsTable, kernelAtLeast, type IpvsAuditFacts} from '../../../src/plugins/ipvs-audit/judge.js';

const ip = (text: string): IpAddress => IpAddress.parse(text)!;

function service(vip: string, port: number, more: Partial<IpvsService> = {}): IpvsService {
  return {key: {kind: 'address', protocol: 'tcp', address: ip(vip), port}, scheduler: 'wrr', flags: 2, timeout: 0, persistenceEngine: '', ...more};
}

function dest(rip: string, port: number, more: Partial<IpvsDestination> = {}): IpvsDestination {
  return {...newDestination(ip(rip), port), activeConnections: 0, inactiveConnections: 0, persistentConnections: 0, ...more};
}

const table = (...services: IpvsServiceEntry[]): IpvsTable => ({services, source: 'netlink'});

/** A director holding 198.51.100.100 and 2001:db8::100, on-link to 198.51.100.0/24 and 2001:db8::/64, Linux 6.1. */
function facts(more: Partial<IpvsAuditFacts> = {}): IpvsAuditFacts {
  return {
    sysctl: {expireQuiescentTemplate: 1, expireNodestConn: 1},
    kernelRelease: '6.1.0-57-amd64',
    isLocalAddress: (a) => a.equals(ip('198.51.100.100')) || a.equals(ip('2001:db8::100')),
    onLink: (a) => (a.family === 4 ? (a.inPrefix(ip('198.51.100.0'), 24) ? true : a.inPrefix(ip('203.0.113.0'), 24) ? false : undefined) : a.inPrefix(ip('2001:db8::'), 64)),
    ...more,
  };
}

const CLEAN = table(
  {service: service('198.51.100.100', 80), destinations: [dest('198.51.100.11', 80, {weight: 5}), dest('198.51.100.12', 80, {weight: 0})]},
  {service: service('198.51.100.100', 443, {flags: 3, timeout: 300}), destinations: [dest('203.0.113.21', 443, {forwarding: 'tun', tunnelType: 'gue', tunnelPort: 6080})]},
  {service: service('198.51.100.101', 53), destinations: [dest('203.0.113.31', 5353, {forwarding: 'nat'})]},
  {service: {...service('198.51.100.100', 0), key: {kind: 'fwmark', family: 4, fwmark: 7}}, destinations: [dest('198.51.100.13', 0)]},
  {service: service('2001:db8::100', 80), destinations: [dest('2001:db8::11', 80)]},
);

const audit = (t: IpvsTable, f: IpvsAuditFacts = facts(), onDown: 'drain' | 'remove' = 'drain') => auditIpvsTable(t, f, {onDown});
const ids = (t: IpvsTable, f?: IpvsAuditFacts, onDown?: 'drain' | 'remove') => audit(t, f, onDown).map((x) => x.id);

describe('ipvs-audit judge', function () {
  it('finds nothing in a clean table (DR, TUN GUE, NAT with a port change, fwmark, IPv6): OK', function () {
    assert.deepEqual(audit(CLEAN), []);
    const result = ipvsAuditResult(CLEAN, facts(), {onDown: 'drain'});
    assert.equal(result.state, State.Ok);
    assert.equal(result.summary, 'no IPVS faults (5 services, 6 real servers, read through netlink)');
    assert.deepEqual(result.perfdata.map((p) => [p.label, p.value]), [['services', 5], ['real_servers', 6], ['findings', 0]]);
  });

  it('I1: a DR or TUN real server on another port than the service', function () {
    const found = audit(table({service: service('198.51.100.100', 80), destinations: [dest('198.51.100.11', 10, {weight: 3})]}));
    assert.deepEqual(found, [
      {
        id: 'I1',
        severity: State.Critical,
        message: 'TCP 198.51.100.100:80 -> 198.51.100.11:10: DR cannot change the port, packets reach the real server on port 80, not 10',
        entry: 'TCP 198.51.100.100:80 -> 198.51.100.11:10',
        fix: 'ipvsadm -d -t 198.51.100.100:80 -r 198.51.100.11:10 && ipvsadm -a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 3',
      },
    ]);
    const tun = audit(table({service: service('198.51.100.100', 443), destinations: [dest('203.0.113.21', 8443, {forwarding: 'tun', tunnelType: 'gue', tunnelPort: 6080})]}));
    assert.equal(tun[0]!.fix, 'ipvsadm -d -t 198.51.100.100:443 -r 203.0.113.21:8443 && ipvsadm -a -t 198.51.100.100:443 -r 203.0.113.21:443 -i -w 1 --tun-type gue --tun-port 6080');
    assert.deepEqual(ids(table({service: service('198.51.100.100', 80), destinations: [dest('198.51.100.11', 8080, {forwarding: 'nat'})]})), [], 'NAT may change the port');
  });

  it('I2: a DR real server behind a gateway, or without a route', function () {
    const found = audit(table({service: service('198.51.100.100', 80), destinations: [dest('203.0.113.11', 80), dest('192.0.2.1', 80)]}));
    assert.deepEqual(found.map((f) => f.message), [
      'TCP 198.51.100.100:80 -> 203.0.113.11:80: a DR real server must be on a directly connected network, and the route to it goes through a gateway',
      'TCP 198.51.100.100:80 -> 192.0.2.1:80: a DR real server must be on a directly connected network, and there is no route to it',
    ]);
    assert.match(found[0]!.fix, /ipvsadm -e -t 198.51.100.100:80 -r 203.0.113.11:80 -i -w 1 --tun-type ipip/);
  });

  it('I3 and I4: a service without real servers, and one whose weights are all 0', function () {
    const found = audit(table({service: service('198.51.100.100', 80), destinations: []}, {service: service('198.51.100.100', 81), destinations: [dest('198.51.100.11', 81, {weight: 0})]}));
    assert.deepEqual(found.map((f) => [f.id, f.entry, f.fix]), [
      ['I3', 'TCP 198.51.100.100:80', 'ipvsadm -a -t 198.51.100.100:80 -r RIP -g -w 1   (or remove it: ipvsadm -D -t 198.51.100.100:80)'],
      ['I4', 'TCP 198.51.100.100:81', 'ipvsadm -e -t 198.51.100.100:81 -r 198.51.100.11:81 -g -w 1'],
    ]);
  });

  it('I5: a persistent service with a drained real server while expire_quiescent_template=0 (a warning)', function () {
    const persistent = table({service: service('198.51.100.100', 80, {flags: 3, timeout: 300}), destinations: [dest('198.51.100.11', 80), dest('198.51.100.12', 80, {weight: 0})]});
    const off = facts({sysctl: {expireQuiescentTemplate: 0, expireNodestConn: 1}});
    assert.deepEqual(audit(persistent, off).map((f) => [f.id, f.severity, f.entry, f.fix]), [['I5', State.Warning, 'TCP 198.51.100.100:80 -> 198.51.100.12:80', 'sysctl -w net.ipv4.vs.expire_quiescent_template=1']]);
    assert.deepEqual(ids(persistent), [], 'with expire_quiescent_template=1');
    assert.deepEqual(ids(CLEAN, off), [], 'the clean table drains a server of a non-persistent service only');
  });

  it('I6: expire_nodest_conn=0 matters only when failed real servers are removed', function () {
    const off = facts({sysctl: {expireQuiescentTemplate: 1, expireNodestConn: 0}});
    assert.deepEqual(ids(CLEAN, off, 'drain'), []);
    const found = audit(CLEAN, off, 'remove');
    assert.deepEqual(found.map((f) => [f.id, f.severity, f.fix]), [['I6', State.Warning, 'sysctl -w net.ipv4.vs.expire_nodest_conn=1']]);
    const result = ipvsAuditResult(CLEAN, off, {onDown: 'remove'});
    assert.equal(result.state, State.Warning);
    assert.match(result.details[0]!, /^I6 WARNING: net.ipv4.vs.expire_nodest_conn=0 while real servers are removed on failure.*; fix: sysctl -w net.ipv4.vs.expire_nodest_conn=1$/);
  });

  it('I7: GUE before Linux 5.2, GRE before 5.3', function () {
    const tunnels = table({
      service: service('198.51.100.100', 443),
      destinations: [dest('203.0.113.21', 443, {forwarding: 'tun', tunnelType: 'gue', tunnelPort: 6080}), dest('203.0.113.22', 443, {forwarding: 'tun', tunnelType: 'gre'}), dest('203.0.113.23', 443, {forwarding: 'tun'})],
    });
    assert.deepEqual(audit(tunnels, facts({kernelRelease: '5.2.9'})).map((f) => f.message), ['TCP 198.51.100.100:443 -> 203.0.113.22:443: tunnel type GRE needs Linux 5.3 or later (this is 5.2.9)']);
    const old = audit(tunnels, facts({kernelRelease: '4.19.0-21-amd64'}));
    assert.deepEqual(old.map((f) => f.fix), [
      'ipvsadm -e -t 198.51.100.100:443 -r 203.0.113.21:443 -i -w 1 --tun-type ipip',
      'ipvsadm -e -t 198.51.100.100:443 -r 203.0.113.22:443 -i -w 1 --tun-type ipip',
    ]);
    assert.equal(kernelAtLeast('5.10.0', 5, 3), true);
    assert.equal(kernelAtLeast('4.9', 5, 2), false);
  });

  it('I8: the VIP of a DR service is not local; a NAT or fwmark service is not judged for it', function () {
    const found = audit(table({service: service('198.51.100.200', 80), destinations: [dest('198.51.100.11', 80)]}, {service: service('198.51.100.201', 53), destinations: [dest('203.0.113.31', 53, {forwarding: 'nat'})]}));
    assert.deepEqual(found.map((f) => [f.id, f.fix]), [['I8', 'ip address add 198.51.100.200/32 dev <the interface on the clients\' segment>']]);
  });

  it('sorts critical findings first and sums them up in the first line', function () {
    const off = facts({sysctl: {expireQuiescentTemplate: 0, expireNodestConn: 0}});
    const broken = table(
      {service: service('198.51.100.100', 80, {flags: 3, timeout: 60}), destinations: [dest('198.51.100.11', 80, {weight: 0}), dest('198.51.100.12', 81, {weight: 0})]},
    );
    const result = ipvsAuditResult(broken, off, {onDown: 'remove'});
    assert.deepEqual(audit(broken, off, 'remove').map((f) => f.id), ['I1', 'I4', 'I5', 'I6']);
    assert.equal(result.state, State.Critical);
    assert.match(result.summary, /^4 findings \(I1 I4 I5 I6\) in 1 service, 2 real servers: TCP 198.51.100.100:80 -> 198.51.100.12:81: DR cannot change the port/);
    assert.deepEqual((result.data!['findings'] as Array<{id: string}>).map((f) => f.id), ['I1', 'I4', 'I5', 'I6']);
  });
});
