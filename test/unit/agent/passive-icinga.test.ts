/**
 * Passive results to Icinga 2: the API body carries the CLI's text (output and long output) with the perfdata
 * split out one datum per element; the config maps targets to Icinga hosts and services and refuses a CA file
 * it cannot read, in one line.
 */
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {agentChecks} from '../../../src/agent/checks.js';
import {ConfigError, loadConfig, parseConfig} from '../../../src/agent/config.js';
import {icingaCheckResult} from '../../../src/agent/passive-icinga.js';
import type {CheckResult} from '../../../src/core/result/check-result.js';
import {State} from '../../../src/core/result/state.js';

const result: CheckResult = {
  check: 'TCP',
  state: State.Ok,
  summary: 'answered via 198.51.100.11',
  details: ['path: VIP path on eth0', 'second line'],
  perfdata: [
    {label: 'time', value: 0.00041, uom: 's', min: 0, max: 8},
    {label: 'size', value: 101, uom: 'B', min: 0},
  ],
};

const config = (icinga: string) => `
icinga: ${icinga}
services:
  - name: web
    vip: 198.51.100.100
    port: 80
    check: tcp
    real-servers: [198.51.100.11, {address: 198.51.100.12, icinga-host: rs2}]
`;

describe('passive results to Icinga 2', () => {
  it('posts the CLI text as plugin_output and each perfdata datum as one element', () => {
    const body = icingaCheckResult(1_700_000_000_500, 'rs1', 'web', result, 'vipcheck agent on director1');
    assert.deepEqual(body, {
      type: 'Service',
      service: 'rs1!web',
      exit_status: 0,
      plugin_output: 'VIPCHECK TCP OK - answered via 198.51.100.11\npath: VIP path on eth0\nsecond line',
      performance_data: ['time=0.00041s;;;0;8', 'size=101B;;;0'],
      check_source: 'vipcheck agent on director1',
      execution_end: 1_700_000_000.5,
    });
  });

  it('maps targets to Icinga hosts and services, and reads the CA at load', async () => {
    const plugins = await agentChecks();
    const c = parseConfig(config("{url: 'https://icinga.example:5665/', user: a, password: b, host: 'rs-{rs}', service: 'VIP {vip}:{port}'}"), plugins);
    assert.deepEqual(c.icinga, {url: 'https://icinga.example:5665', user: 'a', password: 'b', everyProbe: false});
    assert.deepEqual(c.targets.map((t) => t.icinga), [{host: 'rs-198.51.100.11', service: 'VIP 198.51.100.100:80'}, {host: 'rs2', service: 'VIP 198.51.100.100:80'}]);
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-icinga-'));
    try {
      const file = join(dir, 'agent.yaml');
      writeFileSync(file, config(`{url: 'https://127.0.0.1:5665', user: a, password: b, ca-file: ${dir}/missing.crt}`));
      await assert.rejects(loadConfig(file, plugins), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems, [`icinga.ca-file: cannot read ${dir}/missing.crt: ENOENT`]);
        return true;
      });
      writeFileSync(join(dir, 'ca.crt'), 'CA');
      writeFileSync(file, config(`{url: 'https://127.0.0.1:5665', user: a, password: b, ca-file: ${dir}/ca.crt}`));
      assert.equal((await loadConfig(file, plugins)).icinga?.ca?.toString(), 'CA');
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });

  it('refuses a URL that is not https://host[:port], and a missing or doubled password, in one line each', async () => {
    const plugins = await agentChecks();
    const problemsOf = (icinga: string) => {
      try {
        parseConfig(config(icinga), plugins);
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems;
      }
      return assert.fail('accepted');
    };
    assert.deepEqual(problemsOf("{url: 'http://icinga:5665/v1', user: a, password: b}"), ['icinga.url: must match pattern "^https://[^/]+/?$"']);
    assert.deepEqual(problemsOf("{url: 'https://icinga:5665', user: a}"), ['icinga.password: required (or password-file)']);
    assert.deepEqual(problemsOf("{url: 'https://icinga:5665', user: a, password: b, password-file: /run/credentials/pw}"), ['icinga.password-file: give password or password-file, not both']);
    assert.deepEqual(problemsOf("{url: 'https://icinga:5665', user: a, password-file: pw}"), ['icinga.password-file: must match pattern "^/"']);
  });

  it('reads the password from password-file (its first line) at load, and says in one line when it cannot', async () => {
    const plugins = await agentChecks();
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-icinga-'));
    try {
      const file = join(dir, 'agent.yaml');
      writeFileSync(file, config(`{url: 'https://127.0.0.1:5665', user: a, password-file: ${dir}/pw}`));
      const failsWith = (problem: string) =>
        assert.rejects(loadConfig(file, plugins), (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.deepEqual(error.problems, [problem]);
          return true;
        });
      await failsWith(`icinga.password-file: cannot read ${dir}/pw: ENOENT`);
      writeFileSync(join(dir, 'pw'), '\nsecret\n');
      await failsWith(`icinga.password-file: ${dir}/pw holds no password on its first line`);
      writeFileSync(join(dir, 'pw'), 's3cret:x\r\nignored\n');
      const icinga = (await loadConfig(file, plugins)).icinga!;
      assert.equal(icinga.password, 's3cret:x');
      assert.equal(icinga.passwordFile, `${dir}/pw`);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });
});
