/**
 * `vipcheck agent`: one process runs every VIP-path check of a director on a schedule, over shared sockets,
 * and tells the world: Prometheus metrics, keepalived FILE_CHECK files, /status and a status page, and one log
 * line per state change or reload.
 *
 * A probe is the plugin's own run (runCheck, as the CLI runs it) with the agent's network in its context;
 * its cleanups run as soon as it ends. Its result moves the target's rise/fall state; a change is logged,
 * counted, and written to the target's FILE_CHECK file.
 *
 * A reload validates the new file completely first: an invalid one is logged and the old configuration keeps
 * running. Targets that stay (same service, real server, check, VIP and port) keep their state and phase;
 * targets that go lose their metrics series (their FILE_CHECK files stay, as keepalived needs).
 *
 * Services whose real servers come from the kernel's IPVS table follow it (ipvs/integration.ts): each read of
 * the table goes through the same apply() as a reload, and `ipvs-weights: manage` drains and restores weights.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import {isSuccess, HealthState} from './health.js';
import type {DriveClock} from '../core/flow/drive.js';
import {realClock} from '../core/flow/drive.js';
import type {CheckResult} from '../core/result/check-result.js';
import {State} from '../core/result/state.js';
import {runCheck} from '../plugin-api/run-check.js';
import type {CheckPlugin, RunContext} from '../plugin-api/plugin.js';
import {agentChecks} from './checks.js';
import {ConfigError, loadConfig, type AgentConfig, type IpvsConfig, type TargetConfig} from './config.js';
import type {IpvsControl} from '../core/ipvs/model.js';
import {EnvironmentError} from '../core/errors.js';
import {IpvsIntegration} from './ipvs/integration.js';
import {StateFileError} from './ipvs/state-file.js';
import {FileCheckWriter} from './file-check.js';
import {IcingaApi, icingaCheckResult} from './passive-icinga.js';
import {NagiosCommandFile, nagiosPassiveLine} from './passive-nagios.js';
import type {PassiveHooks} from './passive.js';
import {AgentMetrics} from './metrics.js';
import {AgentNetwork} from './network.js';
import {Scheduler} from './scheduler.js';
import {ProbeHistory} from './probe-history.js';
import {statusDocument, statusPage, type AgentStatus, type TargetStatus} from './status.js';

export interface AgentOptions {
  readonly configPath: string;
  readonly log: (line: string) => void;
  readonly version: string;
  readonly clock?: DriveClock;
  /** Port block size and timing of the shared network; tests shrink them. */
  readonly portQuarantineMs?: number;
  readonly neighborTtlMs?: number;
  /** Opens the kernel's IPVS table, for configurations that read it; `notice` tells of a read-only fallback. */
  readonly openIpvs?: (notice: (line: string) => void) => Promise<IpvsControl>;
}

interface Target {
  config: TargetConfig;
  health: HealthState;
  readonly history: ProbeHistory;
  removed: boolean;
  /** Whether a passive result went out yet: the first probe is sent, so the monitoring system never stays pending. */
  reported: boolean;
}

/** How long a stop waits for probes in flight before it closes the sockets under them. */
const STOP_GRACE_MS = 200;

export class Agent {
  private readonly targets = new Map<string, Target>();
  private readonly files: FileCheckWriter;
  private readonly scheduler: Scheduler;
  private readonly metrics: AgentMetrics;
  private server: Server | undefined;
  private listening = '';
  private configuredAt = Date.now();
  private readonly startedAt = Date.now();
  private stopping = false;
  private nagios: NagiosCommandFile | undefined;
  private icinga: IcingaApi | undefined;
  private ipvs: IpvsIntegration | undefined;

  private constructor(
    private readonly options: AgentOptions,
    private config: AgentConfig,
    private readonly plugins: ReadonlyMap<string, CheckPlugin>,
    readonly network: AgentNetwork,
  ) {
    this.files = new FileCheckWriter(options.log);
    this.scheduler = new Scheduler({clock: options.clock ?? realClock, maxConcurrent: config.maxConcurrent, onLate: (ms) => this.metrics.startDelay.observe(ms / 1000)});
    this.metrics = new AgentMetrics({
      interfaces: () =>
        network.interfaceStats().map((i) => ({
          name: i.name,
          received: i.dispatcher.counters.frames,
          dropped: i.link.integrity.dropped,
          bulkTaken: i.link.bulkReceive?.counters.frames ?? 0,
        })),
      targets: () => this.targets.size,
      inFlight: () => this.scheduler.inFlight,
      portsBusy: () => network.ports.busy,
      portsHeld: () => network.ports.available,
      resetsSent: () => network.resetsSent,
      ipvsWeights: () => this.ipvs?.rows() ?? [],
      panics: () => this.ipvs?.panics() ?? new Map(),
    });
  }

