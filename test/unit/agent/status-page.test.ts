/**
 * What the agent tells people and programs (src/agent/status.ts): the /status document (grouped by service,
 * ISO times, Nagios state names, microsecond durations, `fileCheck` only when there is one, `lastProbe` null
 * before the first probe, always valid against docs/schema/agent-status.schema.json); the HTML page (every
 * text from the configuration or a probe escaped, a hostile summary included; the title's down count; one
 * section per service in configuration order with its up count; IPv6 VIPs in brackets; "for N s/min/h");
 * the sparkline (one point per recent probe scaled to the slowest, failed probes as red dots, an empty SVG
 * before any probe).
 */
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';
import {escapeHtml, sparkline, statusDocument, statusPage, type AgentStatus, type LastProbe, type TargetStatus} from '../../../src/agent/status.js';
import {State} from '../../../src/core/result/state.js';

const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js').default;
const schemaPath = fileURLToPath(new URL('../../../docs/schema/agent-status.schema.json', import.meta.url));
const validate = new Ajv2020({allErrors: true, strict: true}).compile(JSON.parse(readFileSync(schemaPath, 'utf8')));

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);

function probe(state: State, seconds: number, summary = 'answered', at = NOW - 1000): LastProbe {
  return {at, state, seconds, summary};
}

function target(overrides: Partial<TargetStatus> & Pick<TargetStatus, 'rs'>): TargetStatus {
  const recent = overrides.recent ?? [];
  const last = recent.at(-1) as LastProbe | undefined;
  return {
    id: `${overrides.service ?? 'web'}/${overrides.rs}`,
    service: 'web',
    vip: '198.51.100.100',
    port: 80,
    check: 'tcp',
    health: 'up',
    since: NOW - 30_000,
    successesInARow: 3,
    failuresInARow: 0,
    recent,
    ...(last ? {last} : {}),
    ...overrides,
  };
}

function agentStatus(targets: readonly TargetStatus[], overrides: Partial<AgentStatus> = {}): AgentStatus {
  return {version: '0.1.0', startedAt: NOW - 60_000, configuredAt: NOW - 45_000, config: '/etc/vipcheck/agent.yaml', targets, ...overrides};
}

/** The `<tr>` of a real server in the page. */
function rowOf(page: string, rs: string): string {
  const start = page.indexOf(`data-rs="${rs}"`);
  assert.ok(start >= 0, `a row for ${rs}`);
  const open = page.lastIndexOf('<tr', start);
  return page.slice(open, page.indexOf('</tr>', start) + 5);
}

function assertValid(document: unknown): void {
  const ok = validate(document);
  assert.ok(ok, `${(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}\n${JSON.stringify(document, null, 2)}`);
}

describe('agent/status: escapeHtml', () => {
  it('escapes the five characters that matter in text and in quoted attributes, & first', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    assert.equal(escapeHtml('&lt;'), '&amp;lt;', 'an entity is text, not markup');
    assert.equal(escapeHtml('198.51.100.11 (02:00:00:00:00:11) in 0.41 ms'), '198.51.100.11 (02:00:00:00:00:11) in 0.41 ms');
    assert.equal(escapeHtml(''), '');
  });
});

