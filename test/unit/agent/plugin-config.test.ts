/**
 * The agent runs third-party checks: found like the command line finds them (here the example package through
 * VIPCHECK_PLUGINS), and their services validated on the common keys by the compiled schema and on their own
 * keys by their flag declarations.
 */
import assert from 'node:assert/strict';
import {join} from 'node:path';
import {agentChecks} from '../../../src/agent/checks.js';
import {parseConfig} from '../../../src/agent/config.js';
import type {CheckPlugin} from '../../../src/plugin-api/plugin.js';
import {configProblems} from '../../support/config-problems.js';
import {REPO_ROOT} from '../../lab/harness.js';

let plugins: Map<string, CheckPlugin>;
before(async () => {
  plugins = await agentChecks({VIPCHECK_PLUGINS: join(REPO_ROOT, 'examples/vipcheck-plugin-redis')});
});

const redisService = (extra = '') => `
defaults: {role: master}
services:
  - name: cache
    vip: 198.51.100.100
    port: 6379
    check: redis
    interval: 3
    real-servers: [198.51.100.11]${extra}
`;

const problems = (text: string) => configProblems(text, plugins);

describe('agent configuration with a third-party check', () => {
  it('finds the plugin next to the built-ins and makes its targets with its own prepare()', () => {
    assert.deepEqual([...plugins.keys()].sort(), ['dns', 'http', 'http-status', 'redis', 'tcp', 'udp']);
    const config = parseConfig(redisService('\n    warning: 0.5'), plugins);
    assert.equal(config.targets.length, 1);
    const target = config.targets[0]!;
    assert.equal(target.plugin.id, 'redis');
    assert.equal(target.intervalMs, 3000);
    assert.equal((target.options as {thresholds: {warning: {text: string}}}).thresholds.warning.text, '0.5');
    assert.equal((target.options as {role: {role: string}}).role.role, 'master');
  });

  it('refuses keys the plugin does not declare, wrong types, and still checks the common keys', () => {
    assert.deepEqual(problems(redisService('\n    path: /')), ['services[0].path: unknown key for this check']);
    assert.deepEqual(problems(redisService('\n    role: primary')), ['services[0].role: must be one of master, backup, auto']);
    // The schema's own words, as for a built-in check's service.
    assert.ok(problems(redisService().replace('interval: 3', 'interval: soon')).includes('services[0].interval: must be number'));
    assert.deepEqual(problems(redisService('\n    warning: 5:1')), ["services[0].warning: invalid warning '5:1': start 5 is greater than end 1"]);
  });
});
