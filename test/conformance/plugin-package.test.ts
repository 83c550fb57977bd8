/**
 * A third-party plugin package on the packed vipcheck: both installed with `npm install -g` into an empty
 * prefix, the plugin's own tests run against that installation, `vipcheck <check>` works straight after in
 * the lab, and every check the package declares passes the conformance suite.
 *
 * The package is examples/vipcheck-plugin-redis unless VIPCHECK_CONFORMANCE_PLUGIN names another directory
 * (scripts/conformance, the one command for plugin authors). Its package.json's `vipcheck.conformance` gives,
 * per check, the lab port where it is OK (and more arguments: `args`).
 */
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {basename, join, resolve} from 'node:path';
import {describeLab, REPO_ROOT, runVipcheck} from '../lab/harness.js';
import {AgentProcess} from '../support/agent-process.js';
import {startFixtureServers} from '../support/lab-services.js';
import {installPackedVipcheck, type InstalledPrefix} from './installed-package.js';
import {conformanceSuite} from './suite.js';

const pluginDir = resolve(process.env['VIPCHECK_CONFORMANCE_PLUGIN'] ?? join(REPO_ROOT, 'examples/vipcheck-plugin-redis'));
const pluginJson = JSON.parse(readFileSync(join(pluginDir, 'package.json'), 'utf8')) as {
  name: string;
  vipcheck: {checks: Record<string, string>; conformance?: Record<string, {port: number; args?: string[]}>};
};
const checks = Object.keys(pluginJson.vipcheck.checks);
let installed: InstalledPrefix | undefined;
// The suites are registered when mocha loads this file; the installation exists once the outer before() ran.
const command = () => [installed!.bin];