describe('agent/status: statusDocument', () => {
  it('shows an IPVS destination (weight, operator weight, drained or removed) and the service panic, valid against the schema', () => {
    const managed = {service: 'TCP 198.51.100.100:80', port: 80, forwarding: 'dr', path: 'vip' as const, panic: false};
    const doc = statusDocument(
      agentStatus([
        target({service: 'web', rs: '198.51.100.11', ipvs: {...managed, weight: 5, configuredWeight: 5, managed: 'serving'}}),
        target({service: 'web', rs: '198.51.100.12', health: 'down', ipvs: {...managed, weight: 0, configuredWeight: 3, managed: 'drained'}}),
        target({service: 'web', rs: '198.51.100.13', health: 'down', ipvs: {...managed, weight: null, configuredWeight: 2, managed: 'removed'}}),
        target({service: 'lvs:203.0.113.100:80', vip: '203.0.113.100', rs: '203.0.113.11', ipvs: {service: 'TCP 203.0.113.100:80', port: 8081, forwarding: 'nat', path: 'rip', weight: 1}}),
      ]),
    );
    assertValid(doc);
    const services = doc['services'] as Array<{name: string; panic?: boolean; realServers: Array<{ipvs?: Record<string, unknown>}>}>;
    assert.equal(services[0]!.panic, false);
    assert.equal('panic' in services[1]!, false, 'a service whose weights are not managed has no panic');
    assert.deepEqual(services[0]!.realServers[1]!.ipvs, {service: 'TCP 198.51.100.100:80', port: 80, forwarding: 'dr', path: 'vip', weight: 0, configuredWeight: 3, managed: 'drained'});
    assert.deepEqual(services[1]!.realServers[0]!.ipvs, {service: 'TCP 203.0.113.100:80', port: 8081, forwarding: 'nat', path: 'rip', weight: 1});
    const page = statusPage(
      agentStatus([
        target({rs: '198.51.100.12', health: 'down', ipvs: {...managed, panic: true, weight: 0, configuredWeight: 3, managed: 'drained'}}),
        target({rs: '198.51.100.13', health: 'down', ipvs: {...managed, panic: true, weight: null, configuredWeight: 2, managed: 'removed'}}),
        target({rs: '198.51.100.11', ipvs: {...managed, panic: true, weight: 5, configuredWeight: 5, managed: 'serving'}}),
      ]),
      NOW,
    );
    assert.match(rowOf(page, '198.51.100.12'), /<small class="weight">weight 0, drained \(3 to restore\)<\/small>/);
    assert.match(rowOf(page, '198.51.100.13'), /<small class="weight">not in the table, removed \(2 to restore\)<\/small>/);
    assert.match(rowOf(page, '198.51.100.11'), /<small class="weight">weight 5<\/small>/);
    assert.match(page, /1 of 3 up, <strong class="panic">PANIC: nothing is drained<\/strong>/);
  });

  it('groups real servers by service in configuration order, with ISO times, state names and microseconds', () => {
    const recent = [probe(State.Critical, 0.4, 'no answer', NOW - 2000), probe(State.Ok, 0.000_412_345_6, 'answered', NOW - 500)];
    const doc = statusDocument(
      agentStatus([
        target({rs: '198.51.100.11', recent, fileCheck: '/run/vipcheck/web-198.51.100.11.state'}),
        target({service: 'api', vip: '2001:db8:100::100', port: 8443, check: 'http-status', rs: '2001:db8:100::11', health: 'down', successesInARow: 0, failuresInARow: 2}),
        target({rs: '198.51.100.12', health: 'down', since: NOW - 5000, recent: [probe(State.Unknown, 0.01, 'no privileges')]}),
      ]),
    );
    assertValid(doc);
    assert.deepEqual(doc, {
      version: '0.1.0',
      startedAt: '2024-05-01T11:59:00.000Z',
      configuredAt: '2024-05-01T11:59:15.000Z',
      config: '/etc/vipcheck/agent.yaml',
      services: [
        {
          name: 'web',
          vip: '198.51.100.100',
          port: 80,
          check: 'tcp',
          realServers: [
            {
              rs: '198.51.100.11',
              state: 'up',
              since: '2024-05-01T11:59:30.000Z',
              successesInARow: 3,
              failuresInARow: 0,
              fileCheck: '/run/vipcheck/web-198.51.100.11.state',
              lastProbe: {status: 'OK', summary: 'answered', durationSeconds: 0.000412, at: '2024-05-01T11:59:59.500Z'},
            },
            {
              rs: '198.51.100.12',
              state: 'down',
              since: '2024-05-01T11:59:55.000Z',
              successesInARow: 3,
              failuresInARow: 0,
              lastProbe: {status: 'UNKNOWN', summary: 'no privileges', durationSeconds: 0.01, at: '2024-05-01T11:59:59.000Z'},
            },
          ],
        },
        {
          name: 'api',
          vip: '2001:db8:100::100',
          port: 8443,
          check: 'http-status',
          realServers: [{rs: '2001:db8:100::11', state: 'down', since: '2024-05-01T11:59:30.000Z', successesInARow: 0, failuresInARow: 2, lastProbe: null}],
        },
      ],
    });
  });

  it('is an empty service list (still valid) when nothing is configured, and WARNING is a state name too', () => {
    assertValid(statusDocument(agentStatus([])));
    const doc = statusDocument(agentStatus([target({rs: '198.51.100.11', recent: [probe(State.Warning, 0.2, 'slow')]})])) as {services: Array<{realServers: Array<{lastProbe: {status: string}}>}>};
    assertValid(doc);
    assert.equal(doc.services[0]!.realServers[0]!.lastProbe.status, 'WARNING');
  });

  it('keeps a hostile summary as data: JSON, not markup, and still valid', () => {
    const summary = '</script><script>alert("x")</script> | time=1s;;;';
    const doc = statusDocument(agentStatus([target({rs: '198.51.100.11', recent: [probe(State.Critical, 0.1, summary)]})]));
    assertValid(doc);
    assert.equal((JSON.parse(JSON.stringify(doc)) as {services: Array<{realServers: Array<{lastProbe: {summary: string}}>}>}).services[0]!.realServers[0]!.lastProbe.summary, summary);
  });
});

