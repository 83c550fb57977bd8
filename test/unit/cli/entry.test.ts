/**
 * bin/run.cjs as monitoring systems and people call it, without a network (needs `npm run build`): the
 * Monitoring Plugins conventions -h and -V, and one UNKNOWN line for a usage error on both paths.
 */
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';

const EXAMPLE_PLUGIN = fileURLToPath(new URL('../../../examples/vipcheck-plugin-redis', import.meta.url));
const BIN = fileURLToPath(new URL('../../../bin/run.cjs', import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1', ...env}});
  return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

describe('bin/run.cjs', () => {
  it('prints the version for -V and --version, also after a check name', () => {
    for (const args of [['-V'], ['--version'], ['tcp', '-V'], ['http', '--vip', '198.51.100.100', '--version']]) {
      const r = run(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /^vipcheck\/\d+\.\d+\.\d+ linux-x64 node-v\d+/, args.join(' '));
    }
  });

  it("prints a check's help for -h as for --help, on the fast path and through oclif", () => {
    for (const env of [{}, {VIPCHECK_OCLIF: '1'}]) {
      const short = run(['tcp', '-h'], env);
      const long = run(['tcp', '--help'], env);
      assert.equal(short.code, 0);
      assert.equal(short.stdout, long.stdout);
      assert.match(short.stdout, /--vip=ADDRESS/);
    }
  });

  it('lists the third-party checks it finds in the root help, after the built-ins, and none when there are none', () => {
    for (const args of [['help'], ['--help'], []]) {
      const r = run(args, {VIPCHECK_PLUGINS: EXAMPLE_PLUGIN});
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /\n {2}tcp +Check that a real server accepts/, args.join(' '));
      assert.match(r.stdout, /\nTHIRD-PARTY CHECKS\n {2}redis +from vipcheck-plugin-redis; vipcheck redis --help for its flags\n/, args.join(' '));
    }
    const bare = run(['help'], {VIPCHECK_PLUGINS: ''});
    assert.equal(bare.code, 0);
    assert.doesNotMatch(bare.stdout, /THIRD-PARTY/);
  });

  it('gives one UNKNOWN line, exit 3, for a usage error on both paths', () => {
    for (const env of [{}, {VIPCHECK_OCLIF: '1'}]) {
      const r = run(['tcp', '--vip', '198.51.100.100', '--port', '80'], env);
      assert.equal(r.code, 3);
      assert.equal(r.stdout, 'VIPCHECK TCP UNKNOWN - --rs is required\n');
      assert.equal(r.stderr, '');
    }
  });
});
