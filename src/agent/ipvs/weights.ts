/**
 * The weight manager (`ipvs-weights: manage`): after `fall` failures a real server is drained to weight 0
 * (quiescent, ldirectord's default) or removed (`on-down: remove`); after `rise` successes it gets back the
 * weight the operator gave it. It touches only the services the configuration names, and never fights another
 * owner of the table (keepalived, kube-proxy, a person).
 *
 * Each turn first observes the table (`observe`, after every re-read), then acts (`act`, after every re-read
 * and every up/down transition):
 * - The operator's weight is the one seen while the agent had not touched the entry; a change while serving
 *   becomes the new weight to restore.
 * - A change by someone else to an entry the agent drained or removed is logged once and adopted, and the agent
 *   does not act on that entry again until its verdict changes: no loop of drain, restore, drain.
 * - The intent is written to the state file before a drain or removal reaches the kernel (`draining`,
 *   `removing`), so after a `kill -9` at any point the next start can tell the agent's weight 0 from the
 *   operator's: `draining` with the operator's weight still in the table means the write never landed.
 * - Panic (Envoy's idea): when fewer than `panic-threshold` percent of a service's real servers would be up,
 *   a mass failure is more likely the checker's own vantage point than the whole fleet; nothing more is drained
 *   and the drained ones are restored until enough are up again.
 * - A failed write is logged once per streak, counted, and retried on the next turn; nothing is forgotten.
 */
import {describeServiceKey, sameServiceKey, type IpvsControl, type IpvsDestination, type IpvsServiceKey, type IpvsTable} from '../../core/ipvs/model.js';
import {formatHostPort, type IpAddress} from '../../core/wire/address.js';
import {WeightStateFile, type DestinationFields, type ManagedState, type RememberedDestination} from './state-file.js';

/** What the configuration says about one managed IPVS service. */
export interface ManagedService {
  /** The agent's service name (logs, metrics). */
  readonly name: string;
  readonly key: IpvsServiceKey;
  readonly onDown: 'drain' | 'remove';
  /** Percent; 0 turns panic mode off. */
  readonly panicThreshold: number;
}

/** A real server's judgement: `unknown` before `fall` failures or `rise` successes were seen, so nothing is done. */
export type Verdict = 'up' | 'down' | 'unknown';

export interface DestinationRef {
  readonly service: IpvsServiceKey;
  readonly address: IpAddress;
  readonly port: number;
}

/** What the manager did, by kind: the `action` label of vipcheck_ipvs_actions_total. */
export type WeightAction = 'drain' | 'restore' | 'remove' | 'add' | 'adopt' | 'error';

export interface WeightHooks {
  readonly log: (line: string) => void;
  readonly action: (service: string, action: WeightAction) => void;
}

type Desired = 'serve' | 'out';

interface Entry {
  readonly service: IpvsServiceKey;
  readonly address: IpAddress;
  readonly port: number;
  /** The operator's weight: what a restore writes. */
  weight: number;
  state: ManagedState;
  /** The destination as last seen (or as written): what a removed one is added back as. */
  fields?: DestinationFields;
  /** The weight in the kernel's table now; undefined while the destination is absent. */
  current?: number;
  /** Someone else changed the entry: hold off until the verdict moves away from what it was then. */
  yielded?: Desired | 'none';
  yieldPending?: boolean;
  /** Failed writes in a row (logged once per streak). */
  failures: number;
  /** The manager's write count when this entry was last written: a table read that began before says nothing of it. */
  writtenAt: number;
}

export interface ManagedView {
  readonly weight: number | undefined;
  readonly configuredWeight: number;
  readonly state: 'serving' | 'drained' | 'removed';
}

export class WeightManager {
  private readonly entries = new Map<string, Entry>();
  private readonly panicking = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private writes = 0;

  constructor(
    private readonly control: IpvsControl,
    private readonly stateFile: WeightStateFile,
    private readonly hooks: WeightHooks,
  ) {}

  /** Reads the state file; a file that cannot be trusted throws (StateFileError), so the agent does not start. */
  async load(): Promise<void> {
    for (const remembered of await this.stateFile.load()) {
      const entry: Entry = {...remembered, failures: 0, writtenAt: 0};
      if (remembered.state !== 'removed' && remembered.state !== 'removing') delete entry.fields;
      this.entries.set(destinationId(remembered), entry);
    }
  }

