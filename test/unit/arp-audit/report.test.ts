/**
 * Output of arp-audit: the Nagios first line and long output (one line per finding with id, severity and fix,
 * exactly one `|`), the perfdata of the modes that ran, and the --json finding objects.
 */
import assert from 'node:assert/strict';
import {renderJson, renderNagios} from '../../../src/core/result/render.js';
import {State} from '../../../src/core/result/state.js';
import type {ActiveOutcome} from '../../../src/plugins/arp-audit/active.js';
import {finding} from '../../../src/plugins/arp-audit/finding.js';
import type {PassiveOutcome} from '../../../src/plugins/arp-audit/passive.js';
import {buildResult} from '../../../src/plugins/arp-audit/report.js';
import {DIRECTOR_MAC, RS1, RS1_MAC, RS2, VIP} from './support.js';

const a2 = finding('A2', `${RS1_MAC} (real server ${RS1}, 3/3 probes) answers who-has ${VIP}, not an expected MAC (${DIRECTOR_MAC})`, {
  mac: RS1_MAC,
  ip: RS1,
  fix: `on ${RS1}: sysctl -w net.ipv4.conf.all.arp_ignore=1`,
});
const a1 = finding('A1', `2 MACs answer who-has ${VIP}: ...`, {ip: VIP, fix: 'on every responder that is not the director: sysctl -w net.ipv4.conf.all.arp_ignore=1'});
const a9 = finding('A9', 'effective arp_announce is 0 on eth0 (all=0, eth0=0): ...', {interfaceName: 'eth0', fix: 'sysctl -w net.ipv4.conf.all.arp_announce=2'});

function active(findings = [a2, a1]): ActiveOutcome & {intervalMs: number} {
  return {
    findings,
    probes: 3,
    intervalMs: 500,
    responders: [
      {mac: RS1_MAC, realServer: RS1, rounds: [1, 2, 3], responses: 3, firstMs: 0.4721, expected: false},
      {mac: DIRECTOR_MAC, realServer: undefined, rounds: [1, 2, 3], responses: 3, firstMs: 0.9, expected: true},
    ],
    firstForeign: {ms: 0.4721, round: 1},
  };
}

function passive(): PassiveOutcome & {listenMs: number; foreignProbes: number} {
  return {findings: [], claims: 2, senders: [{mac: DIRECTOR_MAC, realServer: undefined, counts: {request: 0, reply: 2, gratuitous: 0}, firstMs: 12, expected: true}], foreignSenders: 0, changes: 0, listenMs: 2000, foreignProbes: 0};
}

describe('arp-audit output', () => {
  it('puts the worst findings first, one long-output line each, with exactly one |', () => {
    const result = buildResult({
      protocol: 'ARP',
      vip: VIP,
      interfaceName: 'eth0',
      active: active(),
      local: {decision: {role: 'realserver', reason: 'auto'}, findings: [a9]},
      realServers: [{ip: RS1, macs: [RS1_MAC]}, {ip: RS2, macs: []}],
    });
    assert.equal(result.state, State.Critical);
    const lines = renderNagios(result, 0).trimEnd().split('\n');
    assert.equal(lines[0], `VIPCHECK ARP-AUDIT CRITICAL - ${VIP}: 3 findings (A1 A2 A9): 2 MACs answer who-has ${VIP}: ... | responders=2;;;0 findings=3;;;0`);
    assert.deepEqual(lines.slice(1), [
      `A1 CRITICAL: 2 MACs answer who-has ${VIP}: ...; fix: on every responder that is not the director: sysctl -w net.ipv4.conf.all.arp_ignore=1`,
      `A2 CRITICAL: ${a2.message}; fix: on ${RS1}: sysctl -w net.ipv4.conf.all.arp_ignore=1`,
      'A9 WARNING: effective arp_announce is 0 on eth0 (all=0, eth0=0): ...; fix: sysctl -w net.ipv4.conf.all.arp_announce=2',
      `note: real server ${RS2} did not answer ARP probes; offenders using its MAC cannot be named`,
    ]);
    assert.equal(renderNagios(result, 3).split('|').length, 2);
  });

  it('summarises a clean audit per mode, with the perfdata of the modes that ran', () => {
    const result = buildResult({
      protocol: 'ARP',
      vip: VIP,
      interfaceName: 'eth0',
      active: {...active([]), responders: [active().responders[1]!]},
      passive: passive(),
      local: {decision: {role: 'realserver', reason: 'auto'}, findings: []},
      realServers: [],
    });
    assert.equal(result.state, State.Ok);
    assert.equal(
      renderNagios(result, 0),
      `VIPCHECK ARP-AUDIT OK - ${VIP}: no ARP faults (${DIRECTOR_MAC} answered 3 probes on eth0, 2 ARP packet(s) from ${VIP} in 2 s (all from ${DIRECTOR_MAC}), local real server settings correct) | responders=1;;;0 foreign_senders=0;;;0 findings=0;;;0\n`,
    );
    const local = buildResult({vip: VIP, protocol: 'ARP', local: {decision: {role: 'director', reason: 'auto'}, findings: []}, realServers: []});
    assert.equal(renderNagios(local, 0), `VIPCHECK ARP-AUDIT OK - ${VIP}: no ARP faults (local director settings correct) | findings=0;;;0\n`);
  });

  it('is WARNING when only warning findings exist', () => {
    const result = buildResult({vip: VIP, protocol: 'ARP', local: {decision: {role: 'realserver', reason: 'auto'}, findings: [a9]}, realServers: []});
    assert.equal(result.state, State.Warning);
  });

  it('gives --json the findings as {id, severity, message, mac, ip, fix} objects and the per-mode facts', () => {
    const result = buildResult({vip: VIP, protocol: 'ARP', interfaceName: 'eth0', active: active(), realServers: [{ip: RS1, macs: [RS1_MAC]}]});
    const json = JSON.parse(JSON.stringify(renderJson(result, 'nagios', 0))) as Record<string, any>;
    assert.equal(json['status'], 'CRITICAL');
    assert.equal(json['code'], 2);
    assert.deepEqual(json['modes'], ['active']);
    assert.deepEqual(json['findings'][1], {
      id: 'A2',
      severity: 'CRITICAL',
      message: a2.message,
      mac: '02:00:00:00:00:11',
      ip: '198.51.100.11',
      interface: null,
      fix: 'on 198.51.100.11: sysctl -w net.ipv4.conf.all.arp_ignore=1',
    });
    assert.deepEqual(json['active']['responders'][0], {mac: '02:00:00:00:00:11', realServer: '198.51.100.11', rounds: [1, 2, 3], responses: 3, firstMs: 0.472, expected: false});
    assert.deepEqual(json['active']['firstForeign'], {ms: 0.472, round: 1});
    assert.deepEqual(json['realServers'], [{ip: '198.51.100.11', macs: ['02:00:00:00:00:11']}]);
    // keepalived exit codes: CRITICAL is "down" = 1.
    assert.equal(renderJson(result, 'keepalived', 0)['code'], 1);
  });

  it('keeps a hostile | out of the text', () => {
    const weird = finding('A7', 'frames | with a pipe', {fix: 'a | b'});
    const text = renderNagios(buildResult({vip: VIP, protocol: 'ARP', passive: {...passive(), findings: [weird]}, realServers: []}), 0);
    assert.equal(text.split('|').length, 2);
  });
});
