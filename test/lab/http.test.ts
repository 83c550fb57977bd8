/**
 * The HTTP checks and `tcp --send/--expect` through the VIP path against real servers in the lab: Python's
 * http.server, Node (chunked 1 MiB), nginx from Debian over TLS, raw servers (LF-only, close-delimited, banner,
 * Redis), error statuses, redirects, a slow server, the missing-VIP server, and 5% loss on the server's egress.
 */
import assert from 'node:assert/strict';
import {join} from 'node:path';
import {VIPCHECK_BIN, describeLab, runVipcheck, type VipcheckRun} from './harness.js';
import {
  FIXTURE_PORTS,
  TLS_NAME,
  TLS_PORT,
  addEgressDuplicates,
  addEgressLoss,
  fixtureBodyMd5,
  makeCertificates,
  removeEgressDuplicates,
  removeEgressLoss,
  startFixtureServers,
  startNginxTls,
  type TlsFixture,
} from '../support/lab-services.js';

const MIB = 1024 * 1024;
const MIB_MD5 = fixtureBodyMd5(MIB);

function firstLine(run: VipcheckRun): string {
  return run.stdout.split('\n')[0]!;
}

function assertContract(run: VipcheckRun, check: string): void {
  assert.match(firstLine(run), new RegExp(`^VIPCHECK ${check} (OK|WARNING|CRITICAL|UNKNOWN) - [^|\\n]+( \\| [^|\\n]+)?$`), run.stdout + run.stderr);
  assert.ok(run.stdout.split('|').length <= 2, `more than one | in: ${run.stdout}`);
  assert.equal(run.stderr, '');
  assert.equal(run.timedOut, false);
}