describe(`plugin package ${pluginJson.name} on the packed vipcheck`, function () {
  this.timeout(300_000);
  before(function () {
    installed = installPackedVipcheck([pluginDir]);
  });
  after(() => installed?.remove());

  it('installs the tarball with its addon and without the lab, and the plugin next to it', () => {
    const root = join(installed!.prefix, 'lib/node_modules/vipcheck');
    assert.ok(existsSync(join(root, 'build/Release/packet_socket.node')), 'the addon was built on install');
    assert.ok(!existsSync(join(root, 'dist/lab')), 'dist/lab is not published');
    assert.ok(existsSync(join(root, 'dist/plugin-api/index.d.ts')), 'the API has type declarations');
    assert.ok(existsSync(join(installed!.prefix, 'lib/node_modules', pluginJson.name)));
  });

  it('resolves vipcheck/plugin-api (module and declarations) from the plugin package', () => {
    const installedPlugin = join(installed!.prefix, 'lib/node_modules', pluginJson.name);
    const script = "const api = await import('vipcheck/plugin-api'); console.log(typeof api.openConnector, api.errorResult({title: 'X'}, new api.UsageError('bad')).summary)";
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {cwd: installedPlugin, encoding: 'utf8'});
    assert.equal(out.trim(), 'function bad');
  });

  describeLab('the tarball installed without its install script (npm --ignore-scripts)', (s) => {
    it('says in one UNKNOWN line what to run, and after that command the check works', async () => {
      const prefix = join(installed!.prefix, '..', 'no-scripts');
      execFileSync('npm', ['install', '--global', '--prefix', prefix, '--ignore-scripts', installed!.tarball], {env: installed!.npmEnv, stdio: 'ignore'});
      const args = ['tcp', '--vip', s.lab.vip4, '--rs', s.lab.hosts.good.ipv4, '--port', '80'];
      const unbuilt = await runVipcheck(s.lab, 'director', args, {command: [join(prefix, 'bin/vipcheck')]});
      assert.equal(unbuilt.code, 3, unbuilt.stdout);
      const packageDir = join(prefix, 'lib/node_modules/vipcheck');
      assert.equal(unbuilt.stdout.trimEnd(), `VIPCHECK TCP UNKNOWN - vipcheck's native addon is not built (${unbuilt.stdout.match(/not built \((.*)\): install/)?.[1]}): install python3, make and g++, then run npm run build:native in ${packageDir}`);
      execFileSync('npm', ['run', 'build:native'], {cwd: packageDir, env: installed!.npmEnv, stdio: 'ignore'});
      const built = await runVipcheck(s.lab, 'director', args, {command: [join(prefix, 'bin/vipcheck')]});
      assert.equal(built.code, 0, built.stdout);
    });
  }, {timeoutMs: 180_000});

  it("passes the plugin's own tests against the installation", function () {
    const installedPlugin = join(installed!.prefix, 'lib/node_modules', pluginJson.name);
    if (!existsSync(join(installedPlugin, 'test'))) this.skip();
    const mocha = join(REPO_ROOT, 'node_modules/mocha/bin/mocha.js');
    execFileSync(process.execPath, [mocha, '--no-config', 'test/**/*.test.js'], {cwd: installedPlugin, stdio: ['ignore', 'pipe', 'pipe']});
  });

for (const check of checks) {
  const settings = pluginJson.vipcheck.conformance?.[check];
  if (!settings) throw new Error(`${pluginJson.name}: package.json has no vipcheck.conformance.${check} (the lab port where it is OK)`);
  const target = {check, port: settings.port, ...(settings.args ? {args: settings.args} : {})};
  if (basename(pluginDir) === 'vipcheck-plugin-redis' && check === 'redis') {
    describeLab('vipcheck redis (the example plugin) installed from the packed tarball', (s) => {
      before(async () => startFixtureServers(s.lab, 'good'));
      const redis = (host: 'good' | 'novip' | 'closed', port = 6379) =>
        ['redis', '--vip', s.lab.vip4, '--rs', s.lab.hosts[host].ipv4, '--port', String(port)];

      it('is OK through the VIP path against the lab Redis responder', async () => {
        const run = await runVipcheck(s.lab, 'director', redis('good'), {command: command()});
        assert.equal(run.code, 0, run.stdout + run.stderr);
        assert.match(run.stdout, /^VIPCHECK REDIS OK - 198\.51\.100\.100:6379 answered PONG via 198\.51\.100\.11 \(02:00:00:00:00:11\) in [\d.]+ ms \| time=[\d.]+s;;;0;8\n/);
      });

      it('is CRITICAL for a server that answers something else, and for a closed port', async () => {
        const http = await runVipcheck(s.lab, 'director', redis('good', 8081), {command: command()});
        assert.equal(http.code, 2, http.stdout);
        const closed = await runVipcheck(s.lab, 'director', redis('closed'), {command: command()});
        assert.equal(closed.code, 2, closed.stdout);
        assert.match(closed.stdout, /refused/);
      });

      it('runs under the agent of the installation, the same check as on the command line', async () => {
        const config = [
          'listen: 127.0.0.1:9470',
          'defaults: {interval: 0.5, timeout: 0.4, rise: 1, fall: 1}',
          'services:',
          `  - {name: cache, vip: ${s.lab.vip4}, port: 6379, check: redis, real-servers: [${s.lab.hosts.good.ipv4}, ${s.lab.hosts.novip.ipv4}]}`,
        ].join('\n');
        const agent = await AgentProcess.start(s.lab, 'director', config, 9470, command());
        try {
          const wanted = {[s.lab.hosts.good.ipv4]: 1, [s.lab.hosts.novip.ipv4]: 0};
          await agent.until(async () => JSON.stringify(await agent.upOf('cache')) === JSON.stringify(wanted), 10_000, 'good up, novip down');
          const status = await agent.status();
          assert.match(status.services[0]!.realServers.find((r) => r.rs === s.lab.hosts.good.ipv4)!.lastProbe!.summary, /answered PONG/);
        } finally {
          await agent.stop();
        }
      });

      it('takes the kernel path to RIP:port as a backup director', async () => {
        const run = await runVipcheck(s.lab, 'director', [...redis('good'), '--role', 'backup'], {command: command()});
        assert.equal(run.code, 0, run.stdout);
        assert.match(run.stdout, /kernel connect to RIP/, run.stdout);
      });
    }, {timeoutMs: 60_000});
  }
  conformanceSuite({...target, command});
}
});
