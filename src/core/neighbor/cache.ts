/**
 * The agent's neighbour cache: the MAC of each real server, shared by every check of it, so a director with
 * hundreds of targets does not ARP before every probe.
 *
 * - An entry is used for `ttlMs` after it was resolved, then resolved again on the next lookup (like the
 *   kernel's REACHABLE -> STALE, without the kernel's state machine: a check that fails drops its entry with
 *   forget(), so a real server whose NIC was swapped is found again at once).
 * - Concurrent lookups of one address share one resolution.
 * - A resolution that finds another MAC than the entry had is reported to the change listeners: a real server
 *   replaced, a failover between NICs, or an address conflict, each worth a log line.
 * - Failures are not cached: the next probe asks again (its own deadline bounds it).
 */
import type {Millis} from '../time.js';
import type {IpAddress, MacAddress} from '../wire/address.js';
import type {ResolvedNeighbor} from './resolve.js';

export interface NeighborCacheOptions {
  readonly ttlMs: Millis;
  /** Resolves on the network; the cache only decides when. */
  readonly resolve: (target: IpAddress, source: IpAddress, deadline: Millis, trace?: (text: string) => void) => Promise<ResolvedNeighbor>;
  readonly now?: () => Millis;
  /** forget() leaves an entry younger than this (default 5 s). */
  readonly minRefreshMs?: Millis;
}

const DEFAULT_MIN_REFRESH_MS = 5000;

export type NeighborChangeListener = (address: IpAddress, previous: MacAddress, current: MacAddress) => void;

interface Entry {
  mac: MacAddress;
  protocol: ResolvedNeighbor['protocol'];
  resolvedAt: Millis;
}

export class NeighborCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<ResolvedNeighbor>>();
  private readonly listeners: NeighborChangeListener[] = [];
  /** Addresses removed while their resolution was in flight. */
  private readonly removed = new Set<string>();
  readonly counters = {hits: 0, resolutions: 0, failures: 0, changes: 0};

  constructor(private readonly options: NeighborCacheOptions) {}

  private now(): Millis {
    return (this.options.now ?? performance.now.bind(performance))();
  }

  /** The MAC of `target`: from the cache (`requests` 0) while fresh, else resolved from `source`. */
  async lookup(target: IpAddress, source: IpAddress, deadline: Millis, trace?: (text: string) => void): Promise<ResolvedNeighbor> {
    const key = target.toString();
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.resolvedAt < this.options.ttlMs) {
      this.counters.hits++;
      return {mac: entry.mac, protocol: entry.protocol, requests: 0, elapsedMs: 0};
    }
    let resolution = this.pending.get(key);
    if (!resolution) {
      const started: Promise<ResolvedNeighbor> = this.resolve(key, target, source, deadline, trace).finally(() => {
        if (this.pending.get(key) === started) this.pending.delete(key);
      });
      resolution = started;
      this.pending.set(key, resolution);
    }
    return resolution;
  }

  private async resolve(key: string, target: IpAddress, source: IpAddress, deadline: Millis, trace?: (text: string) => void): Promise<ResolvedNeighbor> {
    this.removed.delete(key);
    try {
      this.counters.resolutions++;
      const resolved = await this.options.resolve(target, source, deadline, trace);
      // The address left the configuration while it was being resolved: do not bring it back.
      if (this.removed.has(key)) return resolved;
      const previous = this.entries.get(key);
      this.entries.set(key, {mac: resolved.mac, protocol: resolved.protocol, resolvedAt: this.now()});
      if (previous && !previous.mac.equals(resolved.mac)) {
        this.counters.changes++;
        for (const listener of this.listeners) listener(target, previous.mac, resolved.mac);
      }
      return resolved;
    } catch (error) {
      this.counters.failures++;
      throw error;
    }
  }

  /**
   * Drops the entry: the next lookup resolves again (a failed check may mean a new MAC). The MAC is kept for
   * change reports. An entry resolved less than `minRefreshMs` ago stays: a server that refuses or times out on
   * every probe would otherwise cost an ARP per probe, and a burst of failures (an overloaded agent) would make
   * every waiting probe fail on one slow resolution, then forget again.
   */
  forget(target: IpAddress): void {
    const entry = this.entries.get(target.toString());
    if (entry && this.now() - entry.resolvedAt >= (this.options.minRefreshMs ?? DEFAULT_MIN_REFRESH_MS)) entry.resolvedAt = -Infinity;
  }

  /** Forgets the address entirely (it left the configuration). */
  remove(target: IpAddress): void {
    const key = target.toString();
    this.entries.delete(key);
    if (this.pending.has(key)) this.removed.add(key);
  }

  onChange(listener: NeighborChangeListener): void {
    this.listeners.push(listener);
  }

  get size(): number {
    return this.entries.size;
  }
}
