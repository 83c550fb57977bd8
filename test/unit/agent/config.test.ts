/**
 * The agent's configuration: YAML (and JSON) into targets, with the check options under the CLI's own long flag
 * names, and every problem as one line naming its key path; the published schema is the one the plugins' flag
 * declarations generate.
 */
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {agentChecks} from '../../../src/agent/checks.js';
import {buildAgentSchema} from '../../../src/agent/config-schema.js';
import {parseConfig} from '../../../src/agent/config.js';
import type {CheckPlugin} from '../../../src/plugin-api/plugin.js';
import {configProblems} from '../../support/config-problems.js';

let plugins: Map<string, CheckPlugin>;
before(async () => {
  plugins = await agentChecks();
});

const problems = (text: string) => configProblems(text, plugins);

const service = (extra = '', check = 'tcp') => `
services:
  - name: web
    vip: 198.51.100.100
    port: 80
    check: ${check}
    real-servers: [198.51.100.11, {address: 198.51.100.12, mac: '02:00:00:00:00:12'}]${extra}
`;

describe('agent configuration', () => {
  it('makes one target per real server, with defaults, the service values and the file-check template', () => {
    const config = parseConfig(
      `listen: '[::1]:9471'
defaults: {interval: 2, timeout: '0.5', rise: 3, interface: eth0}
${service('\n    file-check: /run/vipcheck/{service}-{rs}.state\n    fall: 4\n    clean-close: true')}`,
      plugins,
    );
    assert.deepEqual(config.listen, {host: '::1', port: 9471});
    assert.equal(config.maxConcurrent, 256);
    assert.deepEqual(
      config.targets.map((t) => [t.id, t.intervalMs, t.timeoutMs, t.health.rise, t.health.fall, t.health.initial, t.fileCheck]),
      [
        ['web/198.51.100.11', 2000, 500, 3, 4, 'down', '/run/vipcheck/web-198.51.100.11.state'],
        ['web/198.51.100.12', 2000, 500, 3, 4, 'down', '/run/vipcheck/web-198.51.100.12.state'],
      ],
    );
    const options = config.targets[1]!.options as {target: {interfaceName?: string; mac?: {toString(): string}}; cleanClose: boolean};
    assert.equal(options.target.interfaceName, 'eth0', 'a shared flag from defaults');
    assert.equal(options.target.mac?.toString(), '02:00:00:00:00:12');
    assert.equal(options.cleanClose, true, 'a check flag under its CLI name');
  });

  it('accepts JSON, which is YAML too', () => {
    const config = parseConfig(JSON.stringify({services: [{name: 'a', vip: '2001:db8::100', port: '443', check: 'http-status', 'real-servers': ['2001:db8::11'], tls: true}]}), plugins);
    assert.equal(config.targets[0]!.id, 'a/2001:db8::11');
  });

  it('takes a command line key for key: the http check options', () => {
    const config = parseConfig(service("\n    path: /healthz\n    string: ok\n    warning: '0.1'\n    header: ['X-A: 1', 'X-B: 2']", 'http'), plugins);
    const options = config.targets[0]!.options as {request: {path: string; headers: unknown[]}};
    assert.equal(options.request.path, '/healthz');
    assert.equal(options.request.headers.length, 2);
  });

  it('takes tunnel mode at service level (forwarding, tun-type, tun-port), refusing what IPVS could not have', () => {
    const tun = (extra: string) => service(extra).replace("{address: 198.51.100.12, mac: '02:00:00:00:00:12'}", '203.0.113.13');
    const config = parseConfig(tun('\n    forwarding: tun\n    tun-type: gue\n    tun-port: 6080'), plugins);
    assert.deepEqual(config.targets.map((t) => (t.options as {target: {tunnel?: unknown}}).target.tunnel), [{type: 'gue', port: 6080}, {type: 'gue', port: 6080}]);
    assert.deepEqual(problems(tun('\n    forwarding: tun\n    tun-type: gue')), ["services[0].tun-type: tun-type gue needs tun-port (the real server's `ip fou add port N gue`)"]);
    assert.deepEqual(problems(tun('\n    tun-type: gre')), ['services[0].tun-type: tun-type needs forwarding tun']);
    // A real server's mac means DR: with tunnel mode it is refused where it is written.
    assert.deepEqual(problems(service('\n    forwarding: tun')), ['services[0].real-servers[1]: mac does not apply with forwarding tun: the encapsulated probe is routed to the RIP by the kernel']);
  });

  it('says what is wrong in one line per problem, with the key path', () => {
    assert.deepEqual(problems(service('\n    pathh: /')), ['services[0].pathh: unknown key for this check']);
    assert.deepEqual(problems(service('\n    rise: many')), ['services[0].rise: must be integer']);
    assert.deepEqual(problems('services: []'), ['services: must NOT have fewer than 1 items']);
    assert.deepEqual(problems('listen: 1\nservices:\n  - {name: a, vip: 198.51.100.100, port: 80, check: tcp}'), [
      'listen: must be string',
      'services[0].real-servers: required',
    ]);
    assert.deepEqual(problems(service().replace('check: tcp', 'check: arp-audit')), ['services[0].check: must be one of tcp, http, http-status, udp, dns']);
    assert.deepEqual(problems(service('\n    path: /x')), ['services[0].path: unknown key for this check'], 'path is an http option, not a tcp one');
  });

  it('reports what the plugins refuse, in their words, naming the key', () => {
    assert.deepEqual(problems(service().replace('vip: 198.51.100.100', 'vip: 198.51.100.300')), ["services[0].vip: '198.51.100.300' is not an IPv4 or IPv6 address"]);
    assert.deepEqual(problems(service().replace('198.51.100.11,', 'nonsense,')), ["services[0].real-servers[0]: 'nonsense' is not an IPv4 or IPv6 address"]);
    assert.match(problems(service("\n    warning: 'x:y'"))[0]!, /^services\[0\]\.warning: /);
  });

  it('refuses what only makes sense across the file: duplicate names and real servers, a timeout above the interval, a bad listen', () => {
    const twice = `services:
  - {name: a, vip: 198.51.100.100, port: 80, check: tcp, real-servers: [198.51.100.11, 198.51.100.11]}
  - {name: a, vip: 198.51.100.100, port: 81, check: tcp, real-servers: [198.51.100.12], interval: 1, timeout: 2}
listen: nowhere`;
    assert.deepEqual(problems(twice), [
      "listen: 'nowhere' is not host:port (IPv6 as [address]:port)",
      'services[0].real-servers[1]: 198.51.100.11 is listed twice',
      "services[1].name: 'a' is used by another service",
      'services[1].timeout: 2 s is longer than the interval (1 s)',
    ]);
  });

  it('refuses a file-check without {rs} (one file for every real server) and two targets writing one file', () => {
    assert.deepEqual(problems(service('\n    file-check: /run/x.state')), ['services[0].file-check: must match pattern "\\{rs\\}"']);
    const shared = `services:
  - {name: a, vip: 198.51.100.100, port: 80, check: tcp, real-servers: [198.51.100.11], file-check: '/run/{rs}.state'}
  - {name: b, vip: 198.51.100.100, port: 81, check: tcp, real-servers: [198.51.100.11], file-check: '/run/{rs}.state'}`;
    assert.deepEqual(problems(shared), ['services[1].file-check: /run/198.51.100.11.state is also the file of a/198.51.100.11']);
  });

  it('gives YAML syntax errors one line each', () => {
    const lines = problems('services: [\n  - name');
    assert.ok(lines.length >= 1);
    for (const line of lines) assert.match(line, /^config: [^\n]+$/);
  });

  it('publishes the schema the plugins generate (docs/schema/agent.schema.json is not edited by hand)', () => {
    const generated = buildAgentSchema([...plugins.values()].map((p) => ({id: p.id, flags: p.flags})));
    const published = JSON.parse(readFileSync(new URL('../../../docs/schema/agent.schema.json', import.meta.url), 'utf8'));
    assert.deepEqual(published, generated);
  });
});