  /** Loads and validates the configuration, opens the network and the HTTP listener, starts probing. */
  static async start(options: AgentOptions): Promise<Agent> {
    const plugins = await agentChecks();
    const config = await loadConfig(options.configPath, plugins);
    const network = new AgentNetwork({
      sourcePorts: config.sourcePorts,
      portQuarantineMs: options.portQuarantineMs ?? 1000,
      neighborTtlMs: options.neighborTtlMs ?? 30_000,
      log: options.log,
    });
    const agent = new Agent(options, config, plugins, network);
    try {
      await network.start();
      await agent.listen();
    } catch (error) {
      await network.stop();
      throw error;
    }
    agent.apply(config);
    try {
      await agent.followIpvs(config.ipvs);
    } catch (error) {
      await agent.stop();
      throw error;
    }
    const {base, size} = network.ports;
    options.log(
      `started: ${agent.targets.size} targets, source ports ${base}-${base + size - 1} (${network.ports.available} held), ` +
        `kernel RST guard ${network.rstGuardState}, listening on ${agent.listening}`,
    );
    return agent;
  }

  /** Re-reads the configuration; an invalid one is logged and changes nothing. Returns whether it applied. */
  async reload(): Promise<boolean> {
    let config: AgentConfig;
    try {
      config = await loadConfig(this.options.configPath, this.plugins);
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
      for (const line of problems) this.options.log(`reload refused, keeping the running configuration: ${line}`);
      this.metrics.reloads.inc({result: 'error'});
      return false;
    }
    if (config.sourcePorts !== this.config.sourcePorts) {
      this.options.log(`source-ports changes take effect at restart; keeping ${this.config.sourcePorts}`);
    }
    if (config.maxConcurrent !== this.config.maxConcurrent) {
      this.options.log(`max-concurrent changes take effect at restart; keeping ${this.config.maxConcurrent}`);
    }
    this.config = config;
    await this.listen();
    const before = this.targets.size;
    this.apply(config);
    try {
      await this.followIpvs(config.ipvs);
    } catch (error) {
      this.options.log(`reload: ${(error as Error).message.split('\n')[0]}`);
    }
    this.metrics.reloads.inc({result: 'ok'});
    this.options.log(`reloaded: ${this.targets.size} targets (was ${before})`);
    return true;
  }

  /** Starts, reconfigures or ends following the IPVS table, as the configuration asks. */
  private async followIpvs(config: IpvsConfig | undefined): Promise<void> {
    if (!config) {
      const old = this.ipvs;
      this.ipvs = undefined;
      if (old) {
        await old.stop();
        this.apply(this.config);
      }
      return;
    }
    if (this.ipvs) return this.ipvs.reconfigure(config);
    const open = this.options.openIpvs;
    if (!open) throw new EnvironmentError('this agent was started without access to the IPVS table');
    const integration = new IpvsIntegration(config, {
      open: () => open(this.options.log),
      clock: this.options.clock ?? realClock,
      log: this.options.log,
      action: (service, action) => this.metrics.ipvsActions.inc({service, action}),
      changed: () => {
        if (this.ipvs === integration && !this.stopping) this.apply(this.config);
      },
      health: (id) => this.targets.get(id)?.health,
    });
    this.ipvs = integration;
    try {
      await integration.start();
    } catch (error) {
      this.ipvs = undefined;
      await integration.stop();
      if (error instanceof StateFileError) throw new EnvironmentError(error.message);
      throw error;
    }
  }

