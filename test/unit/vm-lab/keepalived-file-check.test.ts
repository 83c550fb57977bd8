// keepalived FILE_CHECK on vipcheck agent's files, as the VM lab's scenario 4 runs it (src/lab/ipvs.ts,
// src/lab/vm/guest/keepalived-file-check.ts): the generated keepalived.conf, keepalived's own verdict on it, and
// docs/vm-lab.md showing exactly the files the scenario runs.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepalivedConfig, trackFileName, type KeepalivedVirtualServer } from '../../../src/lab/ipvs.js';
import { HOSTS, HTTP_PORT, VIP4 } from '../../../src/lab/topology.js';
import { AGENT_TIMING, fileCheckPath, scenarioAgentConfig, scenarioKeepalivedConfig, type ScenarioAddresses } from '../../../src/lab/vm/guest/keepalived-file-check.js';
import { REPO_ROOT } from '../../../src/lab/vm/scenarios.js';

const base: KeepalivedVirtualServer = {
  vip: '198.51.100.100',
  port: 80,
  realServers: ['198.51.100.11', '198.51.100.12'],
  check: { kind: 'FILE_CHECK', file: (rs) => `/run/vipcheck/web-${rs}.state` },
  delayLoopS: 5,
};

/** The addresses the scenario gets from createLab(). */
const LAB: ScenarioAddresses = { vip: VIP4, port: HTTP_PORT, realServers: { good: HOSTS.good.ipv4, novip: HOSTS.novip.ipv4, closed: HOSTS.closed.ipv4 } };

/** The fenced block right after `<!-- tested: NAME -->` in docs/vm-lab.md. */
function docBlock(name: string): string {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'vm-lab.md'), 'utf8');
  const at = doc.indexOf(`<!-- tested: ${name} -->`);
  assert.notEqual(at, -1, `docs/vm-lab.md has no <!-- tested: ${name} --> block`);
  const m = /^```[a-z]*\n([\s\S]*?)^```$/m.exec(doc.slice(at));
  assert.ok(m?.[1] !== undefined, `no fenced block after <!-- tested: ${name} -->`);
  return m[1];
}

function requireKeepalived(ctx: Mocha.Context): void {
  if (!spawnSync('keepalived', ['--version'], { encoding: 'utf8' }).error) return;
  const message = 'keepalived is not installed (scripts/install-vm-lab installs it)';
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true, so this is a failure, not a skip)`);
  console.warn(`      skipped: ${message}`);
  ctx.skip();
}

describe('VM lab: keepalived FILE_CHECK configuration', () => {
  it('declares a track_file per real server (weight 0, init_file 1, before the virtual_server) and a FILE_CHECK on it', () => {
    const conf = keepalivedConfig(base);
    for (const rs of base.realServers) {
      const name = trackFileName(rs);
      const decl = new RegExp(`^track_file ${name} \\{\\n    file "/run/vipcheck/web-${rs.replaceAll('.', '\\.')}\\.state"\\n    weight 0\\n    init_file 1\\n\\}$`, 'm');
      assert.match(conf, decl);
      assert.ok(conf.search(decl) < conf.indexOf('virtual_server'), 'declared before it is used');
      assert.match(conf, new RegExp(`real_server ${rs.replaceAll('.', '\\.')} 80 \\{\\n        weight 1\\n        FILE_CHECK \\{\\n            track_file ${name}\\n        \\}\\n    \\}`));
    }
    assert.equal(conf.match(/FILE_CHECK \{/g)?.length, 2);
    // No program runs, so no script security; no other checker competes with the file.
    assert.doesNotMatch(conf, /global_defs|script_user|TCP_CHECK|MISC_CHECK|^\s*alpha$/m);
    assert.match(keepalivedConfig({ ...base, check: { kind: 'FILE_CHECK', file: (rs) => `/x/${rs}`, initFile: 0 } }), /init_file 0$/m);
  });

  it('names track files apart per real server, IPv6 too, in keepalived-safe characters', () => {
    assert.equal(trackFileName('198.51.100.11'), 'vipcheck_198_51_100_11');
    assert.notEqual(trackFileName('198.51.100.11'), trackFileName('198.51.100.12'));
    assert.match(trackFileName('2001:db8:100::11'), /^vipcheck_[0-9A-Za-z_]+$/);
  });

  it('refuses a file keepalived would misread: relative, with a space or a quote; and a non-integer init value', () => {
    for (const path of ['run/x.state', '/run/my dir/x.state', '/run/"x".state']) {
      assert.throws(() => keepalivedConfig({ ...base, check: { kind: 'FILE_CHECK', file: () => path } }), /absolute path without quotes or spaces/, path);
    }
    assert.throws(() => keepalivedConfig({ ...base, check: { kind: 'FILE_CHECK', file: (rs) => `/x/${rs}`, initFile: 0.5 } }), /integer/);
  });

  it('the scenario: the agent file-check template and keepalived track the same files', () => {
    const agent = scenarioAgentConfig(LAB);
    const conf = scenarioKeepalivedConfig(LAB);
    const template = /^ {4}file-check: (\S+)$/m.exec(agent)?.[1] ?? '';
    assert.ok(template.includes('{rs}'), agent);
    for (const rs of Object.values(LAB.realServers)) {
      assert.equal(template.replace('{rs}', rs), fileCheckPath(rs));
      assert.match(conf, new RegExp(`file "${fileCheckPath(rs).replaceAll('.', '\\.')}"`));
    }
    const t = AGENT_TIMING;
    assert.match(agent, new RegExp(`defaults: \\{interval: ${t.intervalS}, timeout: ${t.timeoutS}, rise: ${t.rise}, fall: ${t.fall}\\}`));
  });

  it('docs/vm-lab.md shows exactly the keepalived.conf and agent configuration scenario 4 runs', () => {
    assert.equal(docBlock('keepalived-file-check keepalived.conf'), scenarioKeepalivedConfig(LAB));
    assert.equal(docBlock('keepalived-file-check agent.yaml'), scenarioAgentConfig(LAB));
  });

  it('writes a configuration keepalived itself accepts (keepalived --config-test), and the test can fail', function () {
    requireKeepalived(this);
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-keepalived-file-check-'));
    const test = (conf: string): { status: number | null; stderr: string } => {
      const path = join(dir, 'k.conf');
      writeFileSync(path, conf);
      return spawnSync('keepalived', ['--config-test', `--use-file=${path}`], { encoding: 'utf8', timeout: 10_000 });
    };
    try {
      for (const conf of [keepalivedConfig(base), scenarioKeepalivedConfig(LAB)]) {
        const r = test(conf);
        assert.equal(r.status, 0, `${conf}\n${r.stderr}`);
      }
      // A FILE_CHECK naming a track_file that was never declared.
      const undeclared = test(keepalivedConfig(base).replace(/^( {12}track_file )vipcheck_198_51_100_12$/m, '$1nope'));
      assert.notEqual(undeclared.status, 0);
      assert.match(undeclared.stderr, /track_file nope not found/);
      // A typo in the track_file block.
      assert.notEqual(test(keepalivedConfig(base).replace('init_file 1', 'init_fil 1')).status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
