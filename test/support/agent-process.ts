/**
 * TEST-ONLY: `vipcheck agent` as a child process inside a lab namespace, with its log lines, its HTTP endpoints
 * (fetched with curl from inside the namespace) and its metrics parsed, for the lab tests of the agent.
 */
import type {ChildProcess} from 'node:child_process';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Lab, NsRef} from '../../src/lab/lab.js';
import {VIPCHECK_BIN} from '../lab/harness.js';

export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({name: m[1]!, labels, value: Number(m[3])});
  }
  return samples;
}

/**
 * An agent configuration for the passive-result tests: tcp to the VIP through the good and the no-VIP real
 * server every 0.5 s (rise and fall 2), reported to `kind` (its settings given as a YAML flow map) as hosts rs1
 * and rs2 under the service name `service`.
 */
export function passiveAgentConfig(lab: Lab, kind: 'nagios' | 'icinga', settings: string, service: string): string {
  return `listen: 127.0.0.1:9470
defaults: {interval: 0.5, timeout: 0.4, rise: 2, fall: 2}
${kind}: ${settings}
services:
  - name: web
    vip: ${lab.vip4}
    port: 80
    check: tcp
    ${kind}-service: '${service}'
    real-servers: [{address: ${lab.hosts.good.ipv4}, ${kind}-host: rs1}, {address: ${lab.hosts.novip.ipv4}, ${kind}-host: rs2}]
`;
}

export class AgentProcess {
  readonly log: string[] = [];
  private stderr = '';
  exitCode: number | null = null;

  private constructor(
    private readonly lab: Lab,
    private readonly ns: NsRef,
    readonly child: ChildProcess,
    readonly configPath: string,
    readonly port: number,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      const lines = this.stderr.split('\n');
      this.stderr = lines.pop()!;
      this.log.push(...lines);
    });
    child.stdout!.resume();
    child.on('exit', (code) => (this.exitCode = code));
  }

  /** Writes `config` to the lab's scratch directory and starts the agent; resolves once it logged "started". */
  static async start(lab: Lab, ns: NsRef, config: string, port = 9470, command: readonly string[] = [process.execPath, VIPCHECK_BIN]): Promise<AgentProcess> {
    const configPath = join(lab.tmpDir, `agent-${Date.now()}.yaml`);
    writeFileSync(configPath, config);
    const child = lab.spawn(ns, [...command, 'agent', '--config', configPath]);
    const agent = new AgentProcess(lab, ns, child, configPath, port);
    await agent.waitForLog(/^vipcheck agent: started: /, 20_000);
    return agent;
  }

  rewriteConfig(config: string): void {
    writeFileSync(this.configPath, config);
  }

  async waitForLog(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.log.find((l) => pattern.test(l));
      if (line) return line;
      if (this.exitCode !== null) throw new Error(`the agent exited (${this.exitCode}):\n${this.log.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`no log line ${pattern} within ${timeoutMs} ms:\n${this.log.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async get(path: string): Promise<string> {
    const r = await this.lab.execOk(this.ns, ['curl', '-sS', '--fail', '--max-time', '3', `http://127.0.0.1:${this.port}${path}`]);
    return r.stdout;
  }

  async metrics(): Promise<MetricSample[]> {
    return parseMetrics(await this.get('/metrics'));
  }

  async status(): Promise<{services: Array<{name: string; realServers: Array<{rs: string; state: string; lastProbe: {status: string; summary: string} | null}>}>}> {
    return JSON.parse(await this.get('/status'));
  }

  /** vipcheck_up of each target of `service`, by real server address. */
  async upOf(service: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const s of await this.metrics()) if (s.name === 'vipcheck_up' && s.labels['service'] === service) out[s.labels['rs']!] = s.value;
    return out;
  }

  /** /status's real servers of `service`, by address. */
  async realServersOf(service: string): Promise<Record<string, {rs: string; state: string; lastProbe: {status: string; summary: string} | null}>> {
    const found = (await this.status()).services.find((x) => x.name === service);
    if (!found) throw new Error(`/status has no service ${service}`);
    return Object.fromEntries(found.realServers.map((r) => [r.rs, r]));
  }

  /**
   * Until each of `addresses` in `service` has a last probe: down is also the initial state, so vipcheck_up 0
   * alone does not say a real server was probed yet.
   */
  async untilProbed(service: string, addresses: readonly string[], timeoutMs = 10_000): Promise<void> {
    await this.until(async () => {
      const rs = await this.realServersOf(service);
      return addresses.every((a) => rs[a]?.lastProbe != null);
    }, timeoutMs, `a probe of ${addresses.join(', ')} in ${service}`);
  }

  /** Polls until `condition` holds (every 100 ms); returns how long it took. */
  async until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
    const started = Date.now();
    for (;;) {
      if (await condition()) return Date.now() - started;
      if (this.exitCode !== null) throw new Error(`the agent exited (${this.exitCode}) waiting for ${what}:\n${this.log.join('\n')}`);
      if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}\n${this.log.slice(-20).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** SIGTERM, and how long the process took to exit. */
  async stop(): Promise<{code: number | null; ms: number}> {
    const started = Date.now();
    if (this.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      await exited;
    }
    return {code: this.exitCode, ms: Date.now() - started};
  }
}