describe('agent/status: statusPage', () => {
  it('escapes every text from a probe or the configuration: a <script> summary is shown, never run', () => {
    const hostile = `<script>alert("owned")</script><img src=x onerror='alert(1)'>`;
    const page = statusPage(
      agentStatus([target({service: 'we<b>', rs: '198.51.100.11', check: 'tcp"x', recent: [probe(State.Critical, 0.1, hostile)]})], {config: '/etc/<i>agent</i>.yaml'}),
      NOW,
    );
    assert.doesNotMatch(page, /<script/i, 'the page has no script at all');
    assert.doesNotMatch(page, /<img/i);
    assert.ok(page.includes('CRITICAL: &lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt;'), 'the summary as text');
    assert.ok(page.includes('<section data-service="we&lt;b&gt;"><h2>we&lt;b&gt; <small>'), 'the service name escaped in the attribute and the heading');
    assert.ok(page.includes('198.51.100.100:80 tcp&quot;x, 1 of 1 up'));
    assert.ok(page.includes('Config /etc/&lt;i&gt;agent&lt;/i&gt;.yaml, loaded'));
    assert.doesNotMatch(page, /<b>|<i>/);
  });

  it('says in the title how many are down, or that all are up', () => {
    const up = target({rs: '198.51.100.11'});
    const down = (rs: string) => target({rs, health: 'down'});
    assert.match(statusPage(agentStatus([up]), NOW), /<title>vipcheck agent: all up<\/title>/);
    const page = statusPage(agentStatus([up, down('198.51.100.12'), target({service: 'api', rs: '198.51.100.13', health: 'down'})]), NOW);
    assert.match(page, /<title>vipcheck agent: 2 down<\/title>/);
    assert.match(page, /3 targets, <span id="down-count">2<\/span> down\./);
    assert.match(statusPage(agentStatus([]), NOW), /<title>vipcheck agent: all up<\/title>[\s\S]*0 targets, <span id="down-count">0<\/span> down/);
  });

  it('has one section per service in configuration order, with its up count, rows in order, IPv6 VIPs in brackets', () => {
    const page = statusPage(
      agentStatus([
        target({rs: '198.51.100.11'}),
        target({service: 'v6', vip: '2001:db8:100::100', port: 443, check: 'http-status', rs: '2001:db8:100::11', health: 'down'}),
        target({rs: '198.51.100.12', health: 'down'}),
      ]),
      NOW,
    );
    assert.deepEqual([...page.matchAll(/<section data-service="([^"]+)">/g)].map((m) => m[1]), ['web', 'v6']);
    assert.match(page, /<h2>web <small>198\.51\.100\.100:80 tcp, 1 of 2 up<\/small><\/h2>/);
    assert.match(page, /<h2>v6 <small>\[2001:db8:100::100\]:443 http-status, 0 of 1 up<\/small><\/h2>/);
    const web = page.slice(page.indexOf('data-service="web"'), page.indexOf('data-service="v6"'));
    assert.ok(web.indexOf('198.51.100.11') < web.indexOf('198.51.100.12'));
    assert.match(rowOf(page, '198.51.100.12'), /^<tr class="down" data-rs="198\.51\.100\.12" data-state="down"><td class="rs">198\.51\.100\.12<\/td><td class="state"><span class="badge down">DOWN<\/span><\/td>/);
    assert.match(rowOf(page, '198.51.100.11'), /<span class="badge up">UP<\/span>/);
    // The page refreshes itself (no script) and links to the machine-readable views.
    assert.match(page, /<meta http-equiv="refresh" content="5">/);
    assert.match(page, /<a href="\/metrics">metrics<\/a> <a href="\/status">status JSON<\/a>/);
  });

  it('shows the last probe with its state and latency, or "not probed yet" and an empty sparkline', () => {
    const page = statusPage(
      agentStatus([
        target({rs: '198.51.100.11', recent: [probe(State.Ok, 0.000_41, 'answered in 0.41 ms')]}),
        target({rs: '198.51.100.12', health: 'down'}),
      ]),
      NOW,
    );
    const probed = rowOf(page, '198.51.100.11');
    assert.match(probed, /<td class="last" title="answered in 0\.41 ms">OK: answered in 0\.41 ms<\/td><td class="latency">0\.41 ms<\/td>/);
    const fresh = rowOf(page, '198.51.100.12');
    assert.match(fresh, /<td class="last">not probed yet<\/td><td class="latency"><\/td>/);
    assert.match(fresh, /<svg class="spark" width="120" height="24" role="img" aria-label="no probes yet"><\/svg>/);
  });

  it('says how long a state has held in s below 2 min, in min below 2 h, then in h; never negative', () => {
    const sinceText = (agoMs: number) => /<td class="since">for ([^<]+)<\/td>/.exec(statusPage(agentStatus([target({rs: '198.51.100.11', since: NOW - agoMs})]), NOW))![1];
    assert.equal(sinceText(0), '0 s');
    assert.equal(sinceText(1_400), '1 s');
    assert.equal(sinceText(119_000), '119 s');
    assert.equal(sinceText(120_000), '2 min');
    assert.equal(sinceText(45 * 60_000), '45 min');
    assert.equal(sinceText(7_199_000), '120 min');
    assert.equal(sinceText(7_200_000), '2 h');
    assert.equal(sinceText(3 * 86_400_000), '72 h');
    assert.equal(sinceText(-5_000), '0 s', 'a clock that stepped back');
    assert.match(statusPage(agentStatus([], {configuredAt: NOW - 600_000}), NOW), /loaded 10 min ago/);
  });
});

describe('agent/status: sparkline', () => {
  /** The polyline's points and the red dots' centres of a sparkline. */
  function parse(svg: string): {points: Array<[number, number]>; dots: Array<[number, number]>; label: string} {
    const points = (/<polyline [^>]*points="([^"]*)"/.exec(svg)?.[1] ?? '').split(' ').filter((p) => p !== '').map((p) => p.split(',').map(Number) as [number, number]);
    const dots = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="2" fill="#c0392b"\/>/g)].map((m) => [Number(m[1]), Number(m[2])] as [number, number]);
    return {points, dots, label: /aria-label="([^"]*)"/.exec(svg)![1]!};
  }

  it('draws one point per probe across the width, the slowest at the top, the fastest lowest', () => {
    const {points, dots, label} = parse(sparkline([probe(State.Ok, 0.001), probe(State.Ok, 0.004), probe(State.Warning, 0.002), probe(State.Ok, 0)]));
    assert.deepEqual(points, [[0, 17], [40, 2], [80, 12], [120, 22]]);
    assert.deepEqual(dots, [], 'OK and WARNING are successes: no red dot');
    assert.equal(label, 'latency of the last 4 probes, up to 4.00 ms');
  });

  it('draws failed probes (CRITICAL and UNKNOWN) as red dots on the line', () => {
    const svg = sparkline([probe(State.Ok, 0.001), probe(State.Critical, 0.4), probe(State.Unknown, 0.2), probe(State.Ok, 0.001)]);
    const {points, dots} = parse(svg);
    assert.equal(points.length, 4);
    assert.deepEqual(dots, [points[1], points[2]]);
    assert.match(svg, /<polyline fill="none" stroke="#34495e"/, 'the line itself is not red');
  });

  it('is an empty, labelled SVG before the first probe, and a single point for one probe', () => {
    assert.equal(sparkline([]), '<svg class="spark" width="120" height="24" role="img" aria-label="no probes yet"></svg>');
    const one = parse(sparkline([probe(State.Critical, 0.4)]));
    assert.deepEqual(one.points, [[0, 2]]);
    assert.deepEqual(one.dots, [[0, 2]]);
  });

  it('stays finite when every probe took no measurable time, and honours another size', () => {
    const svg = sparkline([probe(State.Ok, 0), probe(State.Ok, 0)], 60, 10);
    assert.doesNotMatch(svg, /NaN|Infinity/);
    assert.match(svg, /^<svg class="spark" width="60" height="10" /);
    assert.deepEqual(parse(svg).points, [[0, 8], [60, 8]]);
  });
});
