/**
 * The agent's Prometheus metrics. The names and labels are a contract (docs/agent.md): every target series is
 * labelled `service, vip, port, rs, check`; a target removed from the configuration loses its series at once.
 * The per-target families are kept and rendered by target-metrics.ts (why: see there); prom-client has the rest.
 * - vipcheck_up: 1 or 0, the state after rise/fall;
 * - vipcheck_probe_success: the last probe (1 OK/WARNING, else 0);
 * - vipcheck_probe_duration_seconds: a histogram of probe durations;
 * - vipcheck_probes_total{result}: ok, warning, critical, unknown;
 * - vipcheck_state_changes_total;
 * - vipcheck_last_probe_timestamp_seconds;
 * - check-specific gauges named as blackbox_exporter names them: vipcheck_http_status_code,
 *   vipcheck_ssl_earliest_cert_expiry (from the result's perfdata);
 * - passive results: vipcheck_passive_results_total, vipcheck_passive_failures_total, vipcheck_passive_dropped_total
 *   by receiver (target label);
 * - IPVS (real servers from the kernel's table): vipcheck_ipvs_weight and vipcheck_ipvs_configured_weight, labelled
 *   as node_exporter's ipvs collector labels node_ipvs_backend_weight (local_address, local_port, remote_address,
 *   remote_port, proto, local_mark) plus `service`, so the two join; vipcheck_panic{service};
 *   vipcheck_ipvs_actions_total{service,action};
 * - the agent's own: scheduler, port block, neighbour cache and per-interface frame counters, and prom-client's
 *   process metrics.
 */
import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client';
import type {CheckResult} from '../core/result/check-result.js';
import type {IpvsServiceKey} from '../core/ipvs/model.js';
import type {IpAddress} from '../core/wire/address.js';
import type {TargetConfig} from './config.js';
import {TargetMetrics, type TargetLabels} from './target-metrics.js';

export function targetLabels(target: Pick<TargetConfig, 'service' | 'vip' | 'port' | 'rs' | 'check'>): TargetLabels {
  return {service: target.service, vip: target.vip.toString(), port: String(target.port), rs: target.rs.toString(), check: target.check};
}

export interface InterfaceCounts {
  readonly name: string;
  readonly received: number;
  readonly dropped: ReadonlyMap<string, number>;
  /** Segments the bulk receive offload took before JavaScript (they never reach the dispatcher). */
  readonly bulkTaken: number;
}

/** One IPVS destination of a target, read at scrape time. */
export interface IpvsWeightRow {
  readonly service: string;
  readonly key: IpvsServiceKey;
  readonly address: IpAddress;
  readonly port: number;
  /** undefined while the destination is not in the table (removed by the agent). */
  readonly weight: number | undefined;
  /** undefined unless the agent manages the service's weights. */
  readonly configuredWeight: number | undefined;
}

const IPVS_LABELS = ['service', 'local_address', 'local_port', 'local_mark', 'proto', 'remote_address', 'remote_port'] as const;

/** node_exporter's values: proto TCP/UDP/SCTP (FWM for a fwmark service, with its mark in local_mark, address empty). */
export function ipvsLabels(row: Pick<IpvsWeightRow, 'service' | 'key' | 'address' | 'port'>): Record<(typeof IPVS_LABELS)[number], string> {
  const key = row.key;
  const local = key.kind === 'fwmark' ? {local_address: '', local_port: '0', local_mark: String(key.fwmark), proto: 'FWM'} : {local_address: key.address.toString(), local_port: String(key.port), local_mark: '', proto: key.protocol.toUpperCase()};
  return {service: row.service, ...local, remote_address: row.address.toString(), remote_port: String(row.port)};
}

export interface AgentGauges {
  readonly interfaces: () => readonly InterfaceCounts[];
  readonly targets: () => number;
  readonly inFlight: () => number;
  readonly portsBusy: () => number;
  readonly portsHeld: () => number;
  readonly resetsSent: () => number;
  readonly ipvsWeights: () => readonly IpvsWeightRow[];
  /** Managed services and whether each is in panic mode. */
  readonly panics: () => ReadonlyMap<string, boolean>;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly targets = new TargetMetrics();
  readonly reloads: Counter;
  readonly neighborChanges: Counter;
  readonly portShortages: Counter;
  /** Passive results by receiver (target="nagios", "icinga"): delivered, failed attempts, dropped from the queue. */
  readonly passiveResults: Counter;
  readonly passiveFailures: Counter;
  readonly passiveDropped: Counter;
  /** How late probes started against their schedule: what a slow or hostile server must not make grow. */
  readonly startDelay: Histogram;
  /** What the IPVS weight manager did: drain, restore, remove, add, adopt (another owner's change), error. */
  readonly ipvsActions: Counter;

