/**
 * The agent's side of the kernel's IPVS table: re-reads it every `ipvs-interval` (2 s by default), turns it into
 * targets (discovery.ts) for the agent's reload path, and, for services with `ipvs-weights: manage`, hands the
 * table and the real servers' verdicts to the weight manager after every read and every up/down transition.
 *
 * A table that cannot be opened yet (ip_vs not loaded at boot: lvscare's "Could not get ipvs family
 * information") or a read that fails is logged once per streak, leaves the targets as they were, and is tried again
 * every `ipvs-interval`: the agent keeps running, and its other services keep being probed. At stop, weights stay as they are: a checker that stops is no reason to move traffic, and a
 * restart (or keepalived, or the operator) takes over from a table that still matches the last verdicts. A
 * restart that manages nothing any more still gives back what the state file says an earlier run drained.
 */
import {describeServiceKey, type IpvsControl, type IpvsTable} from '../../core/ipvs/model.js';
import type {DriveClock, ScheduledTimer} from '../../core/flow/drive.js';
import type {IpvsConfig, TargetConfig} from '../config.js';
import type {HealthState} from '../health.js';
import type {IpvsWeightRow} from '../metrics.js';
import type {TargetIpvsStatus} from '../status.js';
import {discover} from './discovery.js';
import {WeightStateFile} from './state-file.js';
import {WeightManager, destinationId, type DestinationRef, type ManagedService, type Verdict, type WeightAction} from './weights.js';

export interface IpvsIntegrationOptions {
  /** Opens the table (netlink, or the read-only /proc fallback); retried every turn until it works. */
  readonly open: () => Promise<IpvsControl>;
  readonly clock: DriveClock;
  readonly log: (line: string) => void;
  readonly action: (service: string, action: WeightAction) => void;
  /** The discovered targets changed: the agent applies its configuration again. */
  readonly changed: () => void;
  /** A target's health, by id, if the agent has it. */
  readonly health: (id: string) => HealthState | undefined;
}

/**
 * A target's verdict for the weight manager: its state once the probes proved it (rise successes or fall
 * failures in a row), never the assumed `initial-state`, so a start neither drains nor restores anything before
 * the real server was actually judged.
 */
export function verdictOf(health: HealthState | undefined): Verdict {
  return health?.judged ? health.health : 'unknown';
}

export class IpvsIntegration {
  private table: IpvsTable | undefined;
  private discovered: TargetConfig[] = [];
  private signature = '';
  private managed: ManagedService[] = [];
  /** destinationId (service + address) -> the target that checks it. */
  private readonly byDestination = new Map<string, TargetConfig>();
  private readonly notes = new Set<string>();
  private control: IpvsControl | undefined;
  private weights: WeightManager | undefined;
  private readOnlyLogged = false;
  private timer: ScheduledTimer | undefined;
  private openFailures = 0;
  private readFailures = 0;
  private running: Promise<void> | undefined;
  private pendingTurns = 0;
  private stopped = false;
  /** Weights of the last read by destination id, for tableWeight(). */
  private weightIndex: {readonly table: IpvsTable; readonly weights: Map<string, number>} | undefined;
  /** The state file remembers destinations of an earlier run although nothing is managed now. */
  private leftovers = false;

  constructor(
    private config: IpvsConfig,
    private readonly options: IpvsIntegrationOptions,
  ) {}

  private get manages(): boolean {
    return this.config.sources.some((s) => s.weights);
  }

  /**
   * Checks the state file (a file that cannot be trusted throws StateFileError: the agent does not start rather
   * than forget what it drained), then opens and reads the table, then follows it.
   */
  async start(): Promise<void> {
    const stateFile = new WeightStateFile(this.config.stateDir);
    if (this.manages) {
      await stateFile.load();
    } else {
      // Not managing now, but an earlier run may have drained or removed real servers (a restart with
      // ipvs-weights off): the weight manager then starts anyway, to give them back (release()).
      try {
        this.leftovers = (await stateFile.load()).length > 0;
      } catch (error) {
        this.options.log(`${(error as Error).message}; what an earlier run drained is not restored`);
      }
    }
    await this.turn();
    this.schedule();
  }