  /** Runs turns one after another: an observation never interleaves with an action's writes. */
  private serialized(turn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(turn, turn);
    this.queue = next.catch(() => {});
    return next;
  }

  /** Resolves when the turn under way (if any) has finished its writes: what a stop waits for. */
  idle(): Promise<void> {
    return this.queue.then(() => {});
  }

  /** To be taken just before a read of the table, and handed to observe() with it. */
  readStarts(): number {
    return this.writes;
  }

  /**
   * Takes in a read of the table for these services: new destinations, and changes made by others. An entry the
   * agent wrote after the read began (a transition's drain while the table was being dumped) is left out: the read
   * may show it as it was before, which is no one else's change.
   */
  observe(table: IpvsTable, services: readonly ManagedService[], readStartedAt = this.writes): Promise<void> {
    return this.serialized(async () => {
      let changed = false;
      for (const service of services) {
        const destinations = table.services.find((s) => sameServiceKey(s.service.key, service.key))?.destinations ?? [];
        const seen = new Set<string>();
        for (const destination of destinations) {
          const id = destinationId({service: service.key, address: destination.address, port: destination.port});
          seen.add(id);
          if ((this.entries.get(id)?.writtenAt ?? 0) > readStartedAt) continue;
          changed = this.observeOne(service, id, destination) || changed;
        }
        for (const [id, entry] of this.entries) {
          if (seen.has(id) || !sameServiceKey(entry.service, service.key) || entry.writtenAt > readStartedAt) continue;
          changed = this.observeAbsent(service, id, entry) || changed;
        }
      }
      if (changed) {
        // What was observed stays in memory; the next write carries it to the file.
        await this.save().catch((error: unknown) => this.hooks.log(`state file ${this.stateFile.path} not written: ${oneLine(error)}`));
      }
    });
  }

  private observeOne(service: ManagedService, id: string, destination: IpvsDestination): boolean {
    const entry = this.entries.get(id);
    const fields = fieldsOf(destination);
    if (!entry) {
      this.entries.set(id, {
        service: service.key,
        address: destination.address,
        port: destination.port,
        weight: destination.weight,
        state: 'serving',
        fields,
        current: destination.weight,
        failures: 0,
        writtenAt: 0,
      });
      return true;
    }
    entry.fields = fields;
    entry.current = destination.weight;
    const weight = destination.weight;
    const name = destinationName(service.name, service.key, entry);
    const adopt = (what: string): boolean => {
      this.hooks.log(`${name}: ${what} by someone else (weight ${weight}); the agent leaves it so until the real server's state changes, and restores ${weight} from now on`);
      this.hooks.action(service.name, 'adopt');
      entry.weight = weight;
      entry.state = 'serving';
      entry.yieldPending = true;
      return true;
    };
    switch (entry.state) {
      case 'serving':
        if (weight === entry.weight) return false;
        this.hooks.log(`${name}: weight changed from ${entry.weight} to ${weight} by someone else; restoring ${weight} from now on`);
        this.hooks.action(service.name, 'adopt');
        entry.weight = weight;
        return true;
      case 'draining':
        // Written before the kernel was: 0 means the drain landed, the operator's weight that it never did.
        if (weight === 0) entry.state = 'drained';
        else if (weight === entry.weight) entry.state = 'serving';
        else return adopt('changed while being drained');
        return true;
      case 'drained':
        return weight === 0 ? false : adopt('restored');
      case 'removing':
        if (weight === entry.weight) {
          entry.state = 'serving';
          return true;
        }
        return adopt('changed while being removed');
      case 'removed':
        return adopt('added back');
    }
  }

  private observeAbsent(service: ManagedService, id: string, entry: Entry): boolean {
    entry.current = undefined;
    if (entry.state === 'removed') return false;
    if (entry.state === 'removing') {
      entry.state = 'removed';
      return true;
    }
    // Gone, and not by the agent's hand: the operator's decision; its memory goes too.
    this.hooks.log(`${destinationName(service.name, service.key, entry)}: removed from the table by someone else; no longer managed`);
    this.entries.delete(id);
    return true;
  }

