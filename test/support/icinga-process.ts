/**
 * TEST-ONLY: Debian's Icinga 2 (icinga2-bin) as a child process inside a lab namespace, with everything of its
 * own in the lab's scratch directory: the configuration, and through the path constants (-DDataDir=...) its
 * state, certificates, logs, cache and PID file. /etc/icinga2 and /var/lib/icinga2 are never read or written.
 *
 * Its REST API listens on 127.0.0.1:5665 of the namespace with a throwaway CA made here with openssl (what
 * `icinga2 api setup` would put in /var/lib/icinga2/certs), and an API user the tests read states with.
 * Icinga starts as root and runs as nagios (RunAsUser, as Debian's package does), its checks through sudo in the
 * same private mounts as the Nagios test (nagios-process.ts).
 */
import type {ChildProcess} from 'node:child_process';
import {chmodSync, chownSync, existsSync, mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Lab, NsRef} from '../../src/lab/lab.js';
import {runOk, sleep, Tail, waitForExit} from '../../src/lab/proc.js';
import {localUser, privateMounts, writeSudoers} from './nagios-process.js';

export const ICINGA2 = '/usr/sbin/icinga2';
export const ICINGA_NODE = 'icinga-lab';
export const API_PORT = 5665;
/** The tests' own API user; the agent gets one with only the permission it needs. */
export const READER = {user: 'lab-reader', password: 'lab-reader-secret'};

export interface IcingaOptions {
  /** Object definitions: hosts, services, ApiUsers. */
  readonly objects: string;
  /** Lines of sudoers after Debian's Defaults. */
  readonly sudoers: readonly string[];
}

export interface IcingaService {
  readonly name: string;
  readonly attrs: {
    readonly state: number;
    readonly last_check: number;
    readonly last_check_result: null | {
      readonly exit_status: number;
      readonly output: string;
      readonly performance_data: readonly string[];
      readonly command: null | readonly string[];
      readonly check_source: string;
      readonly active: boolean;
    };
  };
}

export class IcingaProcess {
  readonly output = new Tail(16384);
  private child: ChildProcess | undefined;

  private constructor(
    private readonly lab: Lab,
    private readonly ns: NsRef,
    readonly dir: string,
  ) {}

  get caFile(): string {
    return join(this.dir, 'lib', 'certs', 'ca.crt');
  }

  static async start(lab: Lab, ns: NsRef, options: IcingaOptions): Promise<IcingaProcess> {
    if (!existsSync(ICINGA2)) throw new Error(`${ICINGA2} is missing: this test needs icinga2-bin (./scripts/install)`);
    const nagios = localUser('nagios');
    const dir = join(lab.tmpDir, 'icinga2');
    mkdirSync(dir, {mode: 0o755});
    chmodSync(dir, 0o755);
    for (const sub of ['lib', 'lib/certs', 'log', 'cache', 'spool', 'run', 'run/icinga2']) {
      mkdirSync(join(dir, sub), {mode: 0o755});
      chownSync(join(dir, sub), nagios.uid, nagios.gid);
    }
    const icinga = new IcingaProcess(lab, ns, dir);
    await makeCertificates(join(dir, 'lib', 'certs'), nagios);
    const config = join(dir, 'icinga2.conf');
    writeFileSync(
      config,
      `include <itl>
object CheckerComponent "checker" { }
object Endpoint NodeName { }
object Zone ZoneName { endpoints = [ NodeName ] }
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = ${API_PORT}
  accept_config = false
  accept_commands = false
}
object ApiUser "${READER.user}" {
  password = "${READER.password}"
  permissions = [ "objects/query/*", "actions/reschedule-check", "objects/create/ApiUser" ]
}
${options.objects}
`,
      {mode: 0o644},
    );
    const sudoers = await writeSudoers(dir, options.sudoers);
    const constants = icinga.constants();
    const verify = await lab.exec(ns, [ICINGA2, 'daemon', '-C', '-c', config, ...constants], {timeoutMs: 30_000});
    if (verify.code !== 0) throw new Error(`icinga2 daemon -C refused the configuration:\n${verify.stdout}${verify.stderr}`);
    const child = lab.spawn(ns, privateMounts(sudoers, `exec ${ICINGA2} daemon -c ${config} ${constants.join(' ')}`));
    icinga.child = child;
    child.stdout?.setEncoding('utf8').on('data', (t: string) => icinga.output.push(t));
    child.stderr?.setEncoding('utf8').on('data', (t: string) => icinga.output.push(t));
    await icinga.until(async () => (await icinga.request('GET', '/v1/objects/hosts?attrs=name')).code === 200, 30_000, 'the API answering');
    return icinga;
  }