  /** The table, opened on the first turn that can; and the weight manager once something is to be managed. */
  private async connect(): Promise<IpvsControl | undefined> {
    if (!this.control) {
      try {
        this.control = await this.options.open();
      } catch (error) {
        this.openFailures++;
        if (this.openFailures === 1) this.options.log(`${(error as Error).message.split('\n')[0]}; retrying every ${this.config.intervalMs / 1000} s`);
        return undefined;
      }
      if (this.openFailures > 0) this.options.log(`IPVS table opened (after ${this.openFailures} failed attempts)`);
    }
    if ((this.manages || this.leftovers) && !this.weights) {
      if (!this.control.canWrite) {
        if (!this.readOnlyLogged) {
          this.options.log(
            this.manages
              ? 'ipvs-weights: manage needs write access to the IPVS table (netlink with CAP_NET_ADMIN); the table is read-only here, so weights are not managed'
              : `the state file in ${this.config.stateDir} remembers real servers an earlier run drained or removed; the IPVS table is read-only here (netlink with CAP_NET_ADMIN is needed), so they are not restored`,
          );
        }
        this.readOnlyLogged = true;
      } else {
        const weights = new WeightManager(this.control, new WeightStateFile(this.config.stateDir), {log: this.options.log, action: this.options.action});
        try {
          await weights.load();
          this.weights = weights;
        } catch (error) {
          this.options.log(`${(error as Error).message}; weights are not managed until it is fixed`);
        }
      }
    }
    return this.control;
  }

  /** A reload: new sources and interval; the state directory is kept until a restart. */
  reconfigure(config: IpvsConfig): void {
    if (config.stateDir !== this.config.stateDir) this.options.log(`state-dir changes take effect at restart; keeping ${this.config.stateDir}`);
    this.config = {...config, stateDir: this.config.stateDir};
    this.signature = '';
    void this.turnNow();
  }

  /** The targets the table gives now. */
  get targets(): readonly TargetConfig[] {
    return this.discovered;
  }

  /** A managed target went up or down: act at once, not at the next read. */
  transition(target: TargetConfig): void {
    if (!this.weights || !target.ipvs?.managed || this.stopped) return;
    this.weights.act(this.managed, (d) => this.verdict(d)).catch((error: Error) => this.options.log(`ipvs weights: ${error.message}`));
  }

  /** Resolves when no turn and no weight write is under way (tests on a virtual clock wait for it). */
  async settled(): Promise<void> {
    await this.running;
    await this.weights?.idle();
  }

