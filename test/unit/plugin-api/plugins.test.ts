/** Plugin discovery by package.json, and error classification across two copies of core/errors. */
import assert from 'node:assert/strict';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {discoverPluginChecks} from '../../../src/cli/plugin-discovery.js';
import {errorResult} from '../../../src/plugin-api/run-check.js';
import {State} from '../../../src/core/result/state.js';

function writePackage(dir: string, json: object): void {
  mkdirSync(dir, {recursive: true});
  writeFileSync(join(dir, 'package.json'), JSON.stringify(json));
}

describe('plugin discovery', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'vipcheck-discovery-'));
  });
  afterEach(() => rmSync(root, {recursive: true, force: true}));

  it('finds vipcheck-plugin-* packages next to an installed vipcheck, scoped ones too, and nothing else', () => {
    const modules = join(root, 'node_modules');
    writePackage(join(modules, 'vipcheck'), {name: 'vipcheck'});
    writePackage(join(modules, 'vipcheck-plugin-redis'), {name: 'vipcheck-plugin-redis', vipcheck: {checks: {redis: './redis.js'}}});
    writePackage(join(modules, '@acme/vipcheck-plugin-smtp'), {name: '@acme/vipcheck-plugin-smtp', vipcheck: {checks: {smtp: './smtp.js'}}});
    writePackage(join(modules, 'other'), {name: 'other', vipcheck: {checks: {other: './x.js'}}});
    const found = discoverPluginChecks(join(modules, 'vipcheck'), {});
    assert.deepEqual(found.map((c) => [c.id, c.packageName]).sort(), [['redis', 'vipcheck-plugin-redis'], ['smtp', '@acme/vipcheck-plugin-smtp']]);
    assert.equal(found.find((c) => c.id === 'redis')!.modulePath, join(modules, 'vipcheck-plugin-redis', 'redis.js'));
  });

  it('reads VIPCHECK_PLUGINS first, and refuses reserved names, odd names and modules outside the package', () => {
    const plugin = join(root, 'mine');
    writePackage(plugin, {name: 'mine', vipcheck: {checks: {redis: './a.js', help: './h.js', 'Bad Name': './b.js', escape: '../../etc/x.js'}}});
    const modules = join(root, 'node_modules');
    writePackage(join(modules, 'vipcheck-plugin-redis'), {name: 'vipcheck-plugin-redis', vipcheck: {checks: {redis: './redis.js'}}});
    const found = discoverPluginChecks(join(modules, 'vipcheck'), {VIPCHECK_PLUGINS: plugin});
    assert.deepEqual(found.map((c) => [c.id, c.packageName]), [['redis', 'mine']]);
  });

  it('finds nothing for a checkout (not inside a node_modules) without VIPCHECK_PLUGINS', () => {
    assert.deepEqual(discoverPluginChecks(join(root, 'vipcheck'), {}), []);
  });
});

describe('errorResult across copies of core/errors', () => {
  it('classifies by the registered brand, so another copy of UsageError is still a usage error', () => {
    const foreign = Object.assign(new Error('--port: bad'), {[Symbol.for('vipcheck.errorKind')]: 'usage'});
    assert.deepEqual([errorResult({title: 'X'}, foreign).state, errorResult({title: 'X'}, foreign).summary], [State.Unknown, '--port: bad']);
    const down = Object.assign(new Error('no ARP answer'), {[Symbol.for('vipcheck.errorKind')]: 'service-down'});
    assert.equal(errorResult({title: 'X'}, down).state, State.Critical);
    assert.equal(errorResult({title: 'X'}, new TypeError('oops')).summary, 'internal error: oops');
  });
});
