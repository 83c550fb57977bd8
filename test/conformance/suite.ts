/**
 * The conformance suite every vipcheck check passes, built in or third-party: the plugin contract of
 * docs/monitoring.md and docs/plugins.md, proven on the check's process in the namespace lab.
 *
 *   conformanceSuite({check: 'redis', port: 6379, command: ['/tmp/prefix/bin/vipcheck']});
 *
 * The check must be OK against the lab's healthy real server on `port` (the lab's HTTP server on 80 and the
 * fixture servers of test/support/servers/fixture-servers.cjs run there) and take --vip, --rs and --port.
 * Third-party authors run it on their package with one command: scripts/conformance <plugin-dir> (docs/plugins.md).
 */
import assert from 'node:assert/strict';
import {setTimeout as sleep} from 'node:timers/promises';
import type {Lab} from '../../src/lab/lab.js';
import {DEADLINE_GRACE_MS} from '../../src/plugin-api/run-check.js';
import {startFixtureServers} from '../support/lab-services.js';
import {assertResultSchema} from '../support/result-schema.js';
import {describeLab, runVipcheck, VIPCHECK_BIN, type VipcheckRun} from '../lab/harness.js';

export interface ConformanceTarget {
  /** The command name, e.g. `tcp`. */
  readonly check: string;
  /** A port of the healthy real server where the check is OK. */
  readonly port: number;
  /** More arguments an OK run needs (e.g. `--path /`). */
  readonly args?: readonly string[];
  /** How to start vipcheck (or a function giving it once hooks ran); default this checkout's bin/run.cjs. */
  readonly command?: readonly string[] | (() => readonly string[]);
  readonly env?: NodeJS.ProcessEnv;
  /** Starts what the check needs on the healthy real server beyond the fixture servers (a DNS server). */
  readonly prepare?: (lab: Lab) => Promise<void>;
}

/** The perfdata grammar of the Nagios plugin guidelines as vipcheck prints it (label=value[uom];warn;crit;min;max). */
const NUMBER = String.raw`-?\d+(\.\d+)?`;
const RANGE = String.raw`@?(~|${NUMBER})?:?(${NUMBER})?`;
const PERF_DATUM = new RegExp(String.raw`^[A-Za-z0-9_.-]+=(U|${NUMBER}(s|ms|us|%|B|KB|MB|TB|c)?)(;(${RANGE})?){0,4}$`);
/** How much beyond --timeout plus the runner's grace a run may take: `ip netns exec` and a loaded CI machine. */
const PROCESS_SLACK_MS = 900;

