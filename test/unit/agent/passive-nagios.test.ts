/**
 * Passive results to Nagios's command file: the line is the CLI's output in a PROCESS_SERVICE_CHECK_RESULT;
 * a FIFO nobody reads (Nagios stopped) is a failed attempt, counted and retried with backoff, and the results
 * arrive in order once a reader is there; sending never waits.
 */
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {constants, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {open} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {agentChecks} from '../../../src/agent/checks.js';
import {ConfigError, parseConfig} from '../../../src/agent/config.js';
import {NagiosCommandFile, nagiosPassiveLine, PIPE_BUF} from '../../../src/agent/passive-nagios.js';
import type {CheckResult} from '../../../src/core/result/check-result.js';
import {renderNagios} from '../../../src/core/result/render.js';
import {State} from '../../../src/core/result/state.js';

const result: CheckResult = {
  check: 'TCP',
  state: State.Critical,
  summary: 'no answer from 198.51.100.100:80 via 198.51.100.12',
  details: ['path: VIP path on eth0'],
  perfdata: [{label: 'time', value: undefined, uom: 's', min: 0, max: 8}],
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('passive results to Nagios', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vipcheck-passive-'));
  });
  afterEach(() => {
    rmSync(dir, {recursive: true, force: true});
  });

  it('writes the CLI output as one PROCESS_SERVICE_CHECK_RESULT line, long output as literal \\n', () => {
    const line = nagiosPassiveLine(1_700_000_000_500, '198.51.100.12', 'web', result);
    const cli = renderNagios(result, 0).trimEnd().split('\n');
    assert.equal(line, `[1700000000] PROCESS_SERVICE_CHECK_RESULT;198.51.100.12;web;2;${cli[0]}\\n${cli[1]}\n`);
    assert.match(line, /;2;VIPCHECK TCP CRITICAL - no answer from .* \| time=U;;;0;8\\npath: VIP path on eth0\n$/);
  });

  it('cuts long output to keep the line within PIPE_BUF (an atomic write), never the first line', () => {
    const long = {...result, details: Array.from({length: 200}, (_, i) => `detail ${i} ${'x'.repeat(40)}`)};
    const line = nagiosPassiveLine(0, 'h', 's', long);
    assert.ok(Buffer.byteLength(line) <= PIPE_BUF, `${Buffer.byteLength(line)} bytes`);
    assert.ok(line.includes('| time=U;;;0;8\\ndetail 0 '));
    assert.equal(line.split('\n').length, 2, 'one line');
  });

  it('counts a FIFO without a reader as a failed attempt, retries with backoff, and delivers in order once Nagios reads', async () => {
    const fifo = join(dir, 'nagios.cmd');
    execFileSync('mkfifo', [fifo]);
    const counts = {failures: 0, delivered: 0, dropped: 0};
    const logs: string[] = [];
    const sender = new NagiosCommandFile(
      fifo,
      {log: (l) => logs.push(l), failed: () => (counts.failures += 1), delivered: (n) => (counts.delivered += n), dropped: (n) => (counts.dropped += n)},
      {minBackoffMs: 50, maxBackoffMs: 200, maxQueue: 3},
    );
    try {
      const started = performance.now();
      for (let i = 1; i <= 4; i++) sender.send(`line ${i}\n`);
      assert.ok(performance.now() - started < 20, 'send() returns at once');
      await sleep(400);
      assert.ok(counts.failures >= 2, `${counts.failures} failed attempts: retried`);
      assert.ok(counts.failures <= 6, `${counts.failures} failed attempts in 400 ms: backoff (50, 100, 200, 200 ms)`);
      assert.equal(counts.dropped, 1, 'the oldest result left the full queue');
      assert.equal(logs.length, 1, `one log line for the whole streak: ${logs.join(' / ')}`);
      assert.match(logs[0]!, new RegExp(`passive results to nagios: cannot deliver to ${fifo}: ENXIO \\(nobody reads the FIFO: is Nagios running\\?\\)`));
      // Nagios starts reading.
      const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        let got = '';
        for (let i = 0; i < 50 && !got.includes('line 4'); i++) {
          await sleep(50);
          const buffer = Buffer.alloc(PIPE_BUF);
          try {
            const {bytesRead} = await reader.read(buffer, 0, buffer.length, null);
            got += buffer.subarray(0, bytesRead).toString();
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
          }
        }
        assert.equal(got, 'line 2\nline 3\nline 4\n');
        assert.equal(counts.delivered, 3);
        assert.match(logs.at(-1)!, /delivered again after \d+ failed attempts/);
      } finally {
        await reader.close();
      }
    } finally {
      sender.stop();
    }
  });

  it('refuses a regular file where the FIFO should be', async () => {
    const file = join(dir, 'nagios.cmd');
    writeFileSync(file, '');
    const logs: string[] = [];
    const sender = new NagiosCommandFile(file, {log: (l) => logs.push(l), failed: () => {}, delivered: () => {}, dropped: () => {}}, {minBackoffMs: 1000, maxBackoffMs: 1000, maxQueue: 10});
    sender.send('x\n');
    await sleep(100);
    sender.stop();
    assert.match(logs[0] ?? '', /not a FIFO/);
  });
});