describe('agent configuration, a large file', () => {
  const big = (count: number) =>
    ['services:', ...Array.from({length: count}, (_, i) => `  - {name: "s${i}", vip: 203.0.113.${1 + (i % 250)}, port: ${8000 + Math.floor(i / 250)}, check: tcp, real-servers: [198.51.100.11]}`), ''].join('\n');

  it('is parsed in a worker thread to the same data and the same error lines as in this one', async () => {
    const {parseYamlInWorker} = await import('../../../src/agent/config.js');
    const text = big(50);
    const inWorker = await parseYamlInWorker(text);
    assert.ok('data' in inWorker);
    assert.equal((inWorker.data as {services: unknown[]}).services.length, 50);
    assert.deepEqual(parseConfig(text, plugins).targets.map((t) => t.id), (inWorker.data as {services: Array<{name: string}>}).services.map((s) => `${s.name}/198.51.100.11`));
    const broken = await parseYamlInWorker(`${text}  - {name: x, name: y}\n`);
    assert.ok('errors' in broken);
    assert.throws(() => parseConfig(`${text}  - {name: x, name: y}\n`, plugins), (error: Error) => error.message === `config: ${broken.errors[0]}`);
  });

  it('loads 5,000 services from a file through the worker, and says what is wrong in one line with the file name', async () => {
    const {mkdtempSync, rmSync, writeFileSync} = await import('node:fs');
    const {tmpdir} = await import('node:os');
    const {join} = await import('node:path');
    const {loadConfig} = await import('../../../src/agent/config.js');
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-config-'));
    try {
      const file = join(dir, 'agent.yaml');
      const text = big(5000);
      assert.ok(text.length > 256 * 1024, 'large enough for the worker');
      writeFileSync(file, text);
      const config = await loadConfig(file, plugins);
      assert.equal(config.targets.length, 5000);
      assert.equal(config.targets[4999]!.vip.toString(), '203.0.113.250');
      writeFileSync(file, text.replace('name: "s17"', 'name: "s17", name: "again"'));
      await assert.rejects(loadConfig(file, plugins), (error: Error) => /^.*agent\.yaml: Map keys must be unique/.test(error.message) && !error.message.includes('\n'));
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });
});