  /** Stops following the table and waits for a write under way: weights stay as they are. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
    await this.weights?.idle();
    this.control?.close();
  }

  /** A fixed rate: a tick that finds a turn still under way (a slow read) is skipped, never queued. */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.options.clock.schedule(this.options.clock.now() + this.config.intervalMs, () => {
      this.schedule();
      if (this.pendingTurns === 0) void this.turnNow();
    });
    this.timer.unref?.();
  }

  /** One turn at a time; a reload's extra turn waits for the one under way. A turn never rejects. */
  private turnNow(): Promise<void> {
    this.pendingTurns++;
    this.running = (this.running ?? Promise.resolve())
      .then(() => this.turn())
      .catch((error: Error) => this.options.log(`IPVS: ${error.message.split('\n')[0]}`))
      .finally(() => {
        this.pendingTurns--;
      });
    return this.running;
  }

  private async turn(): Promise<void> {
    if (this.stopped) return;
    const control = await this.connect();
    if (!control) return;
    let table: IpvsTable;
    const readStartedAt = this.weights?.readStarts() ?? 0;
    try {
      table = await control.read();
    } catch (error) {
      this.readFailures++;
      if (this.readFailures === 1) {
        this.options.log(`cannot read the IPVS table: ${(error as Error).message.split('\n')[0]}; keeping the real servers as they are, retrying every ${this.config.intervalMs / 1000} s`);
      }
      return;
    }
    if (this.readFailures > 0) this.options.log(`IPVS table read again (after ${this.readFailures} failed reads)`);
    this.readFailures = 0;
    this.table = table;
    const found = discover(table, this.config.sources, (key) => this.weights?.removedOf(key) ?? []);
    for (const note of found.notes) {
      if (this.notes.has(note)) continue;
      this.notes.add(note);
      this.options.log(note);
    }
    this.managed = found.managed;
    this.byDestination.clear();
    for (const target of found.targets) this.byDestination.set(addressId(target), target);
    // Forwarding and tunnel are in it: an entry turned from DR to TUN, or IPIP to GUE, is probed the new way at once.
    const signature = found.targets
      .map((t) => `${t.id} ${t.ipvs!.path} ${t.ipvs!.port} ${t.ipvs!.managed} ${t.ipvs!.forwarding} ${t.ipvs!.tunnel?.type ?? ''}:${t.ipvs!.tunnel?.port ?? ''}`)
      .join('\n');
    if (signature !== this.signature) {
      this.signature = signature;
      this.discovered = found.targets;
      this.options.changed();
    }
    if (!this.weights) return;
    await this.weights.observe(table, this.managed, readStartedAt);
    await this.weights.act(this.managed, (d) => this.verdict(d));
    await this.weights.release(table, this.managed);
  }

  private verdict(destination: DestinationRef): Verdict {
    const target = this.byDestination.get(`${describeServiceKey(destination.service)} ${destination.address}`);
    return target ? verdictOf(this.options.health(target.id)) : 'unknown';
  }

  /** The weights of every discovered target's destination, for the metrics at scrape time. */
  rows(): IpvsWeightRow[] {
    return this.discovered.map((target) => {
      const ref = refOf(target);
      const view = this.weights?.view(ref);
      return {service: target.service, key: ref.service, address: ref.address, port: ref.port, weight: view ? view.weight : this.tableWeight(ref), configuredWeight: view?.configuredWeight};
    });
  }

  /** Managed services, and whether each is in panic mode. */
  panics(): Map<string, boolean> {
    return new Map(this.managed.map((s) => [s.name, this.weights?.inPanic(s.name) ?? false]));
  }

  status(target: TargetConfig): TargetIpvsStatus | undefined {
    const ipvs = target.ipvs;
    if (!ipvs) return undefined;
    const ref = refOf(target);
    const view = target.ipvs.managed ? this.weights?.view(ref) : undefined;
    const weight = view ? view.weight : this.tableWeight(ref);
    return {
      service: describeServiceKey(ipvs.service),
      port: ipvs.port,
      forwarding: ipvs.forwarding,
      path: ipvs.path,
      weight: weight ?? null,
      ...(view ? {configuredWeight: view.configuredWeight, managed: view.state} : {}),
      ...(ipvs.managed && this.weights ? {panic: this.weights.inPanic(target.service)} : {}),
    };
  }

  /**
   * A destination's weight in the last read, through an index built once per read: a scrape or a /status asks
   * for every target's, and scanning the table for each was quadratic (a million ids built per scrape at 1,000
   * real servers).
   */
  private tableWeight(ref: DestinationRef): number | undefined {
    const table = this.table;
    if (!table) return undefined;
    if (this.weightIndex?.table !== table) {
      const weights = new Map<string, number>();
      for (const {service, destinations} of table.services) {
        for (const d of destinations) weights.set(destinationId({service: service.key, address: d.address, port: d.port}), d.weight);
      }
      this.weightIndex = {table, weights};
    }
    return this.weightIndex.weights.get(destinationId(ref));
  }
}

function refOf(target: TargetConfig): DestinationRef {
  return {service: target.ipvs!.service, address: target.rs, port: target.ipvs!.port};
}

function addressId(target: TargetConfig): string {
  return `${describeServiceKey(target.ipvs!.service)} ${target.rs}`;
}
