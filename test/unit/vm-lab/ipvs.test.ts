// keepalived configuration and ipvsadm parsing for the VM lab's IPVS director (src/lab/ipvs.ts).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepalivedArgv, keepalivedConfig, parseIpvsadmList, type KeepalivedVirtualServer } from '../../../src/lab/ipvs.js';

// Verbatim `ipvsadm -L -n` from the VM lab's guest (ipvsadm 1.31, kernel 6.1), plus an IPv6 service.
const LISTING = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  198.51.100.100:80 rr
  -> 198.51.100.11:80             Route   1      0          3
  -> 198.51.100.12:80             Route   1      1          0
TCP  [2001:db8:100::100]:443 wrr
  -> [2001:db8:100::11]:443       Route   5      0          0
`;

const base: KeepalivedVirtualServer = {
  vip: '198.51.100.100',
  port: 80,
  realServers: ['198.51.100.11', '198.51.100.12'],
  check: { kind: 'TCP_CHECK', connectTimeoutS: 2, retry: 1, delayBeforeRetryS: 1 },
  delayLoopS: 5,
};

describe('VM lab: IPVS director helpers', () => {
  it('parses ipvsadm -L -n into services and real servers, IPv4 and IPv6', () => {
    const services = parseIpvsadmList(LISTING);
    assert.equal(services.length, 2);
    assert.deepEqual(services[0], {
      protocol: 'TCP',
      address: '198.51.100.100',
      port: 80,
      scheduler: 'rr',
      realServers: [
        { address: '198.51.100.11', port: 80, forward: 'Route', weight: 1, activeConn: 0, inactiveConn: 3 },
        { address: '198.51.100.12', port: 80, forward: 'Route', weight: 1, activeConn: 1, inactiveConn: 0 },
      ],
    });
    assert.equal(services[1]?.address, '2001:db8:100::100');
    assert.deepEqual(services[1]?.realServers.map((r) => [r.address, r.port, r.weight]), [['2001:db8:100::11', 443, 5]]);
  });

  it('parses an empty table, and refuses what it does not understand instead of dropping it', () => {
    assert.deepEqual(parseIpvsadmList(LISTING.split('\n').slice(0, 3).join('\n')), []);
    assert.throws(() => parseIpvsadmList('  -> 198.51.100.11:80 Route 1 0 0\n'), /before any service/);
    assert.throws(() => parseIpvsadmList('FWM  7 rr\n'), /unexpected line/);
  });

  it('writes one DR virtual server with a TCP_CHECK per real server, alpha only when asked', () => {
    const conf = keepalivedConfig(base);
    assert.match(conf, /virtual_server 198\.51\.100\.100 80 \{/);
    assert.match(conf, /lb_kind DR/);
    assert.match(conf, /delay_loop 5/);
    assert.equal(conf.match(/TCP_CHECK \{/g)?.length, 2);
    assert.match(conf, /real_server 198\.51\.100\.12 80 \{/);
    assert.doesNotMatch(conf, /^\s*alpha$/m);
    assert.match(keepalivedConfig({ ...base, alpha: true }), /^\s*alpha$/m);
  });

  it('writes MISC_CHECK with the per-server command, and refuses a command keepalived would misparse', () => {
    const misc = { ...base, check: { kind: 'MISC_CHECK', command: (rs: string) => `/usr/bin/check --rs ${rs}`, timeoutS: 20 } } as const;
    const conf = keepalivedConfig(misc);
    assert.match(conf, /misc_path "\/usr\/bin\/check --rs 198\.51\.100\.11"/);
    assert.match(conf, /misc_timeout 20/);
    assert.match(conf, /enable_script_security/);
    assert.throws(() => keepalivedConfig({ ...misc, check: { ...misc.check, command: () => 'sh -c "x"' } }), /double quote/);
  });

  it('keeps keepalived in the foreground, checkers only, without respawning', () => {
    const argv = keepalivedArgv('/run/x/keepalived.conf', '/run/x');
    for (const flag of ['--dont-fork', '--check', '--dont-respawn', '--use-file=/run/x/keepalived.conf', '--pid=/run/x/keepalived.pid']) {
      assert.ok(argv.includes(flag), flag);
    }
  });

  it('writes configurations keepalived itself accepts (keepalived --config-test)', function () {
    const probe = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      const message = 'keepalived is not installed (scripts/install-vm-lab installs it)';
      if (process.env.CI === 'true') throw new Error(`${message} (CI=true, so this is a failure, not a skip)`);
      console.warn(`      skipped: ${message}`);
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-keepalived-conf-'));
    try {
      const configs = [
        keepalivedConfig({ ...base, alpha: true }),
        keepalivedConfig({ ...base, check: { kind: 'MISC_CHECK', command: (rs) => `/usr/bin/true ${rs}`, timeoutS: 20 } }),
      ];
      for (const [i, conf] of configs.entries()) {
        const path = join(dir, `k${i}.conf`);
        writeFileSync(path, conf);
        const r = spawnSync('keepalived', ['--config-test', `--use-file=${path}`], { encoding: 'utf8', timeout: 10_000 });
        assert.equal(r.status, 0, `${conf}\n${r.stderr}`);
      }
      // And the test can fail: an unknown keyword is reported.
      const bad = join(dir, 'bad.conf');
      writeFileSync(bad, configs[0]!.replace('delay_loop', 'delay_lop'));
      assert.notEqual(spawnSync('keepalived', ['--config-test', `--use-file=${bad}`], { encoding: 'utf8', timeout: 10_000 }).status, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