export function conformanceSuite(target: ConformanceTarget): Mocha.Suite {
  return describeLab(`conformance: vipcheck ${target.check}`, (s) => {
    const title = target.check.toUpperCase();
    const args = (rs: 'good' | 'novip', ...extra: string[]) => [
      target.check, '--vip', s.lab.vip4, '--rs', s.lab.hosts[rs].ipv4, '--port', String(target.port), ...(target.args ?? []), ...extra,
    ];
    const run = (argv: readonly string[], ns = 'director') => runVipcheck(s.lab, ns, argv, {command: commandOf(target), env: {...target.env}});

    before(async () => {
      await startFixtureServers(s.lab, 'good');
      await target.prepare?.(s.lab);
    });

    it('declares its flags as data: --help lists the shared target and output flags', async () => {
      const help = await run([target.check, '--help']);
      assert.equal(help.code, 0, help.stdout + help.stderr);
      for (const flag of ['--vip', '--rs', '--port', '--timeout', '--warning', '--critical', '--exit-codes', '--json', '--verbose']) {
        assert.ok(help.stdout.includes(flag), `--help does not list ${flag}:\n${help.stdout}`);
      }
    });

    it('is OK against the healthy real server, with perfdata that follows the grammar and exactly one |', async () => {
      const ok = await run(args('good'));
      assertOneResult(ok, title, 'OK');
      assert.equal(ok.code, 0);
      assertPerfdata(ok);
    });

    for (const [what, extra] of [
      ['an unknown flag', ['--no-such-flag']],
      ['a bad address', ['--vip', 'not-an-address']],
      ['a bad port', ['--port', '0']],
      ['a bad timeout', ['--timeout', 'soon']],
      ['a bad threshold', ['--warning', '5:1']],
    ] as const) {
      it(`answers ${what} with one UNKNOWN line and exit 3`, async () => {
        const bad = await run(args('good', ...extra));
        assert.equal(bad.code, 3, bad.stdout);
        assert.equal(bad.stdout.trimEnd().split('\n').length, 1, `one line: ${bad.stdout}`);
        assertOneResult(bad, title, 'UNKNOWN');
      });
    }

    it('respects the deadline against a silent server (--timeout plus a small grace)', async () => {
      const silent = await run(args('novip', '--timeout', '1'));
      assertOneResult(silent, title, 'CRITICAL');
      assert.equal(silent.code, 2);
      assertPerfdata(silent);
      assert.ok(silent.ms < 1000 + DEADLINE_GRACE_MS + PROCESS_SLACK_MS, `took ${silent.ms} ms with --timeout 1`);
    });

    it('prints --json that validates against docs/schema/result.schema.json, with the exit code in it', async () => {
      for (const argv of [args('good', '--json'), args('novip', '--timeout', '0.5', '--json'), args('good', '--json', '--port', 'x')]) {
        const json = await run(argv);
        assert.equal(json.stderr, '');
        const parsed = JSON.parse(json.stdout) as {code: number; check: string};
        assertResultSchema(parsed);
        assert.equal(parsed.code, json.code);
      }
    });

    it('maps --exit-codes keepalived: OK 0, CRITICAL 1, UNKNOWN 1', async () => {
      assert.equal((await run(args('good', '--exit-codes', 'keepalived'))).code, 0);
      assert.equal((await run(args('novip', '--timeout', '0.5', '--exit-codes', 'keepalived'))).code, 1);
      assert.equal((await run(args('good', '--exit-codes', 'keepalived', '--vip', 'x'))).code, 1);
    });

    it('cleans up on SIGTERM: one UNKNOWN verdict at once, and no nftables table left behind', async () => {
      // From the client (no VIP there), a conversation check installs its kernel-RST guard table (lvs-dr.md).
      const child = spawnCheck(s.lab, target, args('novip', '--timeout', '8'));
      await sleep(800);
      const signalled = performance.now();
      child.kill('SIGTERM');
      const [code, stdout] = await child.done;
      assert.ok(performance.now() - signalled < 1000, 'ended within a second of SIGTERM');
      assert.equal(code, 3, stdout);
      assert.match(stdout, new RegExp(`^VIPCHECK ${title} UNKNOWN - interrupted by SIGTERM`));
      const tables = await s.lab.execOk('client', ['nft', 'list', 'tables']);
      assert.doesNotMatch(tables.stdout, /vipcheck_/, tables.stdout);
    });
  }, {timeoutMs: 60_000});
}

function commandOf(target: ConformanceTarget): readonly string[] {
  const command = typeof target.command === 'function' ? target.command() : target.command;
  return command ?? [process.execPath, VIPCHECK_BIN];
}

function assertOneResult(run: VipcheckRun, title: string, state: string): void {
  assert.equal(run.stderr, '', `nothing on stderr: ${run.stderr}`);
  assert.equal(run.timedOut, false);
  assert.match(run.stdout.split('\n')[0]!, new RegExp(`^VIPCHECK ${title} ${state} - [^|\\n]+( \\| [^|\\n]+)?$`), run.stdout);
}

function assertPerfdata(run: VipcheckRun): void {
  assert.equal(run.stdout.split('|').length, 2, `exactly one | in the output: ${run.stdout}`);
  const perfdata = run.stdout.split('\n')[0]!.split(' | ')[1]!;
  for (const datum of perfdata.split(' ')) assert.match(datum, PERF_DATUM);
}

function spawnCheck(lab: Lab, target: ConformanceTarget, argv: readonly string[]) {
  const child = lab.spawn('client', ['env', ...Object.entries(target.env ?? {}).map(([k, v]) => `${k}=${v}`), ...commandOf(target), ...argv]);
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.resume();
  const done = new Promise<[number | null, string]>((resolve) => child.on('close', (code) => resolve([code, stdout])));
  return {kill: (signal: NodeJS.Signals) => child.kill(signal), done};
}
