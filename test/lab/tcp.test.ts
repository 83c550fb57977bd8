/**
 * `vipcheck tcp` against real kernels in the namespace lab: every verdict, both roles, both exit-code modes,
 * JSON, thresholds, and the plugin's own failures.
 */
import assert from 'node:assert/strict';
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describeLab, runVipcheck, VIPCHECK_BIN, type VipcheckRun} from './harness.js';

const FIRST_LINE = /^VIPCHECK TCP (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| [^|\n]+)?$/;

function firstLine(run: VipcheckRun): string {
  return run.stdout.split('\n')[0]!;
}

/** Every run must honour the plugin contract: one well-formed first line, one `|` at most, nothing on stderr. */
function assertContract(run: VipcheckRun): void {
  assert.match(firstLine(run), FIRST_LINE, `stdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.ok(run.stdout.split('|').length <= 2, 'at most one | in the whole output');
  assert.equal(run.stderr, '', 'nothing on stderr');
  assert.equal(run.timedOut, false);
}

describeLab('tcp check through the VIP path', (s) => {
  const vip = () => s.lab.vip4;
  const rs = (name: 'good' | 'novip' | 'closed') => s.lab.hosts[name];
  const tcp = (name: 'good' | 'novip' | 'closed', ...extra: string[]) => [
    'tcp', '--vip', vip(), '--rs', rs(name).ipv4, '--port', '80', ...extra,
  ];

  it('is OK against a real server with the VIP on lo and a listener, naming the path and MAC', async () => {
    const run = await runVipcheck(s.lab, 'director', tcp('good'));
    assertContract(run);
    assert.equal(run.code, 0, run.stdout);
    assert.match(firstLine(run), /^VIPCHECK TCP OK - 198\.51\.100\.100:80 answered via 198\.51\.100\.11 \(02:00:00:00:00:11\) in [\d.]+ ms \| time=[\d.]+s;;;0;8$/);
    assert.match(run.stdout, /path: VIP path on eth0/);
  });

  it('is CRITICAL within the deadline against a real server without the VIP, while a RIP check stays green', async () => {
    const run = await runVipcheck(s.lab, 'director', tcp('novip', '--timeout', '1'));
    assertContract(run);
    assert.equal(run.code, 2, run.stdout);
    assert.match(firstLine(run), /CRITICAL - no answer from 198\.51\.100\.100:80 via 198\.51\.100\.12 \(02:00:00:00:00:12\) within 1 s to \d+ SYNs \(is the VIP configured/);
    assert.match(firstLine(run), /time=U;;;0;1$/);
    assert.ok(run.ms < 2500, `took ${run.ms} ms for a 1 s deadline`);
    // The blind spot vipcheck exists for: the ordinary check of RIP:port says all is well.
    const rip = await runVipcheck(s.lab, 'director', tcp('novip', '--role', 'backup'));
    assert.equal(rip.code, 0, rip.stdout);
    assert.match(rip.stdout, /kernel connect to RIP/);
  });

  it('is CRITICAL "refused" against a real server with the VIP and the port closed', async () => {
    const run = await runVipcheck(s.lab, 'director', tcp('closed'));
    assertContract(run);
    assert.equal(run.code, 2, run.stdout);
    assert.match(firstLine(run), /CRITICAL - 198\.51\.100\.100:80 refused the connection via 198\.51\.100\.13 .*nothing listens on port 80/);
  });

  it('is CRITICAL when the real server does not answer ARP at all', async () => {
    const run = await runVipcheck(s.lab, 'director', ['tcp', '--vip', vip(), '--rs', '198.51.100.99', '-p', '80', '-t', '1']);
    assertContract(run);
    assert.equal(run.code, 2, run.stdout);
    assert.match(firstLine(run), /real server 198\.51\.100\.99 did not answer ARP on eth0/);
  });

  it('skips ARP with --mac and completes an orderly close with --clean-close', async () => {
    const run = await runVipcheck(s.lab, 'director', tcp('good', '--mac', rs('good').mac, '--clean-close', '--json'));
    assert.equal(run.code, 0, run.stdout);
    const json = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(json['macOrigin'], 'static');
    assert.ok(!(json['details'] as string[]).some((d) => d.includes('did not close cleanly')), run.stdout);
  });

  it('works from a monitoring host that does not hold the VIP (its kernel RST goes to the VIP owner)', async () => {
    const run = await runVipcheck(s.lab, 'client', tcp('good', '-v'));
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /is not local here/);
    const novip = await runVipcheck(s.lab, 'client', tcp('novip', '-t', '0.5'));
    assert.equal(novip.code, 2, novip.stdout);
  });

  it('prints a packet trace at -vvv', async () => {
    const run = await runVipcheck(s.lab, 'director', tcp('good', '-vvv'));
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^ARP who-has 198\.51\.100\.11 tell 198\.51\.100\.2/m);
    assert.match(run.stdout, /^> 02:00:00:00:00:02 > 02:00:00:00:00:11 IPv4 198\.51\.100\.2\.\d+ > 198\.51\.100\.100\.80: Flags \[S\]/m);
    assert.match(run.stdout, /^< 02:00:00:00:00:11 > 02:00:00:00:00:02 IPv4 198\.51\.100\.100\.80 > 198\.51\.100\.2\.\d+: Flags \[S\.\]/m);
  });

  it('applies -w and -c to the response time', async () => {
    const warn = await runVipcheck(s.lab, 'director', tcp('good', '-w', '0:0.0000001'));
    assert.equal(warn.code, 1, warn.stdout);
    assert.match(firstLine(warn), /WARNING .*response time warning threshold.*time=[\d.]+s;0:0\.0000001;;0;8$/);
    const crit = await runVipcheck(s.lab, 'director', tcp('good', '-w', '5', '-c', '@0:5'));
    assert.equal(crit.code, 2, crit.stdout);
    const ok = await runVipcheck(s.lab, 'director', tcp('good', '-w', '2', '-c', '5'));
    assert.equal(ok.code, 0, ok.stdout);
  });

  it('gives JSON with status, code, summary, perfdata objects and the path', async () => {
    const run = await runVipcheck(s.lab, 'director', tcp('closed', '--json'));
    assert.equal(run.code, 2);
    const json = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(json['status'], 'CRITICAL');
    assert.equal(json['code'], 2);
    assert.equal(json['path'], 'vip');
    assert.equal(json['mac'], rs('closed').mac);
    assert.match(json['summary'] as string, /refused/);
    const perf = json['perfdata'] as Array<Record<string, unknown>>;
    assert.equal(perf[0]!['label'], 'time');
    assert.equal(perf[0]!['uom'], 's');
    assert.equal(perf[0]!['max'], 8, 'max is the default --timeout');
  });

  describe('exit codes for keepalived MISC_CHECK', () => {
    it('exits 0 for OK and WARNING, 1 for CRITICAL and UNKNOWN', async () => {
      const k = ['--exit-codes', 'keepalived'];
      assert.equal((await runVipcheck(s.lab, 'director', tcp('good', ...k))).code, 0);
      assert.equal((await runVipcheck(s.lab, 'director', tcp('good', ...k, '-w', '0:0.0000001'))).code, 0);
      assert.equal((await runVipcheck(s.lab, 'director', tcp('closed', ...k))).code, 1);
      assert.equal((await runVipcheck(s.lab, 'director', tcp('novip', ...k, '-t', '0.3'))).code, 1);
      assert.equal((await runVipcheck(s.lab, 'director', ['tcp', '--vip', 'nonsense', ...k])).code, 1);
    });
  });

  describe('roles', () => {
    let dir = '';
    after(() => {
      if (dir) rmSync(dir, {recursive: true, force: true});
    });
    const roleFile = (content: string) => {
      dir ||= mkdtempSync(join(tmpdir(), 'vipcheck-lab-role-'));
      const file = join(dir, `role-${Math.random().toString(16).slice(2)}`);
      writeFileSync(file, content);
      return file;
    };

    it('uses the VIP path when the role file says MASTER (or the old checkers\' 1)', async () => {
      for (const content of ['MASTER\n', '1']) {
        const run = await runVipcheck(s.lab, 'director', tcp('novip', '--role-file', roleFile(content), '-t', '0.5'));
        assert.equal(run.code, 2, run.stdout);
        assert.match(run.stdout, /VIP path .*role file .* says master/);
      }
    });

    it('uses a kernel connect to RIP:port with the same deadline on a backup', async () => {
      const run = await runVipcheck(s.lab, 'backup', tcp('good', '--role-file', roleFile(' backup ')));
      assertContract(run);
      assert.equal(run.code, 0, run.stdout);
      assert.match(firstLine(run), /OK - 198\.51\.100\.11:80 answered \(kernel connect to RIP\)/);
      const refused = await runVipcheck(s.lab, 'backup', tcp('closed', '--role', 'backup'));
      assert.equal(refused.code, 2);
      assert.match(firstLine(refused), /refused the connection \(kernel connect to RIP\)/);
      const json = JSON.parse((await runVipcheck(s.lab, 'backup', tcp('good', '--role', 'backup', '--json'))).stdout);
      assert.equal(json.path, 'rip');
    });

    it('the backup path times out at the deadline too', async () => {
      // Nothing answers ARP for .99: connect() hangs in the kernel until our deadline.
      const run = await runVipcheck(s.lab, 'backup', ['tcp', '--vip', vip(), '--rs', '198.51.100.99', '-p', '80', '--role', 'backup', '-t', '0.7']);
      assert.equal(run.code, 2, run.stdout);
      assert.match(firstLine(run), /no answer from 198\.51\.100\.99:80 \(kernel connect to RIP\) within 0\.7 s/);
      assert.ok(run.ms < 2000, `${run.ms} ms`);
    });

    it('role auto picks the VIP path where the VIP is local and the RIP path elsewhere', async () => {
      const onDirector = JSON.parse((await runVipcheck(s.lab, 'director', tcp('good', '--role', 'auto', '--json'))).stdout);
      assert.equal(onDirector.path, 'vip');
      const onBackup = JSON.parse((await runVipcheck(s.lab, 'backup', tcp('good', '--role', 'auto', '--json'))).stdout);
      assert.equal(onBackup.path, 'rip');
    });

    it('is UNKNOWN, quoting the file, when the role file holds neither role (never a RIP check taken for backup)', async () => {
      const file = roleFile('FAULT\n');
      const run = await runVipcheck(s.lab, 'director', tcp('novip', '--role-file', file, '--json'));
      assert.equal(run.code, 3, run.stdout);
      const json = JSON.parse(run.stdout) as Record<string, unknown>;
      assert.equal(json['path'], null, 'no path was tested');
      assert.equal(json['summary'], `role file ${file} holds 'FAULT', expected MASTER, BACKUP or the old checkers' single digit (1 = master, 0 = backup)`);
      const text = await runVipcheck(s.lab, 'director', tcp('good', '--role-file', roleFile('10')));
      assertContract(text);
      assert.equal(text.code, 3, text.stdout);
      assert.match(firstLine(text), /^VIPCHECK TCP UNKNOWN - role file \S+ holds '10', expected MASTER, BACKUP/);
    });

    it('is UNKNOWN with the reason when the role file cannot be read', async () => {
      const run = await runVipcheck(s.lab, 'director', tcp('good', '--role-file', '/nonexistent/role'));
      assertContract(run);
      assert.equal(run.code, 3);
      assert.match(firstLine(run), /UNKNOWN - cannot read role file \/nonexistent\/role: ENOENT/);
      const dirFile = roleFile('x');
      chmodSync(dirFile, 0o000);
      // root reads mode-000 files anyway; a directory is what an operator typo usually produces.
      const isDir = await runVipcheck(s.lab, 'director', tcp('good', '--role-file', dir));
      assert.equal(isDir.code, 3);
      assert.match(firstLine(isDir), /EISDIR/);
    });
  });

  describe('the plugin\'s own problems are UNKNOWN with one line', () => {
    it('no CAP_NET_RAW: says how to get it (root without the capability, as a service user would run)', async () => {
      for (const check of [['tcp', '--vip', vip(), '--rs', s.lab.hosts.good.ipv4, '-p', '80'], ['arp-audit', '--vip', vip()]]) {
        const r = await s.lab.exec('director', ['setpriv', '--bounding-set', '-net_raw', '--', process.execPath, VIPCHECK_BIN, ...check]);
        assert.equal(r.code, 3, r.stdout + r.stderr);
        assert.equal(r.stderr, '');
        assert.match(
          r.stdout,
          /^VIPCHECK (TCP|ARP-AUDIT) UNKNOWN - no permission to open a packet socket on eth0: run as root \(e\.g\. via sudo\) or give the service CAP_NET_RAW \(systemd AmbientCapabilities=CAP_NET_RAW\)\n$/,
        );
      }
    });

    const cases: Array<[string, string[], RegExp]> = [
      ['an unknown interface', ['-I', 'nosuch0'], /interface nosuch0 does not exist/],
      ['a real server that is not on-link', [], /no route to 203\.0\.113\.7|not on-link/],
      ['a bad range', ['-w', '5:1'], /--warning/],
      ['a bad timeout', ['-t', '0'], /--timeout/],
    ];
    for (const [what, extra, pattern] of cases) {
      it(what, async () => {
        const rsAddress = what.includes('on-link') ? '203.0.113.7' : s.lab.hosts.good.ipv4;
        const run = await runVipcheck(s.lab, 'director', ['tcp', '--vip', vip(), '--rs', rsAddress, '-p', '80', ...extra]);
        assertContract(run);
        assert.equal(run.code, 3, run.stdout);
        assert.match(firstLine(run), pattern);
        assert.equal(run.stdout.split('\n').filter(Boolean).length <= 2, true, run.stdout);
      });
    }
  });

  it('binds the subnet address for a kernel connect over IPv6, never the /128 VIP', async () => {
    const args = ['tcp', '--vip', s.lab.vip6, '--rs', s.lab.hosts.good.ipv6, '-p', '80', '--role', 'backup', '-vv', '-t', '2'];
    const run = await runVipcheck(s.lab, 'director', args);
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /kernel connect from 2001:db8:100::2/);
    const novip = await runVipcheck(s.lab, 'director', ['tcp', '--vip', s.lab.vip6, '--rs', s.lab.hosts.novip.ipv6, '-p', '80', '--role', 'backup']);
    assert.equal(novip.code, 0, 'the RIP path does not see the missing VIP: that is what the VIP path is for');
  });

  it('checks an IPv6 VIP through the real server MAC', async () => {
    const run = await runVipcheck(s.lab, 'director', ['tcp', '--vip', s.lab.vip6, '--rs', s.lab.hosts.good.ipv4, '-p', '80']);
    assert.equal(run.code, 0, run.stdout);
    assert.match(firstLine(run), /OK - \[2001:db8:100::100\]:80 answered via 198\.51\.100\.11 \(02:00:00:00:00:11\)/);
    const closed = await runVipcheck(s.lab, 'director', ['tcp', '--vip', s.lab.vip6, '--rs', s.lab.hosts.closed.ipv4, '-p', '80']);
    assert.equal(closed.code, 2, closed.stdout);
    assert.match(firstLine(closed), /refused/);
  });

  it('resolves an IPv6 real server by NDP and checks the IPv6 VIP through it', async () => {
    const good = await runVipcheck(s.lab, 'director', ['tcp', '--vip', s.lab.vip6, '--rs', s.lab.hosts.good.ipv6, '-p', '80', '-v', '--json']);
    assert.equal(good.code, 0, good.stdout);
    const json = JSON.parse(good.stdout);
    assert.equal(json.mac, s.lab.hosts.good.mac);
    assert.equal(json.macOrigin, 'ndp');
    assert.ok((json.verbose as string[]).some((l) => /resolved 2001:db8:100::11 to 02:00:00:00:00:11 by NDP/.test(l)), good.stdout);
    const novip = await runVipcheck(s.lab, 'director', ['tcp', '--vip', s.lab.vip6, '--rs', s.lab.hosts.novip.ipv6, '-p', '80', '-t', '0.6']);
    assert.equal(novip.code, 2, novip.stdout);
    assert.match(firstLine(novip), /no answer from \[2001:db8:100::100\]:80 via 2001:db8:100::12 \(02:00:00:00:00:12\)/);
    const nobody = await runVipcheck(s.lab, 'director', ['tcp', '--vip', s.lab.vip6, '--rs', '2001:db8:100::99', '-p', '80', '-t', '0.6']);
    assert.equal(nobody.code, 2, nobody.stdout);
    assert.match(firstLine(nobody), /real server 2001:db8:100::99 did not answer NDP on eth0/);
  });

  it('gives the same result through oclif as through the fast path', async () => {
    for (const args of [tcp('closed'), ['tcp', '--vip', vip()], tcp('good', '--bogus')]) {
      const fast = await runVipcheck(s.lab, 'director', args);
      const oclif = await runVipcheck(s.lab, 'director', args, {env: {VIPCHECK_OCLIF: '1'}});
      assert.equal(oclif.code, fast.code);
      assert.equal(
        oclif.stdout.replace(/[\d.]+ ?(ms|s)\b/g, 'T'),
        fast.stdout.replace(/[\d.]+ ?(ms|s)\b/g, 'T'),
      );
      assert.equal(oclif.stderr, '');
    }
  });
});
