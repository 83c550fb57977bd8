// `vipcheck ipvs-audit` through bin/run.cjs on this machine (needs `npm run build`): a usage error and, where the
// kernel has no ip_vs (as here), the one-line UNKNOWN that says what to load; the VM lab runs it on real IPVS
// (test/vm/ipvs-netlink.test.ts).
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {existsSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/run.cjs', import.meta.url));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'ipvs-audit', ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}});
  return {code: r.status, stdout: r.stdout, stderr: r.stderr};
}

describe('vipcheck ipvs-audit command', function () {
  it('refuses an unknown --on-down with one UNKNOWN line', function () {
    const r = run(['--on-down', 'bogus']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "VIPCHECK IPVS-AUDIT UNKNOWN - --on-down must be one of drain, remove (got 'bogus')\n");
  });

  it('says in one line that IPVS is not loaded, or judges the table when it is', function () {
    const r = run(['--json']);
    const json = JSON.parse(r.stdout) as {status: string; summary: string; details: string[]};
    if (!existsSync('/proc/net/ip_vs')) {
      assert.equal(r.code, 3, r.stderr);
      assert.deepEqual([json.status, json.summary], ['UNKNOWN', 'IPVS is not loaded (no generic netlink family IPVS): modprobe ip_vs']);
    } else {
      // A machine with ip_vs loaded: the audit ran on its real table.
      assert.ok([0, 1, 2].includes(r.code ?? -1), r.stdout);
      assert.match(json.summary, /services?, \d+ real servers?/);
    }
    assert.equal(r.stderr, '');
  });
});