  /** Stops probing, leaves the FILE_CHECK files as they are, releases sockets, ports and the RST guard. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const idle = this.scheduler.stop();
    // Weights stay as they are (docs/agent.md, "At stop"); only a write under way is finished.
    const ipvsStopped = this.ipvs?.stop();
    // The guard table goes while the last probes finish (nft is the slow part of a stop).
    const guardRemoved = this.network.removeRstGuard();
    await Promise.race([idle, new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref())]);
    await guardRemoved;
    await ipvsStopped;
    this.nagios?.stop();
    this.icinga?.stop();
    await this.network.stop();
    await this.files.flush();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
  }

  status(): AgentStatus {
    const targets: TargetStatus[] = [...this.targets.values()].map((t) => {
      const last = t.history.last();
      const ipvs = this.ipvs?.status(t.config);
      return {
        id: t.config.id,
        service: t.config.service,
        vip: t.config.vip.toString(),
        port: t.config.port,
        rs: t.config.rs.toString(),
        check: t.config.check,
        health: t.health.health,
        since: t.health.since,
        successesInARow: t.health.successesInARow,
        failuresInARow: t.health.failuresInARow,
        ...(t.config.fileCheck ? {fileCheck: t.config.fileCheck} : {}),
        ...(last ? {last} : {}),
        recent: t.history.recent(),
        ...(ipvs ? {ipvs} : {}),
      };
    });
    return {version: this.options.version, startedAt: this.startedAt, configuredAt: this.configuredAt, config: this.options.configPath, targets};
  }

  /** For an exit that cannot wait any more: what must not outlive the process (the RST guard table). */
  stopNow(): void {
    this.network.removeRstGuardSync();
  }

  get address(): string {
    return this.listening;
  }

  private passiveHooks(target: string): PassiveHooks {
    return {
      log: this.options.log,
      failed: () => this.metrics.passiveFailures.inc({target}),
      delivered: (n) => this.metrics.passiveResults.inc({target}, n),
      dropped: (n) => this.metrics.passiveDropped.inc({target}, n),
    };
  }

  private apply(config: AgentConfig): void {
    this.configuredAt = Date.now();
    if (this.nagios?.path !== config.nagios?.commandFile) {
      this.nagios?.stop();
      this.nagios = config.nagios ? new NagiosCommandFile(config.nagios.commandFile, this.passiveHooks('nagios')) : undefined;
    }
    // A changed API setting (a new password, CA, URL) takes a new sender; its queue starts empty.
    if (JSON.stringify(this.icinga?.config) !== JSON.stringify(config.icinga)) {
      this.icinga?.stop();
      this.icinga = config.icinga ? new IcingaApi(config.icinga, this.passiveHooks('icinga')) : undefined;
    }
    // The series exist from the start, so a rate() or an alert on failures has a zero to start from.
    for (const target of [config.nagios && 'nagios', config.icinga && 'icinga']) {
      if (target) for (const counter of [this.metrics.passiveResults, this.metrics.passiveFailures, this.metrics.passiveDropped]) counter.inc({target}, 0);
    }
    const wanted = new Map([...config.targets, ...(this.ipvs?.targets ?? [])].map((t) => [t.id, t]));
    for (const [id, target] of this.targets) {
      const next = wanted.get(id);
      if (!next || !sameProbe(target.config, next)) {
        target.removed = true;
        this.targets.delete(id);
        this.metrics.removed(target.config);
      }
    }
    for (const config of wanted.values()) {
      const existing = this.targets.get(config.id);
      if (existing) {
        if (existing.config.fileCheck !== config.fileCheck && config.fileCheck) this.files.set(config.fileCheck, existing.health.health);
        existing.config = config;
        existing.health.setRules(config.health);
        continue;
      }
      const target: Target = {config, health: new HealthState(config.health, Date.now()), history: new ProbeHistory(), removed: false, reported: false};
      this.targets.set(config.id, target);
      this.metrics.configured(config, target.health.health === 'up');
      if (config.fileCheck) this.files.set(config.fileCheck, target.health.health);
    }
    this.scheduler.set([...this.targets.values()].map((t) => ({id: t.config.id, intervalMs: t.config.intervalMs, probe: () => this.probe(t)})));
  }