  constructor(gauges: AgentGauges) {
    const registers = [this.registry];
    this.reloads = new Counter({name: 'vipcheck_agent_reloads_total', help: 'Configuration reloads by outcome.', labelNames: ['result'], registers});
    this.neighborChanges = new Counter({name: 'vipcheck_neighbor_changes_total', help: 'Real servers whose MAC changed between resolutions.', registers});
    this.portShortages = new Counter({
      name: 'vipcheck_agent_source_port_shortages_total',
      help: 'Probe turns skipped because every source port was in use or resting (raise source-ports).',
      registers,
    });
    this.passiveResults = new Counter({name: 'vipcheck_passive_results_total', help: 'Passive results delivered to a monitoring system.', labelNames: ['target'], registers});
    this.passiveFailures = new Counter({
      name: 'vipcheck_passive_failures_total',
      help: 'Failed attempts to deliver passive results (each is retried with backoff).',
      labelNames: ['target'],
      registers,
    });
    this.passiveDropped = new Counter({name: 'vipcheck_passive_dropped_total', help: 'Passive results dropped from a full queue while the receiver was away.', labelNames: ['target'], registers});
    this.startDelay = new Histogram({
      name: 'vipcheck_agent_probe_start_delay_seconds',
      help: 'How late each probe turn was handled against its schedule.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    new Counter({
      name: 'vipcheck_frames_received_total',
      help: 'Frames the shared packet socket of an interface received.',
      labelNames: ['interface'],
      registers,
      collect() {
        this.reset();
        for (const i of gauges.interfaces()) this.inc({interface: i.name}, i.received);
      },
    });
    new Counter({
      name: 'vipcheck_frames_bulk_received_total',
      help: 'Segments of bulk transfers the packet socket acknowledged itself before JavaScript (not counted in vipcheck_frames_received_total).',
      labelNames: ['interface'],
      registers,
      collect() {
        this.reset();
        for (const i of gauges.interfaces()) this.inc({interface: i.name}, i.bulkTaken);
      },
    });
    new Counter({
      name: 'vipcheck_frames_dropped_total',
      help: 'Frames the checksum gate dropped (a wrong checksum the kernel did not vouch for), by reason.',
      labelNames: ['interface', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const i of gauges.interfaces()) for (const [reason, count] of i.dropped) this.inc({interface: i.name, reason}, count);
      },
    });
    new Gauge({name: 'vipcheck_agent_targets', help: 'Targets configured.', registers, collect() { this.set(gauges.targets()); }});
    new Gauge({name: 'vipcheck_agent_probes_in_flight', help: 'Probes running now.', registers, collect() { this.set(gauges.inFlight()); }});
    new Gauge({name: 'vipcheck_agent_source_ports_busy', help: 'Source ports used by flows now.', registers, collect() { this.set(gauges.portsBusy()); }});
    new Gauge({name: 'vipcheck_agent_source_ports', help: 'Source ports the agent holds.', registers, collect() { this.set(gauges.portsHeld()); }});
    new Counter({
      name: 'vipcheck_agent_late_segment_resets_total',
      help: 'RSTs sent for segments to source ports no flow owns any more (a SYN-ACK after its probe gave up).',
      registers,
      collect() {
        this.reset();
        this.inc(gauges.resetsSent());
      },
    });
    // Read from the table at scrape time: a destination that leaves the table leaves the metrics with it.
    const weightGauges: Array<[string, string, (row: IpvsWeightRow) => number | undefined]> = [
      ['vipcheck_ipvs_weight', "The real server's weight in the kernel's IPVS table now (labels as node_exporter's node_ipvs_backend_weight, plus service).", (row) => row.weight],
      ['vipcheck_ipvs_configured_weight', "The operator's weight of a real server whose weight the agent manages: the one a restore writes.", (row) => row.configuredWeight],
    ];
    for (const [name, help, value] of weightGauges) {
      new Gauge({
        name,
        help,
        labelNames: [...IPVS_LABELS],
        registers,
        collect() {
          this.reset();
          for (const row of gauges.ipvsWeights()) {
            const weight = value(row);
            if (weight !== undefined) this.set(ipvsLabels(row), weight);
          }
        },
      });
    }
    new Gauge({
      name: 'vipcheck_panic',
      help: 'Whether a managed service is in panic mode (fewer than panic-threshold percent of its real servers up: nothing is drained).',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        for (const [service, panic] of gauges.panics()) this.set({service}, panic ? 1 : 0);
      },
    });
    this.ipvsActions = new Counter({
      name: 'vipcheck_ipvs_actions_total',
      help: 'What the IPVS weight manager did, by action: drain, restore, remove, add, adopt (a change by another owner taken over), error (a failed write, retried).',
      labelNames: ['service', 'action'],
      registers,
    });
    collectDefaultMetrics({register: this.registry});
    // Gauges that prom-client names with a counter's suffix (its issue #283): promtool rejects them, and the
    // same values stay available without the suffix (nodejs_active_handles, ...).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  /** A target's series before its first probe: up as configured, nothing probed yet. */
  configured(target: TargetConfig, up: boolean): void {
    this.targets.add(target.id, targetLabels(target), up);
  }

  probed(target: TargetConfig, result: CheckResult, seconds: number, up: boolean, changed: boolean): void {
    const series = this.targets.get(target.id) ?? this.targets.add(target.id, targetLabels(target), up);
    series.probed(result.state, seconds, up, changed, Date.now());
    const status = result.perfdata.find((p) => p.label === 'status');
    const expiry = (result.data as {tls?: {validTo?: string}} | undefined)?.tls?.validTo;
    series.observedHttp(typeof status?.value === 'number' ? status.value : undefined, expiry ? Date.parse(expiry) / 1000 : undefined);
  }

  /** The target left the configuration: every series of it goes. */
  removed(target: TargetConfig): void {
    this.targets.remove(target.id);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** A whole scrape, in chunks: prom-client's metrics, then the per-target families (yielding between chunks). */
  async render(write: (chunk: string) => void | Promise<void>): Promise<void> {
    await write(await this.registry.metrics());
    await this.targets.render(write);
  }
}