  /** Drains, removes or restores what the verdicts and the panic threshold call for. */
  act(services: readonly ManagedService[], verdict: (destination: DestinationRef) => Verdict): Promise<void> {
    return this.serialized(async () => {
      for (const service of services) {
        const entries = [...this.entries.values()].filter((e) => sameServiceKey(e.service, service.key));
        // The operator's own weight 0 is a server he took out: it is not counted and never touched.
        const eligible = entries.filter((e) => e.weight > 0);
        const verdicts = new Map(eligible.map((e) => [e, verdict(e)]));
        const panic = this.panicFor(service, eligible.length, [...verdicts.values()].filter((v) => v === 'down').length);
        for (const [entry, v] of verdicts) {
          const desired: Desired | undefined = panic || v === 'up' ? 'serve' : v === 'down' ? 'out' : undefined;
          if (entry.yieldPending) {
            entry.yielded = desired ?? 'none';
            entry.yieldPending = false;
          }
          if (entry.yielded !== undefined) {
            if ((desired ?? 'none') === entry.yielded) continue;
            delete entry.yielded;
          }
          if (desired === 'out' && entry.state === 'serving') await (service.onDown === 'remove' ? this.remove(service, entry) : this.drain(service, entry));
          else if (desired === 'serve' && (entry.state === 'drained' || entry.state === 'removed')) await this.restore(service, entry, panic ? 'panic' : 'up');
        }
      }
    });
  }

  /**
   * Gives back what the agent took from destinations of services it no longer manages (a reload turned
   * ipvs-weights off or dropped the service) while the table still has the service: a drained one gets the
   * operator's weight again, a removed one is added back. Each is then forgotten; a failed write is retried on
   * the next turn. A service gone from the table is left alone: there is nothing to give back into.
   */
  release(table: IpvsTable, services: readonly ManagedService[]): Promise<void> {
    return this.serialized(async () => {
      let forgotten = false;
      for (const [id, entry] of [...this.entries]) {
        if (services.some((s) => sameServiceKey(s.key, entry.service))) continue;
        const inTable = table.services.find((s) => sameServiceKey(s.service.key, entry.service));
        if (!inTable) continue;
        const service: ManagedService = {name: 'no longer managed:', key: entry.service, onDown: 'drain', panicThreshold: 0};
        const present = inTable.destinations.some((d) => d.address.equals(entry.address) && d.port === entry.port);
        if (entry.state !== 'serving' && (present || entry.fields)) {
          const why = 'ipvs-weights is no longer manage for this service';
          entry.state = present ? 'drained' : 'removed';
          await this.restore(service, entry, why);
          if ((entry.state as ManagedState) !== 'serving') continue; // the write failed (logged): tried again next turn
        }
        this.entries.delete(id);
        forgotten = true;
      }
      if (forgotten) await this.save().catch((error: unknown) => this.hooks.log(`state file ${this.stateFile.path} not written: ${oneLine(error)}`));
    });
  }

  private panicFor(service: ManagedService, eligible: number, down: number): boolean {
    const panic = service.panicThreshold > 0 && eligible > 0 && (eligible - down) * 100 < service.panicThreshold * eligible;
    if (panic !== this.panicking.has(service.name)) {
      if (panic) {
        this.panicking.add(service.name);
        this.hooks.log(
          `${service.name} ${describeServiceKey(service.key)}: panic: only ${eligible - down} of ${eligible} real servers would be up (threshold ${service.panicThreshold}%); ` +
            'draining no more and restoring the drained ones (a mass failure is more likely this checker than the fleet)',
        );
      } else {
        this.panicking.delete(service.name);
        this.hooks.log(`${service.name} ${describeServiceKey(service.key)}: panic over: ${eligible - down} of ${eligible} real servers up`);
      }
    }
    return panic;
  }

  private async drain(service: ManagedService, entry: Entry): Promise<void> {
    await this.write(service, entry, 'draining', 'drain', async () => {
      const now = await this.control.updateDestination(service.key, entry, {weight: 0});
      entry.fields = fieldsOf(now);
      entry.current = now.weight;
      entry.state = 'drained';
      return `drained: weight ${entry.weight} -> 0 (down)`;
    });
  }

  private async remove(service: ManagedService, entry: Entry): Promise<void> {
    if (!entry.fields) return;
    await this.write(service, entry, 'removing', 'remove', async () => {
      await this.control.removeDestination(service.key, entry);
      entry.current = undefined;
      entry.state = 'removed';
      return `removed from the table (down; weight ${entry.weight} is remembered)`;
    });
  }

