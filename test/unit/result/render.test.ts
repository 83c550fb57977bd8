import assert from 'node:assert/strict';
import {formatNumber, formatPerfDatum} from '../../../src/core/result/perfdata.js';
import {Range} from '../../../src/core/result/range.js';
import {exitCodeFor, firstLineText, renderJson, renderNagios, MAX_OUTPUT_BYTES} from '../../../src/core/result/render.js';
import {State, worst} from '../../../src/core/result/state.js';
import type {CheckResult} from '../../../src/core/result/check-result.js';

describe('perfdata', () => {
  it('formats like check_tcp: value, uom, empty thresholds, min and max', () => {
    assert.equal(formatPerfDatum({label: 'time', value: 0.00041, uom: 's', min: 0, max: 10}), 'time=0.00041s;;;0;10');
  });
  it('drops trailing empty fields and prints thresholds as given', () => {
    assert.equal(formatPerfDatum({label: 'size', value: 612, uom: 'B'}), 'size=612B');
    assert.equal(
      formatPerfDatum({label: 'time', value: 1.5, uom: 's', warn: Range.parse('1'), crit: Range.parse('@2:3')}),
      'time=1.5s;1;@2:3',
    );
  });
  it('prints an unknown value as U', () => {
    assert.equal(formatPerfDatum({label: 'time', value: undefined, uom: 's', min: 0, max: 2}), 'time=U;;;0;2');
  });
  it('never uses exponents', () => {
    assert.equal(formatNumber(1e-7), '0');
    assert.equal(formatNumber(0.0000123), '0.000012');
    assert.equal(formatNumber(123456789012), '123456789012');
    assert.equal(formatNumber(-0.5), '-0.5');
  });
  it('rejects labels Sensu would mangle', () => {
    assert.throws(() => formatPerfDatum({label: "time 'x'", value: 1}));
  });
});

describe('states and exit codes', () => {
  it('ranks CRITICAL over UNKNOWN over WARNING over OK', () => {
    assert.equal(worst(State.Ok, State.Warning), State.Warning);
    assert.equal(worst(State.Unknown, State.Critical), State.Critical);
    assert.equal(worst(State.Warning, State.Unknown), State.Unknown);
    assert.equal(worst(), State.Ok);
  });
  it('maps keepalived mode: OK and WARNING exit 0, the rest 1', () => {
    assert.deepEqual(
      [State.Ok, State.Warning, State.Critical, State.Unknown].map((s) => exitCodeFor(s, 'keepalived')),
      [0, 0, 1, 1],
    );
    assert.deepEqual(
      [State.Ok, State.Warning, State.Critical, State.Unknown].map((s) => exitCodeFor(s, 'nagios')),
      [0, 1, 2, 3],
    );
  });
});

describe('Nagios text output', () => {
  const result: CheckResult = {
    check: 'TCP',
    state: State.Critical,
    summary: 'banner said a|b\r\nand more',
    details: ['detail | with pipe'],
    perfdata: [{label: 'time', value: 0.5, uom: 's', min: 0, max: 10}],
    verbose: [
      {level: 1, text: 'v1 line'},
      {level: 3, text: 'trace line'},
    ],
  };

  it('has exactly one | and the state name on the first line', () => {
    const text = renderNagios(result, 0);
    assert.equal(text.split('|').length, 2);
    assert.equal(text.split('\n')[0], 'VIPCHECK TCP CRITICAL - banner said a/b and more | time=0.5s;;;0;10');
    assert.equal(text.split('\n')[1], 'detail / with pipe');
  });
  it('never prints a ; in the first line\'s text (Nagios rewrites it to :), while perfdata keeps its separators', () => {
    const withSemicolons: CheckResult = {
      ...result,
      summary: 'no answer (6 SYNs sent; is the VIP there?); server said \'a;b\'',
      perfdata: [{label: 'time', value: undefined, uom: 's', warn: Range.parse('0.1'), crit: Range.parse('0.5'), min: 0, max: 8}],
    };
    const [text, perf] = renderNagios(withSemicolons, 0).split('\n')[0]!.split(' | ');
    assert.equal(text, "VIPCHECK TCP CRITICAL - no answer (6 SYNs sent, is the VIP there?), server said 'a,b'");
    assert.equal(perf, 'time=U;0.1;0.5;0;8');
    assert.equal(firstLineText('a;b;;c'), 'a,b,,c');
  });
  it('shows verbose lines up to the requested level', () => {
    assert.ok(!renderNagios(result, 0).includes('v1 line'));
    assert.ok(renderNagios(result, 1).includes('v1 line'));
    assert.ok(!renderNagios(result, 2).includes('trace line'));
    assert.ok(renderNagios(result, 3).includes('trace line'));
  });
  it('stays under the Nagios output cap and keeps the perfdata', () => {
    const big: CheckResult = {...result, details: Array.from({length: 2000}, (_, i) => `detail line ${i} ${'x'.repeat(40)}`)};
    const text = renderNagios(big, 0);
    assert.ok(Buffer.byteLength(text) <= MAX_OUTPUT_BYTES + 1, `${Buffer.byteLength(text)} bytes`);
    assert.ok(text.split('\n')[0]!.endsWith('time=0.5s;;;0;10'));
    assert.ok(text.includes('(output truncated)'));
  });
});

describe('JSON output', () => {
  it('carries status, code, summary, perfdata objects and the path', () => {
    const json = renderJson(
      {check: 'TCP', state: State.Warning, summary: 's', details: [], perfdata: [{label: 'time', value: 1, uom: 's', warn: Range.parse('0.5')}], path: 'vip', data: {status: 'overridden?', mac: '02:00:00:00:00:11'}},
      'keepalived',
      0,
    );
    assert.equal(json['status'], 'WARNING');
    assert.equal(json['code'], 0);
    assert.equal(json['path'], 'vip');
    assert.equal(json['mac'], '02:00:00:00:00:11');
    assert.deepEqual(json['perfdata'], [{label: 'time', value: 1, uom: 's', warn: '0.5'}]);
  });
});

describe('the --json schema (docs/schema/result.schema.json)', () => {
  it('accepts what renderJson makes, and rejects what breaks the contract', async () => {
    const {assertResultSchema} = await import('../../support/result-schema.js');
    const result = {
      check: 'TCP',
      state: State.Critical,
      summary: 'no answer from 198.51.100.100:80 via 198.51.100.12 within 1 s',
      path: 'vip' as const,
      perfdata: [{label: 'time', value: undefined, uom: 's' as const, min: 0, max: 1}],
      details: [],
      data: {vip: '198.51.100.100', code: 'not allowed to overwrite'},
    };
    const nagios = renderJson(result, 'nagios', 0);
    assertResultSchema(nagios);
    assert.equal(nagios.code, 2, 'check-specific data cannot overwrite the fixed fields');
    assertResultSchema(renderJson(result, 'keepalived', 1));
    assert.throws(() => assertResultSchema({...nagios, code: 1}), /violates/);
    assert.throws(() => assertResultSchema({...nagios, summary: 'a | b'}), /violates/);
    assert.throws(() => assertResultSchema({...nagios, perfdata: [{label: "it's", value: 1, uom: ''}]}), /violates/);
    const {path: _path, ...withoutPath} = nagios;
    assert.throws(() => assertResultSchema(withoutPath), /violates/);
  });
});
