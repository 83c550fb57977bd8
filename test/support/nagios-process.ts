/**
 * TEST-ONLY: Debian's Nagios Core 4 (nagios4-core) as a child process inside a lab namespace, with a throwaway
 * configuration of its own in the lab's scratch directory, and its status.dat parsed.
 *
 * Nagios starts as root and drops to the nagios user (nagios_user), as the packaged daemon does, so every check
 * runs as nagios. It lives in a private mount namespace (`unshare --mount`) where two things are mounted over
 * the machine's files for it and its children only: a sudoers file with the rule under test over /etc/sudoers,
 * and a tmpfs over /usr/local/bin holding `vipcheck` (a link to this tree's bin/run.cjs), where
 * docs/monitoring.md installs it. The documented object definitions therefore run unchanged, path for path,
 * and the machine's own sudoers and /usr/local/bin are never touched; the mounts go with the last process.
 */
import type {ChildProcess} from 'node:child_process';
import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Lab, NsRef} from '../../src/lab/lab.js';
import {runOk, sleep, Tail, waitForExit} from '../../src/lab/proc.js';
import {REPO_ROOT, VIPCHECK_BIN} from '../lab/harness.js';

export const NAGIOS = '/usr/sbin/nagios4';

/** uid and gid of a local user, from /etc/passwd. */
export function localUser(name: string): {uid: number; gid: number} {
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
  if (!entry) throw new Error(`no user ${name} (it comes with nagios4-core and nagios-nrpe-server: ./scripts/install)`);
  return {uid: Number(entry[2]), gid: Number(entry[3])};
}

/**
 * The fenced blocks of one `## Section` of a Markdown file, in order: the tests run what the docs show.
 */
export function docBlocks(file: string, section: string): string[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  const start = text.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`${file} has no section "## ${section}"`);
  const end = text.indexOf('\n## ', start + 1);
  const body = text.slice(start, end < 0 ? undefined : end);
  return [...body.matchAll(/\n```[a-z]*\n([\s\S]*?)\n```/g)].map((m) => m[1]! + '\n');
}

/** One status.dat block (servicestatus, hoststatus, ...) as its key=value pairs. */
export type StatusBlock = Readonly<Record<string, string>>;

export function parseStatusDat(text: string): Array<{type: string; fields: StatusBlock}> {
  const blocks: Array<{type: string; fields: StatusBlock}> = [];
  for (const m of text.matchAll(/^(\w+) \{\n([\s\S]*?)\n\s*\}/gm)) {
    const fields: Record<string, string> = {};
    for (const line of m[2]!.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) fields[line.slice(0, eq).trim()] = line.slice(eq + 1);
    }
    blocks.push({type: m[1]!, fields});
  }
  return blocks;
}

/**
 * Writes `dir/sudoers`: Debian's defaults (env_reset keeps NODE_OPTIONS and friends away from a root Node
 * process), then the rules under test; visudo checks it.
 */
export async function writeSudoers(dir: string, rules: readonly string[]): Promise<string> {
  const sudoers = join(dir, 'sudoers');
  writeFileSync(
    sudoers,
    ['Defaults env_reset', 'Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"', 'Defaults use_pty', ...rules, ''].join('\n'),
    {mode: 0o440},
  );
  chmodSync(sudoers, 0o440);
  await runOk(['visudo', '-c', '-q', '-f', sudoers]);
  return sudoers;
}

/**
 * argv that runs the shell command `exec` in a private mount namespace with `sudoers` over /etc/sudoers and
 * vipcheck at /usr/local/bin/vipcheck (a tmpfs over /usr/local/bin there), as the header explains.
 */
export function privateMounts(sudoers: string, exec: string): string[] {
  const script = [
    `mount --bind ${sudoers} /etc/sudoers`,
    'mount -t tmpfs -o mode=0755,size=1m vipcheck-bin /usr/local/bin',
    `ln -s ${VIPCHECK_BIN} /usr/local/bin/vipcheck`,
    exec,
  ].join(' && ');
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script];
}

export interface NagiosOptions {
  /** Object definitions (hosts, services, commands) besides the test's templates. */
  readonly objects: string;
  /** Lines of sudoers after Debian's Defaults. */
  readonly sudoers: readonly string[];
}

export class NagiosProcess {
  readonly output = new Tail(8192);
  private child: ChildProcess | undefined;

  private constructor(
    private readonly lab: Lab,
    readonly dir: string,
  ) {}

  get commandFile(): string {
    return join(this.dir, 'var', 'rw', 'nagios.cmd');
  }

  get statusFile(): string {
    return join(this.dir, 'var', 'status.dat');
  }

  get logFile(): string {
    return join(this.dir, 'var', 'nagios.log');
  }