  private async restore(service: ManagedService, entry: Entry, why: string): Promise<void> {
    if (entry.state === 'removed') {
      const fields = entry.fields;
      if (!fields) return;
      await this.write(service, entry, undefined, 'add', async () => {
        await this.control.addDestination(service.key, {...fields, weight: entry.weight});
        entry.fields = {...fields, weight: entry.weight};
        entry.current = entry.weight;
        entry.state = 'serving';
        return `added back with weight ${entry.weight} (${why})`;
      });
      return;
    }
    await this.write(service, entry, undefined, 'restore', async () => {
      const now = await this.control.updateDestination(service.key, entry, {weight: entry.weight});
      entry.fields = fieldsOf(now);
      entry.current = now.weight;
      entry.state = 'serving';
      return `restored: weight 0 -> ${entry.weight} (${why})`;
    });
  }

  /**
   * One write: the intent goes to the state file first (when there is one), then the kernel, then the outcome
   * to the state file. A failure of either leaves the entry as it was, to be tried again on the next turn.
   */
  private async write(service: ManagedService, entry: Entry, intent: ManagedState | undefined, action: WeightAction, kernel: () => Promise<string>): Promise<void> {
    const name = destinationName(service.name, service.key, entry);
    const before = entry.state;
    let done: string;
    try {
      if (intent) {
        entry.state = intent;
        await this.save();
      }
      entry.writtenAt = ++this.writes;
      done = await kernel();
    } catch (error) {
      entry.state = before;
      entry.failures++;
      this.hooks.action(service.name, 'error');
      if (entry.failures === 1) this.hooks.log(`${name}: cannot ${action}: ${oneLine(error)}; retrying every turn`);
      return;
    }
    const retried = entry.failures > 0 ? ` (after ${entry.failures} failed attempts)` : '';
    entry.failures = 0;
    this.hooks.action(service.name, action);
    this.hooks.log(`${name}: ${done}${retried}`);
    try {
      await this.save();
    } catch (error) {
      // The kernel holds the outcome; the intent in the file reads the same way at the next start.
      this.hooks.log(`${name}: state file not updated: ${oneLine(error)}`);
    }
  }

  private save(): Promise<void> {
    return this.stateFile.save([...this.entries.values()].map(remembered));
  }

  /** What /status and the metrics show of one destination, if it is managed. */
  view(destination: DestinationRef): ManagedView | undefined {
    const entry = this.entries.get(destinationId(destination));
    if (!entry) return undefined;
    const state = entry.state === 'draining' ? 'serving' : entry.state === 'removing' ? 'serving' : entry.state;
    return {weight: entry.current, configuredWeight: entry.weight, state};
  }

  /** Whether the agent took this destination out of the table itself: its target stays, so it can come back. */
  removedByAgent(destination: DestinationRef): boolean {
    const state = this.entries.get(destinationId(destination))?.state;
    return state === 'removed' || state === 'removing';
  }

  /** The agent's removed destinations of a service, with what they are added back as. */
  removedOf(service: IpvsServiceKey): DestinationFields[] {
    return [...this.entries.values()].filter((e) => e.state === 'removed' && e.fields && sameServiceKey(e.service, service)).map((e) => e.fields!);
  }

  inPanic(service: string): boolean {
    return this.panicking.has(service);
  }
}

export function destinationId(destination: DestinationRef): string {
  return `${describeServiceKey(destination.service)} ${formatHostPort(destination.address, destination.port)}`;
}


/** How logs name a destination: `web TCP 198.51.100.100:80 rs 198.51.100.11:80`. */
export function destinationName(service: string, key: IpvsServiceKey, destination: {address: IpAddress; port: number}): string {
  return `${service} ${describeServiceKey(key)} rs ${formatHostPort(destination.address, destination.port)}`;
}

function fieldsOf(destination: IpvsDestination): DestinationFields {
  const {activeConnections: _a, inactiveConnections: _i, persistentConnections: _p, ...fields} = destination;
  return fields;
}

/** The persisted form: an intent is written as such, so a restart knows the kernel write may not have landed. */
function remembered(entry: Entry): RememberedDestination {
  const base = {service: entry.service, address: entry.address, port: entry.port, weight: entry.weight};
  if (entry.state === 'removed' || entry.state === 'removing') return {...base, state: entry.state, fields: entry.fields!};
  return {...base, state: entry.state};
}

function oneLine(error: unknown): string {
  return ((error as Error).message ?? String(error)).split('\n')[0]!;
}
