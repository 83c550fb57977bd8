/**
 * vipcheck under a real NRPE, set up the way docs/monitoring.md says, with every timeout at its default:
 * Debian's nrpe (nagios-nrpe-server) runs in the director's namespace as the nagios user with
 * `command_prefix=/usr/bin/sudo`, every command is a root-owned wrapper script with fixed arguments that sudoers
 * allows with no arguments at all, and check_nrpe (nagios-nrpe-plugin) asks from the client namespace, as a
 * Nagios server on the segment would, with its default 10 s socket timeout. A real server without the VIP must
 * come back as vipcheck's own CRITICAL, not as check_nrpe's "Socket timeout".
 *
 * The sudoers policy is a temporary file bind-mounted over /etc/sudoers inside a private mount namespace that
 * only nrpe and its children live in (`unshare --mount`): the machine's own sudoers is never touched, and the
 * mount disappears with the last of those processes, even when this test is killed. All files live in the lab's
 * scratch directory, which the lab removes on teardown (and stale-lab cleanup after a SIGKILL).
 */
import assert from 'node:assert/strict';
import type {ChildProcess} from 'node:child_process';
import {accessSync, chmodSync, chownSync, constants, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {runOk, sleep, Tail, waitForExit, type RunResult} from '../../src/lab/proc.js';
import {describeLab, VIPCHECK_BIN} from './harness.js';

const NRPE = '/usr/sbin/nrpe';
const CHECK_NRPE = '/usr/lib/nagios/plugins/check_nrpe';
const SUDO = '/usr/bin/sudo';
const NRPE_PORT = 5666;
/** check_nrpe's own default socket timeout, which the whole check must beat. */
const CHECK_NRPE_DEFAULT_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 10_000;

/** Fails with what to install, rather than with a confusing ENOENT from deep inside the test. */
function assertNrpeInstalled(): void {
  for (const file of [NRPE, CHECK_NRPE, SUDO, '/usr/sbin/visudo']) {
    try {
      accessSync(file, constants.X_OK);
    } catch {
      throw new Error(`${file} is missing: the NRPE lab test needs nagios-nrpe-server, nagios-nrpe-plugin and sudo (./scripts/install)`);
    }
  }
}

/** uid and gid of a local user, from /etc/passwd (the nagios user comes with nagios-nrpe-server). */
function localUser(name: string): {uid: number; gid: number} {
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
  if (!entry) throw new Error(`no user ${name} (it comes with nagios-nrpe-server: ./scripts/install)`);
  return {uid: Number(entry[2]), gid: Number(entry[3])};
}

describeLab('vipcheck through a real NRPE with default timeouts', (s) => {
  let nrpe: ChildProcess | undefined;
  const nrpeOutput = new Tail(4096);
  let dir = '';

  const director = () => s.lab.hosts.director.ipv4;
  const logs = () => `nrpe output: ${nrpeOutput.toString().trim() || '(none)'}\nnrpe log: ${readFileSync(join(dir, 'nrpe.log'), 'utf8').trim() || '(empty)'}`;

  /** check_nrpe from the client namespace with nothing but host and command: no -t, no -u, SSL as shipped. */
  const checkNrpe = (...args: string[]): Promise<RunResult> =>
    s.lab.exec('client', [CHECK_NRPE, '-H', director(), ...args], {timeoutMs: CHECK_NRPE_DEFAULT_TIMEOUT_MS + 5_000});

  before(async () => {
    assertNrpeInstalled();
    const nagios = localUser('nagios');
    // Root-owned and not writable by nagios, as the docs require of everything sudo runs as root.
    dir = join(s.lab.tmpDir, 'nrpe');
    mkdirSync(dir, {mode: 0o755});
    chmodSync(dir, 0o755);
    const {vip4} = s.lab;
    const wrappers = {
      check_vip_good: ['tcp', '--vip', vip4, '--rs', s.lab.hosts.good.ipv4, '--port', '80', '--role', 'auto'],
      check_vip_novip: ['tcp', '--vip', vip4, '--rs', s.lab.hosts.novip.ipv4, '--port', '80', '--role', 'auto'],
    };
    const commands: string[] = [];
    const sudoCommands: string[] = [];
    for (const [name, args] of Object.entries(wrappers)) {
      const wrapper = join(dir, name);
      // The wrapper takes no arguments of its own: what runs as root is fixed here.
      writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} ${VIPCHECK_BIN} ${args.join(' ')}\n`, {mode: 0o755});
      commands.push(`command[${name}]=${wrapper}`);
      sudoCommands.push(`${wrapper} ""`);
    }
    // Debian's defaults (env_reset keeps NODE_OPTIONS and friends away from a root Node process), then the rule
    // docs/monitoring.md gives: exactly these wrappers, and `""` = with no arguments.
    const sudoers = join(dir, 'sudoers');
    writeFileSync(
      sudoers,
      [
        'Defaults env_reset',
        'Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
        'Defaults use_pty',
        `Cmnd_Alias VIPCHECK_NRPE = ${sudoCommands.join(', ')}`,
        'nagios ALL=(root) NOPASSWD: VIPCHECK_NRPE',
        '',
      ].join('\n'),
      {mode: 0o440},
    );
    chmodSync(sudoers, 0o440);
    await runOk(['visudo', '-c', '-q', '-f', sudoers]);
    // nrpe opens its log after dropping to nagios.
    const log = join(dir, 'nrpe.log');
    writeFileSync(log, '', {mode: 0o644});
    chownSync(log, nagios.uid, nagios.gid);
    const config = join(dir, 'nrpe.cfg');
    writeFileSync(
      config,
      [
        `server_address=${director()}`,
        `server_port=${NRPE_PORT}`,
        `allowed_hosts=${s.lab.hosts.client.ipv4}`,
        'nrpe_user=nagios',
        'nrpe_group=nagios',
        'dont_blame_nrpe=0',
        'allow_bash_command_substitution=0',
        `command_prefix=${SUDO}`,
        // Debian's shipped values: the command may run 60 s, so only check_nrpe's 10 s can cut a check short.
        'command_timeout=60',
        'connection_timeout=300',
        `log_file=${log}`,
        'debug=1',
        ...commands,
        '',
      ].join('\n'),
      {mode: 0o644},
    );
    const script = `mount --bind ${sudoers} /etc/sudoers && exec ${NRPE} -c ${config} -f`;
    nrpe = s.lab.spawn('director', ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script]);
    nrpe.stdout?.setEncoding('utf8').on('data', (t: string) => nrpeOutput.push(t));
    nrpe.stderr?.setEncoding('utf8').on('data', (t: string) => nrpeOutput.push(t));
    // Ready when check_nrpe without a command gets nrpe's version back.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (nrpe.exitCode !== null) throw new Error(`nrpe exited with ${nrpe.exitCode}\n${logs()}`);
      const hello = await checkNrpe();
      if (hello.code === 0 && /^NRPE v/.test(hello.stdout)) break;
      if (Date.now() > deadline) throw new Error(`nrpe not ready after ${READY_TIMEOUT_MS} ms: ${hello.stdout}${hello.stderr}\n${logs()}`);
      await sleep(100);
    }
  });

  after(async () => {
    // The lab kills it too; stopping it here first keeps the order obvious: nrpe, then its namespace.
    if (nrpe && nrpe.exitCode === null && nrpe.signalCode === null) {
      nrpe.kill('SIGTERM');
      if (!(await waitForExit(nrpe, 2_000))) nrpe.kill('SIGKILL');
    }
  });

  it("left the machine's own sudoers alone (the bind mount is nrpe's private one)", () => {
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(dir), 'no mount of the test directory here');
  });

  it('is OK for a real server with the VIP', async () => {
    const r = await checkNrpe('-c', 'check_vip_good');
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}\n${logs()}`);
    assert.match(r.stdout, /^VIPCHECK TCP OK - 198\.51\.100\.100:80 answered via 198\.51\.100\.11 \(02:00:00:00:00:11\) in [\d.]+ ms \| time=[\d.]+s;;;0;8\n/);
    assert.match(r.stdout, /\npath: VIP path on eth0 \(role auto: 198\.51\.100\.100 is local \(master\)\)\n/);
  });

  it("is vipcheck's own CRITICAL, inside check_nrpe's 10 s, for a real server without the VIP", async function () {
    this.timeout(CHECK_NRPE_DEFAULT_TIMEOUT_MS + 10_000);
    const started = performance.now();
    const r = await checkNrpe('-c', 'check_vip_novip');
    const ms = performance.now() - started;
    assert.doesNotMatch(r.stdout, /Socket timeout/, `check_nrpe gave up before vipcheck answered, after ${Math.round(ms)} ms`);
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}\n${logs()}`);
    assert.match(
      r.stdout,
      /^VIPCHECK TCP CRITICAL - no answer from 198\.51\.100\.100:80 via 198\.51\.100\.12 \(02:00:00:00:00:12\) within 8 s to \d+ SYNs \(is the VIP configured on the real server's loopback\?\) \| time=U;;;0;8\n/,
    );
    assert.ok(ms < CHECK_NRPE_DEFAULT_TIMEOUT_MS, `${Math.round(ms)} ms`);
  });
});