  private constants(): string[] {
    const d = this.dir;
    return [
      `-DNodeName=${ICINGA_NODE}`,
      `-DZoneName=${ICINGA_NODE}`,
      `-DDataDir=${d}/lib`,
      `-DLogDir=${d}/log`,
      `-DCacheDir=${d}/cache`,
      `-DSpoolDir=${d}/spool`,
      `-DInitRunDir=${d}/run`,
      '-DRunAsUser=nagios',
      '-DRunAsGroup=nagios',
    ];
  }

  /** An API call with the reader's credentials, from inside the namespace; status code and parsed body. */
  async request(method: string, path: string, body?: unknown): Promise<{code: number; body: unknown}> {
    const r = await this.lab.exec(this.ns, [
      'curl', '-sS', '--max-time', '5', '--cacert', this.caFile, '-u', `${READER.user}:${READER.password}`,
      '-H', 'Accept: application/json', '-X', method, ...(body === undefined ? [] : ['-d', JSON.stringify(body)]),
      '-o', '-', '-w', '\n%{http_code}', `https://127.0.0.1:${API_PORT}${path}`,
    ]);
    const lines = r.stdout.trimEnd().split('\n');
    const code = Number(lines.pop());
    let parsed: unknown = lines.join('\n');
    try {
      parsed = JSON.parse(lines.join('\n'));
    } catch {
      // not JSON (curl's error, an HTML page): kept as text
    }
    return {code: Number.isFinite(code) ? code : 0, body: parsed};
  }

  /** A service's state and last check result, as the API shows it. */
  async service(host: string, service: string): Promise<IcingaService | undefined> {
    const r = await this.request('GET', `/v1/objects/services/${encodeURIComponent(`${host}!${service}`)}?attrs=state&attrs=last_check&attrs=last_check_result`);
    if (r.code === 404) return undefined;
    if (r.code !== 200) throw new Error(`GET service ${host}!${service}: ${r.code} ${JSON.stringify(r.body)}`);
    return (r.body as {results: IcingaService[]}).results[0];
  }

  /** Polls the API until `condition` holds for the service's state. */
  async serviceUntil(host: string, service: string, condition: (s: IcingaService) => boolean, timeoutMs: number, what: string): Promise<IcingaService> {
    let last: IcingaService | undefined;
    await this.until(
      async () => {
        last = await this.service(host, service);
        return last !== undefined && condition(last);
      },
      timeoutMs,
      `${host}!${service}: ${what} (last: ${JSON.stringify(last?.attrs ?? null)})`,
    );
    return last!;
  }

  async until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await condition()) return;
      if (this.child && this.child.exitCode !== null) throw new Error(`icinga2 exited with ${this.child.exitCode} waiting for ${what}\n${this.logs()}`);
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}\n${this.logs()}`);
      await sleep(250);
    }
  }

  logs(): string {
    return `icinga2 output (tail):\n${this.output.toString().split('\n').slice(-40).join('\n')}`;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitForExit(child, 5_000))) child.kill('SIGKILL');
    }
  }
}

/** A throwaway CA and the node's certificate (CN = the node name, SAN 127.0.0.1), readable only by nagios. */
async function makeCertificates(dir: string, owner: {uid: number; gid: number}): Promise<void> {
  const f = (name: string) => join(dir, name);
  await runOk(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=vipcheck lab Icinga CA', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
  await runOk(['openssl', 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${ICINGA_NODE}`, '-keyout', f(`${ICINGA_NODE}.key`), '-out', f('node.csr')]);
  writeFileSync(f('node.ext'), `subjectAltName=DNS:${ICINGA_NODE},IP:127.0.0.1\n`);
  await runOk(['openssl', 'x509', '-req', '-in', f('node.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('node.ext'), '-out', f(`${ICINGA_NODE}.crt`)]);
  for (const name of ['ca.crt', `${ICINGA_NODE}.key`, `${ICINGA_NODE}.crt`]) chownSync(f(name), owner.uid, owner.gid);
  chmodSync(f(`${ICINGA_NODE}.key`), 0o600);
  chmodSync(f('ca.crt'), 0o644);
}
