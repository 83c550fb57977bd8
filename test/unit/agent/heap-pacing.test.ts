import {strict as assert} from 'node:assert';
import {spawnSync} from 'node:child_process';
import {AGENT_HEAP_GROWING_PERCENT, heapGrowingFlag} from '../../../src/agent/heap-pacing.js';

describe('agent heap pacing', () => {
  it('sets a fixed growing factor unless node was started with one', () => {
    assert.equal(heapGrowingFlag([]), `--heap-growing-percent=${AGENT_HEAP_GROWING_PERCENT}`);
    assert.equal(heapGrowingFlag(['--max-semi-space-size=8', '--trace-gc']), `--heap-growing-percent=${AGENT_HEAP_GROWING_PERCENT}`);
    for (const own of ['--heap-growing-percent=0', '--heap_growing_percent=80', '--heap-growing-percent']) {
      assert.equal(heapGrowingFlag(['--max-semi-space-size=8', own]), undefined, own);
    }
    assert.equal(heapGrowingFlag(['--heap-growing-percentage=1']), '--heap-growing-percent=50', 'another flag');
  });

  it('is a flag this V8 knows: it sets without complaint, where an unknown one is reported on stderr', () => {
    const stderrOf = (flag: string) => spawnSync(process.execPath, ['-e', `require('node:v8').setFlagsFromString(${JSON.stringify(flag)})`], {encoding: 'utf8'}).stderr;
    assert.match(stderrOf('--no-such-vipcheck-flag=1'), /unrecognized flag/, 'the probe itself works');
    assert.equal(stderrOf(heapGrowingFlag([])!), '');
  });
});