  /** Writes the configuration, has `nagios4 -v` verify it, starts Nagios in `ns` and waits for its status file. */
  static async start(lab: Lab, ns: NsRef, name: string, options: NagiosOptions): Promise<NagiosProcess> {
    if (!existsSync(NAGIOS)) throw new Error(`${NAGIOS} is missing: this test needs nagios4-core (./scripts/install)`);
    const nagios = localUser('nagios');
    // The configuration is root's and read-only to nagios; only var/ is nagios's, as in Debian's layout.
    const dir = join(lab.tmpDir, name);
    mkdirSync(dir, {mode: 0o755});
    chmodSync(dir, 0o755);
    for (const sub of ['var', 'var/rw', 'var/spool']) {
      mkdirSync(join(dir, sub), {mode: 0o755});
      chownSync(join(dir, sub), nagios.uid, nagios.gid);
    }
    const process_ = new NagiosProcess(lab, dir);
    const v = (f: string) => join(dir, 'var', f);
    writeFileSync(join(dir, 'objects.cfg'), TEMPLATES + options.objects, {mode: 0o644});
    const config = join(dir, 'nagios.cfg');
    writeFileSync(
      config,
      [
        `cfg_file=${join(dir, 'objects.cfg')}`,
        `log_file=${v('nagios.log')}`,
        `object_cache_file=${v('objects.cache')}`,
        `precached_object_file=${v('objects.precache')}`,
        `status_file=${v('status.dat')}`,
        `temp_file=${v('nagios.tmp')}`,
        `temp_path=${v('')}`,
        `lock_file=${v('nagios.lock')}`,
        `state_retention_file=${v('retention.dat')}`,
        `debug_file=${v('nagios.debug')}`,
        `check_result_path=${v('spool')}`,
        `command_file=${process_.commandFile}`,
        `query_socket=${v('rw/nagios.qh')}`,
        'nagios_user=nagios',
        'nagios_group=nagios',
        'check_external_commands=1',
        'accept_passive_service_checks=1',
        'log_passive_checks=1',
        'use_syslog=0',
        'enable_notifications=0',
        'retain_state_information=0',
        // Seconds instead of minutes, every check scheduled at once, results read every second, status.dat
        // written every second: a test sees a check's result a few seconds after Nagios starts.
        'interval_length=1',
        'service_inter_check_delay_method=n',
        'host_inter_check_delay_method=n',
        'max_service_check_spread=1',
        'max_host_check_spread=1',
        'check_result_reaper_frequency=1',
        'status_update_interval=1',
        '',
      ].join('\n'),
      {mode: 0o644},
    );
    const sudoers = await writeSudoers(dir, options.sudoers);
    const verify = await lab.exec(ns, [NAGIOS, '-v', config], {timeoutMs: 20_000});
    if (verify.code !== 0) throw new Error(`nagios4 -v refused the configuration:\n${verify.stdout}${verify.stderr}`);
    const child = lab.spawn(ns, privateMounts(sudoers, `exec ${NAGIOS} ${config}`));
    process_.child = child;
    child.stdout?.setEncoding('utf8').on('data', (t: string) => process_.output.push(t));
    child.stderr?.setEncoding('utf8').on('data', (t: string) => process_.output.push(t));
    await process_.until(() => existsSync(process_.statusFile), 20_000, 'status.dat written');
    return process_;
  }

  /** Everything Nagios said, for failure messages. */
  logs(): string {
    const log = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n').slice(-40).join('\n') : '(no log)';
    return `nagios output: ${this.output.toString().trim() || '(none)'}\nnagios.log (tail):\n${log}`;
  }

  /** The servicestatus blocks of status.dat, by host and service description ("rs1/VIP ..."). */
  services(): Map<string, StatusBlock> {
    const out = new Map<string, StatusBlock>();
    if (!existsSync(this.statusFile)) return out;
    for (const block of parseStatusDat(readFileSync(this.statusFile, 'utf8'))) {
      if (block.type === 'servicestatus') out.set(`${block.fields['host_name']}/${block.fields['service_description']}`, block.fields);
    }
    return out;
  }

  /** Polls status.dat until `condition` holds for the service; returns its block. */
  async service(key: string, condition: (s: StatusBlock) => boolean, timeoutMs: number, what: string): Promise<StatusBlock> {
    let last: StatusBlock | undefined;
    await this.until(
      () => {
        last = this.services().get(key);
        return last !== undefined && condition(last);
      },
      timeoutMs,
      `${key}: ${what}`,
      () => JSON.stringify(last ?? null, null, 1),
    );
    return last!;
  }

  async until(condition: () => boolean, timeoutMs: number, what: string, detail: () => string = () => ''): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (condition()) return;
      if (this.child && this.child.exitCode !== null) throw new Error(`nagios exited with ${this.child.exitCode} waiting for ${what}\n${this.logs()}`);
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}\n${detail()}\n${this.logs()}`);
      await sleep(200);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, 3_000))) child.kill('SIGKILL');
    }
  }
}

/**
 * What Debian's templates.cfg gives a Nagios configuration, reduced to what the documented objects `use`: a
 * 24x7 period, a contact, host and service templates checking every 2 s (interval_length=1), hard at once.
 */
const TEMPLATES = `
define timeperiod {
    timeperiod_name 24x7
    alias           24x7
    sunday          00:00-24:00
    monday          00:00-24:00
    tuesday         00:00-24:00
    wednesday       00:00-24:00
    thursday        00:00-24:00
    friday          00:00-24:00
    saturday        00:00-24:00
}
define contact {
    contact_name                    nagiosadmin
    service_notification_period     24x7
    host_notification_period        24x7
    service_notification_options    n
    host_notification_options       n
    service_notification_commands   notify-none
    host_notification_commands      notify-none
}
define command {
    command_name    notify-none
    command_line    /bin/true
}
define command {
    command_name    check-host-alive
    command_line    /bin/true
}
define host {
    name                    generic-host
    check_command           check-host-alive
    max_check_attempts      1
    check_interval          60
    check_period            24x7
    contacts                nagiosadmin
    notification_period     24x7
    notifications_enabled   0
    register                0
}
define service {
    name                    generic-service
    max_check_attempts      1
    check_interval          2
    retry_interval          2
    check_period            24x7
    contacts                nagiosadmin
    notification_period     24x7
    notifications_enabled   0
    register                0
}
`;