describeLab(
  'http, http-status and tcp --send/--expect through the VIP path',
  (s) => {
    let tls: TlsFixture;
    before(async function () {
      this.timeout(30_000);
      await startFixtureServers(s.lab, 'good');
      tls = makeCertificates(join(s.lab.tmpDir, 'tls'), s.lab.vip4);
      await startNginxTls(s.lab, 'good', tls);
    });

    const good = () => s.lab.hosts.good.ipv4;
    const http = (check: 'http' | 'http-status', port: number, ...extra: string[]) => [check, '--vip', s.lab.vip4, '--rs', good(), '--port', String(port), ...extra];

    describe('http-status', () => {
      it("is OK against Python's http.server and reports the status", async () => {
        const run = await runVipcheck(s.lab, 'director', http('http-status', 80));
        assertContract(run, 'HTTP-STATUS');
        assert.equal(run.code, 0, run.stdout);
        assert.match(firstLine(run), /OK - HTTP\/1\.0 200 OK in [\d.]+ s via 198\.51\.100\.11 \(02:00:00:00:00:11\) \| time=[\d.]+s;;;0;8 status=200$/);
      });

      it('accepts a redirect by default (200-399) and not with --status 200', async () => {
        assert.equal((await runVipcheck(s.lab, 'director', http('http-status', 8080, '--path', '/redirect'))).code, 0);
        const strict = await runVipcheck(s.lab, 'director', http('http-status', 8080, '--path', '/redirect', '--status', '200'));
        assert.equal(strict.code, 2);
        assert.match(firstLine(strict), /status 301 is not in 200/);
      });

      it('is CRITICAL for a 500', async () => {
        const run = await runVipcheck(s.lab, 'director', http('http-status', 8080, '-u', '/status/500'));
        assert.equal(run.code, 2, run.stdout);
        assert.match(firstLine(run), /HTTP\/1\.1 500 Internal Server Error .*status 500 is not in 200-399.*status=500$/);
      });

      it('is CRITICAL without waiting past the deadline against the server without the VIP', async () => {
        const run = await runVipcheck(s.lab, 'director', ['http-status', '--vip', s.lab.vip4, '--rs', s.lab.hosts.novip.ipv4, '-p', '80', '-t', '1']);
        assertContract(run, 'HTTP-STATUS');
        assert.equal(run.code, 2);
        assert.match(firstLine(run), /timed out connecting via 198\.51\.100\.12 .*is the VIP configured/);
        assert.ok(run.ms < 2500, `${run.ms} ms`);
      });

      it('speaks HTTPS to nginx with the CA given, and fails verification without it', async () => {
        const base = http('http-status', TLS_PORT, '--tls', '--host', TLS_NAME, '-u', '/health');
        const verified = await runVipcheck(s.lab, 'director', [...base, '--ca-file', tls.caFile, '-v']);
        assert.equal(verified.code, 0, verified.stdout);
        assert.match(verified.stdout, /TLS TLSv1\.3 .*certificate www\.example\.test/);
        const unverified = await runVipcheck(s.lab, 'director', base);
        assert.equal(unverified.code, 2, unverified.stdout);
        assert.match(firstLine(unverified), /TLS failed: .*(self.signed|unable to|certificate)/i);
        const insecure = await runVipcheck(s.lab, 'director', [...base, '--insecure']);
        assert.equal(insecure.code, 0, insecure.stdout);
      });
    });

    describe('http', () => {
      it('checks a 1 MiB chunked body from Node by MD5 and size', async () => {
        const run = await runVipcheck(s.lab, 'director', http('http', 8080, '-u', `/chunked?bytes=${MIB}`, '--digest', MIB_MD5, '--size', `${MIB}:${MIB}`, '-E'));
        assertContract(run, 'HTTP');
        assert.equal(run.code, 0, run.stdout);
        assert.match(firstLine(run), new RegExp(`HTTP/1\\.1 200 OK, ${MIB} B in`));
        assert.match(firstLine(run), /size=1048576B;;;0 time_connect=[\d.]+s;;;0;8 time_tls=U;;;0;8 time_headers=[\d.]+s/);
      });

      it('checks the same body against real servers with an older TCP (no timestamps, SACK or window scaling, MTU 1280) and with SYN cookies', async () => {
        const variants: Array<[string, Record<string, number>, number, RegExp]> = [
          ['no timestamps', {'net.ipv4.tcp_timestamps': 0}, 1500, /negotiated MSS 1460 \(peer offered 1460\), window scale \d+ \(peer\) \/ \d+ \(ours\), SACK, no timestamps/],
          ['no SACK', {'net.ipv4.tcp_sack': 0}, 1500, /, no SACK, timestamps/],
          ['no window scaling', {'net.ipv4.tcp_window_scaling': 0}, 1500, /, no window scaling, SACK, timestamps/],
          // A server under SYN flood answers with SYN cookies: the options it agreed to live in the cookie.
          ['SYN cookies always', {'net.ipv4.tcp_syncookies': 2}, 1500, /negotiated MSS 1460 \(peer offered 1460\), window scale \d+ \(peer\) \/ \d+ \(ours\), SACK, timestamps/],
          [
            'none of the three, MTU 1280',
            {'net.ipv4.tcp_timestamps': 0, 'net.ipv4.tcp_sack': 0, 'net.ipv4.tcp_window_scaling': 0},
            1280,
            /negotiated MSS 1240 \(peer offered 1240\), no window scaling, no SACK, no timestamps/,
          ],
        ];
        /** The good server's count of SYN cookies sent (nstat, absolute). */
        const syncookiesSent = async () => {
          const r = await s.lab.execOk('good', ['nstat', '-az', 'TcpExtSyncookiesSent']);
          return Number(/TcpExtSyncookiesSent\s+(\d+)/.exec(r.stdout)?.[1] ?? NaN);
        };
        for (const [what, sysctls, mtu, negotiated] of variants) {
          const saved: Record<string, string> = {};
          for (const key of Object.keys(sysctls)) saved[key] = await s.lab.getSysctl('good', key);
          try {
            for (const [key, value] of Object.entries(sysctls)) await s.lab.setSysctl('good', key, value);
            await s.lab.execOk('good', ['ip', 'link', 'set', 'eth0', 'mtu', String(mtu)]);
            const cookiesBefore = await syncookiesSent();
            const run = await runVipcheck(s.lab, 'director', http('http', 8080, '-u', `/chunked?bytes=${MIB}`, '--digest', MIB_MD5, '-vv'));
            assert.equal(run.code, 0, `${what}: ${run.stdout}`);
            if ('net.ipv4.tcp_syncookies' in sysctls) assert.ok((await syncookiesSent()) > cookiesBefore, 'the server answered with a SYN cookie');
            assert.match(firstLine(run), new RegExp(`HTTP/1\\.1 200 OK, ${MIB} B in`), what);
            assert.match(run.stdout, negotiated, `${what}: the real server's TCP really changed`);
            assert.match(run.stdout, /bulk receive on eth0: [1-9]\d* segment\(s\) taken/, `${what}: the offload took part of the body: ${run.stdout}`);
          } finally {
            for (const [key, value] of Object.entries(saved)) await s.lab.setSysctl('good', key, value);
            await s.lab.execOk('good', ['ip', 'link', 'set', 'eth0', 'mtu', '1500']);
          }
        }
      });

      it('finds a wrong digest, a missing string and a failed regex, each as CRITICAL', async () => {
        const run = await runVipcheck(s.lab, 'director', http('http', 8080, '--digest', '0'.repeat(32), '-s', 'nope', '--regex-i', '^HELLO FROM NGINX'));
        assert.equal(run.code, 2, run.stdout);
        assert.match(run.stdout, /CRITICAL: string 'nope' not found in the body/);
        assert.match(run.stdout, /CRITICAL: body MD5 [0-9a-f]{32} differs/);
        assert.match(run.stdout, /CRITICAL: body does not match/);
        assert.match(run.stdout, /body starts: hello from node/);
      });

      it('matches headers case-insensitively by name, and inverts a regex', async () => {
        const ok = await runVipcheck(s.lab, 'director', http('http', 8080, '--header-match', 'Server: ^vipcheck-lab', '--regex', 'nginx', '--invert-regex'));
        assert.equal(ok.code, 0, ok.stdout);
        const bad = await runVipcheck(s.lab, 'director', http('http', 8080, '--header-match', 'X-Missing: .'));
        assert.equal(bad.code, 2);
        assert.match(firstLine(bad), /header x-missing is missing/);
      });

      it('grades statuses like check_curl without --status: 4xx WARNING, 5xx CRITICAL, 3xx OK', async () => {
        assert.equal((await runVipcheck(s.lab, 'director', http('http', 8080, '-u', '/status/404'))).code, 1);
        assert.equal((await runVipcheck(s.lab, 'director', http('http', 8080, '-u', '/status/503'))).code, 2);
        assert.equal((await runVipcheck(s.lab, 'director', http('http', 8080, '-u', '/redirect'))).code, 0);
        assert.equal((await runVipcheck(s.lab, 'director', http('http', 8080, '-u', '/status/404', '-e', '404'))).code, 0);
      });

      it('accepts LF-only and close-delimited responses', async () => {
        const lf = await runVipcheck(s.lab, 'director', http('http', FIXTURE_PORTS.lfOnly, '-s', 'LF-only body'));
        assert.equal(lf.code, 0, lf.stdout);
        const closeDelimited = await runVipcheck(s.lab, 'director', http('http', FIXTURE_PORTS.closeDelimited, '-s', 'close-delimited body'));
        assert.equal(closeDelimited.code, 0, closeDelimited.stdout);
        assert.match(firstLine(closeDelimited), /HTTP\/1\.0 200 OK, 21 B/);
      });

      it('keeps server text with | out of the perfdata', async () => {
        const run = await runVipcheck(s.lab, 'director', http('http', 8080, '-u', '/pipe', '-s', 'absent'));
        assertContract(run, 'HTTP');
        assert.match(run.stdout, /body starts: a\/b\/c server text with pipes/);
      });

      it('times out a slow server at the deadline, CRITICAL, naming the phase', async () => {
        const run = await runVipcheck(s.lab, 'director', http('http', 8080, '-u', '/slow?ms=5000', '-t', '1'));
        assertContract(run, 'HTTP');
        assert.equal(run.code, 2);
        assert.match(firstLine(run), /timed out waiting for the response/);
        assert.ok(run.ms < 2500, `${run.ms} ms`);
      });

      it('warns on response time and on certificate expiry', async () => {
        const slow = await runVipcheck(s.lab, 'director', http('http', 8080, '-u', '/slow?ms=300', '-w', '0.2', '-c', '2'));
        assert.equal(slow.code, 1, slow.stdout);
        const cert = await runVipcheck(s.lab, 'director', http('http', TLS_PORT, '-S', '--host', TLS_NAME, '--ca-file', tls.caFile, '--cert-days', '60,10'));
        assert.equal(cert.code, 1, cert.stdout);
        assert.match(firstLine(cert), /certificate expires in (29|30)\.\d days/);
      });

      it('checks a 1 MiB body correctly with 5% loss on the real server egress', async () => {
        await addEgressLoss(s.lab, 'good', 8080, 5);
        try {
          // At least three runs, and on until one has lost a frame that others followed (the engine then holds
          // them out of order, with the bulk receive offload paused, and takes over again after the repair).
          let reordered = 0;
          for (let i = 0; i < 3 || (reordered === 0 && i < 12); i++) {
            const run = await runVipcheck(s.lab, 'director', http('http', 8080, '-u', `/chunked?bytes=${MIB}`, '--digest', MIB_MD5, '-t', '20', '-vv'), {timeoutMs: 30_000});
            assert.equal(run.code, 0, run.stdout);
            assert.match(run.stdout, /bulk receive on eth0: [1-9]\d* segment\(s\) taken/, 'the offload took part of the body');
            reordered += Number(/\((\d+) out of order/.exec(run.stdout)?.[1] ?? NaN);
          }
          assert.ok(reordered > 0, 'a loss left segments out of order in some run');
        } finally {
          await removeEgressLoss(s.lab);
        }
      });

      it('reports segments that arrive twice as D-SACKs, which the real server\'s Linux counts, and reads the body once', async () => {
        // RFC 2883: a sender that learns its retransmission was spurious undoes the window cut it made for it.
        const dsacksReceived = async () => Number(/TcpExtTCPDSACKRecv\s+(\d+)/.exec((await s.lab.execOk('good', ['nstat', '-az', 'TcpExtTCPDSACKRecv'])).stdout)?.[1] ?? NaN);
        const before = await dsacksReceived();
        await addEgressDuplicates(s.lab, 'good', 8080);
        try {
          const run = await runVipcheck(s.lab, 'director', http('http', 8080, '-u', `/chunked?bytes=${MIB}`, '--digest', MIB_MD5));
          assert.equal(run.code, 0, run.stdout);
        } finally {
          await removeEgressDuplicates(s.lab, 'good');
        }
        const after = await dsacksReceived();
        assert.ok(after > before, `TcpExtTCPDSACKRecv ${before} -> ${after}`);
      });

      it('uses a kernel connect to RIP:port on a backup director', async () => {
        const run = await runVipcheck(s.lab, 'backup', http('http', 8080, '--role', 'auto', '-s', 'hello'));
        assert.equal(run.code, 0, run.stdout);
        assert.match(firstLine(run), /\(kernel connect to RIP 198\.51\.100\.11:8080\)/);
        assert.equal(JSON.parse((await runVipcheck(s.lab, 'backup', http('http', 8080, '--role', 'backup', '--json'))).stdout).path, 'rip');
      });

      it('survives the kernel RST trap from a host without the VIP whose neighbour entry for it is the real server', async () => {
        // The client caches the real server's MAC for the VIP (as after an arp_ignore=0 fault): its kernel's RSTs
        // to the VIP would reach the real server and reset our conversation, unless vipcheck drops them.
        await s.lab.execOk('client', ['ip', 'neigh', 'replace', s.lab.vip4, 'lladdr', s.lab.hosts.good.mac, 'dev', 'eth0', 'nud', 'permanent']);
        // A table left by a SIGKILLed check (nothing listens on its port) is removed by the next guarded run.
        await s.lab.execOk('client', ['nft', 'add', 'table', 'inet', 'vipcheck_rst_1']);
        try {
          const guarded = await runVipcheck(s.lab, 'client', http('http', 80, '-vv'));
          assert.equal(guarded.code, 0, guarded.stdout);
          assert.match(guarded.stdout, /dropping this host's RSTs from port \d+ to 198\.51\.100\.100/);
          const tables = await s.lab.execOk('client', ['nft', 'list', 'tables']);
          assert.doesNotMatch(tables.stdout, /vipcheck_rst/, 'the guard is removed after the check');
          // Without nft on PATH the guard cannot be installed, and the trap springs.
          const unguarded = await s.lab.exec('client', ['env', 'PATH=/nonexistent', process.execPath, VIPCHECK_BIN, ...http('http', 80, '-t', '3')]);
          assert.equal(unguarded.code, 2, unguarded.stdout);
          assert.match(unguarded.stdout, /connection reset by the server/);
        } finally {
          await s.lab.exec('client', ['ip', 'neigh', 'del', s.lab.vip4, 'dev', 'eth0']);
        }
      });

      it('removes the RST guard and reports at once when keepalived SIGTERMs the check', async () => {
        const child = s.lab.spawn('client', [process.execPath, VIPCHECK_BIN, ...http('http', 8080, '-u', '/slow?ms=5000', '-vv')], {stdio: ['ignore', 'pipe', 'pipe']});
        let stdout = '';
        child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        // Wait until the guard is in place (the request is then waiting on the slow server), then stop the check.
        const deadline = Date.now() + 5000;
        while (!/vipcheck_rst/.test((await s.lab.execOk('client', ['nft', 'list', 'tables'])).stdout)) {
          assert.ok(Date.now() < deadline, 'the guard table never appeared');
          await new Promise((r) => setTimeout(r, 20));
        }
        const killedAt = Date.now();
        child.kill('SIGTERM');
        const code = await exited;
        assert.ok(Date.now() - killedAt < 1000, `took ${Date.now() - killedAt} ms to stop`);
        assert.equal(code, 3);
        assert.match(stdout, /^VIPCHECK HTTP UNKNOWN - interrupted by SIGTERM/);
        assert.doesNotMatch((await s.lab.execOk('client', ['nft', 'list', 'tables'])).stdout, /vipcheck_rst/);
      });

      it('works over an IPv6 VIP and real server', async () => {
        const run = await runVipcheck(s.lab, 'director', ['http', '--vip', s.lab.vip6, '--rs', s.lab.hosts.good.ipv6, '-p', '8080', '-s', 'hello from node']);
        assert.equal(run.code, 0, run.stdout);
        assert.match(firstLine(run), /via 2001:db8:100::11 \(02:00:00:00:00:11\)/);
        const bulk = await runVipcheck(s.lab, 'director', ['http', '--vip', s.lab.vip6, '--rs', s.lab.hosts.good.ipv6, '-p', '8080', '-u', `/chunked?bytes=${MIB}`, '--digest', MIB_MD5, '-vv']);
        assert.equal(bulk.code, 0, bulk.stdout);
        assert.match(bulk.stdout, /bulk receive on eth0: [1-9]\d* segment\(s\) taken/, `the offload took part of the body over IPv6: ${bulk.stdout}`);
      });
    });

    describe('tcp --send/--expect', () => {
      const tcp = (port: number, ...extra: string[]) => ['tcp', '--vip', s.lab.vip4, '--rs', good(), '--port', String(port), ...extra];

      it('reads a banner (server speaks first)', async () => {
        const run = await runVipcheck(s.lab, 'director', tcp(FIXTURE_PORTS.banner, '--expect', 'SSH-2.0'));
        assertContract(run, 'TCP');
        assert.equal(run.code, 0, run.stdout);
        assert.match(firstLine(run), /answered via 198\.51\.100\.11 \(02:00:00:00:00:11\) in [\d.]+ ms: 'SSH-2\.0-vipcheck-lab_1\.0'/);
      });

      it('sends a request, expects the answer and says QUIT', async () => {
        const run = await runVipcheck(s.lab, 'director', tcp(FIXTURE_PORTS.redis, '--send', 'PING\\r\\n', '--expect', '+PONG', '--quit', 'QUIT\\r\\n'));
        assert.equal(run.code, 0, run.stdout);
      });

      it('is WARNING on a mismatch by default, as --mismatch says otherwise', async () => {
        const warn = await runVipcheck(s.lab, 'director', tcp(FIXTURE_PORTS.banner, '--expect', 'SMTP', '-t', '1'));
        assert.equal(warn.code, 1, warn.stdout);
        assert.match(firstLine(warn), /not as expected: 'SSH-2\.0/);
        const crit = await runVipcheck(s.lab, 'director', tcp(FIXTURE_PORTS.banner, '--expect', 'SMTP', '--mismatch', 'critical', '-t', '1'));
        assert.equal(crit.code, 2);
        const all = await runVipcheck(s.lab, 'director', tcp(FIXTURE_PORTS.banner, '--expect', 'SSH', '--expect', 'lab', '--expect-all', '--expect-regex', '^SSH-\\d'));
        assert.equal(all.code, 0, all.stdout);
      });

      it('is CRITICAL when the VIP is missing or the port closed', async () => {
        const novip = await runVipcheck(s.lab, 'director', ['tcp', '--vip', s.lab.vip4, '--rs', s.lab.hosts.novip.ipv4, '-p', '80', '--send', 'x', '-t', '0.8']);
        assert.equal(novip.code, 2, novip.stdout);
        assert.match(firstLine(novip), /no answer from 198\.51\.100\.100:80 via 198\.51\.100\.12/);
        const closed = await runVipcheck(s.lab, 'director', tcp(9, '--expect', 'x'));
        assert.equal(closed.code, 2);
        assert.match(firstLine(closed), /refused the connection/);
      });
    });
  },
  {timeoutMs: 90_000},
);