describe('agent configuration: nagios', () => {
  const config = (nagios: string, extra = '') => `
nagios: ${nagios}
services:
  - name: web
    vip: 198.51.100.100
    port: 80
    check: tcp
    real-servers: [198.51.100.11, 198.51.100.12]${extra}
`;

  it('maps each target to a Nagios host and service, by template and per service', async () => {
    const plugins = await agentChecks();
    const c = parseConfig(config('{command-file: /var/lib/nagios4/rw/nagios.cmd}'), plugins);
    assert.deepEqual(c.nagios, {commandFile: '/var/lib/nagios4/rw/nagios.cmd', everyProbe: false});
    assert.deepEqual(c.targets.map((t) => t.nagios), [{host: '198.51.100.11', service: 'web'}, {host: '198.51.100.12', service: 'web'}]);
    const d = parseConfig(config('{command-file: /x, host: director1, every-probe: true}', "\n    nagios-service: 'VIP {vip}:{port} via {rs}'"), plugins);
    assert.equal(d.nagios?.everyProbe, true);
    assert.deepEqual(d.targets[1]!.nagios, {host: 'director1', service: 'VIP 198.51.100.100:80 via 198.51.100.12'});
    const e = parseConfig(config('{command-file: /x}').replace('198.51.100.12]', '{address: 198.51.100.12, nagios-host: rs2}]'), plugins);
    assert.deepEqual(e.targets.map((t) => t.nagios?.host), ['198.51.100.11', 'rs2'], 'a real server of its own name in Nagios');
    assert.equal(parseConfig(config('{command-file: /x}').replace(/^nagios: .*$/m, ''), plugins).targets[0]!.nagios, undefined);
  });

  it('says in one line each what is wrong', async () => {
    const plugins = await agentChecks();
    const problems = (text: string) => {
      try {
        parseConfig(text, plugins);
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems;
      }
      return assert.fail('accepted');
    };
    assert.deepEqual(problems(config('{host: x}')), ['nagios.command-file: required']);
    assert.deepEqual(problems(config('{command-file: rw/nagios.cmd}')), ['nagios.command-file: must match pattern "^/"']);
    assert.deepEqual(problems(config("{command-file: /x, service: 'a;b'}")), ['nagios.service: must match pattern "^[^;\\n\\r]+$"']);
    assert.deepEqual(problems(config('{command-file: /x, host: director1}')), [
      'services[0].nagios-service: director1/web is also the Nagios service of web/198.51.100.11 (use {rs} in nagios.host or nagios-service)',
    ]);
  });
});