  private async probe(target: Target): Promise<void> {
    const config = target.config;
    const started = performance.now();
    const cleanups: Array<() => void> = [];
    const context: RunContext = {
      deadline: started + config.timeoutMs,
      timeoutMs: config.timeoutMs,
      verbosity: 0,
      note: () => {},
      onCleanup: (fn) => cleanups.push(fn),
      network: this.network,
    };
    let result: CheckResult;
    try {
      result = await runCheck(config.plugin, config.options, context);
    } finally {
      for (const fn of cleanups.reverse()) {
        try {
          fn();
        } catch {
          // a cleanup failure must not lose the verdict
        }
      }
    }
    if (target.removed || this.stopping) return;
    if (this.network.wasStarved(context)) {
      // Out of source ports is the agent's own shortage: it must not count against the real server.
      this.metrics.portShortages.inc();
      if (this.network.portShortages === 1 || this.network.portShortages % 1000 === 0) {
        this.options.log(`${result.summary} (${this.network.portShortages} probe turns skipped so far)`);
      }
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    const success = isSuccess(result.state);
    if (!success) this.network.forgetNeighbor(config.rs);
    const transition = target.health.record(success, Date.now());
    target.history.record(Date.now(), result.state, seconds, result.summary);
    this.metrics.probed(config, result, seconds, target.health.health === 'up', transition !== undefined);
    if (transition) {
      const why = result.state === State.Ok ? '' : `: ${result.summary}`;
      this.options.log(`${config.service} ${config.vip}:${config.port} rs ${config.rs}: ${transition.from} -> ${transition.to} after ${transition.after} ${success ? 'successes' : 'failures'}${why}`);
      if (config.fileCheck) this.files.set(config.fileCheck, transition.to);
      this.ipvs?.transition(config);
    }
    // Queued, never awaited: a monitoring system that is away never delays a probe.
    const first = !target.reported;
    target.reported = true;
    if (this.nagios && config.nagios && (transition || first || this.config.nagios?.everyProbe)) {
      this.nagios.send(nagiosPassiveLine(Date.now(), config.nagios.host, config.nagios.service, result));
    }
    if (this.icinga && config.icinga && (transition || first || this.config.icinga?.everyProbe)) {
      this.icinga.send(icingaCheckResult(Date.now(), config.icinga.host, config.icinga.service, result));
    }
  }

  private async listen(): Promise<void> {
    const {host, port} = this.config.listen;
    const wanted = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (wanted === this.listening && this.server) return;
    const server = createServer((request, response) => this.serve(request, response));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    }).catch((error: NodeJS.ErrnoException) => {
      throw new ConfigError([`listen: cannot listen on ${wanted}: ${error.code ?? error.message}`]);
    });
    const old = this.server;
    this.server = server;
    this.listening = wanted;
    old?.close();
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, {'content-type': type, 'cache-control': 'no-store'});
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'only GET\n');
    if (path === '/metrics') {
      response.writeHead(200, {'content-type': this.metrics.contentType, 'cache-control': 'no-store'});
      if (request.method === 'HEAD') return void response.end();
      // Streamed in chunks with the event loop's turns between them (target-metrics.ts): at 10,000 targets a
      // scrape is ~27 MiB, which rendered at once would stall every probe in flight.
      this.metrics.render((chunk) => writeWithBackpressure(response, chunk)).then(
        () => response.end(),
        (error: Error) => response.destroy(error),
      );
      return;
    }
    if (path === '/status') return send(200, 'application/json', JSON.stringify(statusDocument(this.status()), null, 2) + '\n');
    if (path === '/healthz') return send(this.stopping ? 503 : 200, 'text/plain; charset=utf-8', this.stopping ? 'stopping\n' : 'ok\n');
    if (path === '/') return send(200, 'text/html; charset=utf-8', statusPage(this.status()));
    send(404, 'text/plain; charset=utf-8', 'not found: try /, /status, /metrics or /healthz\n');
  }
}

/** Waits for the client to take the chunk when its buffer is full; a client gone ends the scrape. */
function writeWithBackpressure(response: ServerResponse, chunk: string): Promise<void> | void {
  if (response.destroyed) throw new Error('the scrape was abandoned');
  if (response.write(chunk)) return;
  return new Promise((resolve, reject) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      if (response.destroyed) reject(new Error('the scrape was abandoned'));
      else resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

/** A reload keeps a target's state only when it still probes the same thing. */
function sameProbe(a: TargetConfig, b: TargetConfig): boolean {
  return a.check === b.check && a.vip.equals(b.vip) && a.port === b.port && a.rs.equals(b.rs);
}
