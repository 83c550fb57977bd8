/**
 * What the agent knows, for people and programs: `/status` (JSON, docs/schema/agent-status.schema.json) and
 * `/` (one server-rendered HTML page, no script, no framework): per service, each real server coloured by its
 * state, since when, the last probe's summary and a sparkline of the recent probes' latency.
 */
import {stateName, type State} from '../core/result/state.js';
import type {Health} from './health.js';

/** Probes kept per target for the page's sparkline. */
export const RECENT_PROBES = 30;

/** One probe of the sparkline: no summary (30 of them per target would cost ~25 KB each at 10,000 targets). */
export interface ProbeRecord {
  readonly at: number;
  readonly state: State;
  readonly seconds: number;
}

/** The last probe, in full. */
export interface LastProbe extends ProbeRecord {
  readonly summary: string;
}

export interface TargetStatus {
  readonly id: string;
  readonly service: string;
  readonly vip: string;
  readonly port: number;
  readonly rs: string;
  readonly check: string;
  readonly health: Health;
  /** Unix milliseconds. */
  readonly since: number;
  readonly successesInARow: number;
  readonly failuresInARow: number;
  readonly fileCheck?: string;
  readonly last?: LastProbe;
  readonly recent: readonly ProbeRecord[];
  /** When the real server comes from the IPVS table. */
  readonly ipvs?: TargetIpvsStatus;
}

export interface TargetIpvsStatus {
  /** As ipvsadm prints it: `TCP 198.51.100.100:80`, `FWM 7 (IPv4)`. */
  readonly service: string;
  readonly port: number;
  readonly forwarding: string;
  /** vip: checked through the VIP; rip: a kernel connect to RIP:port (NAT). */
  readonly path: 'vip' | 'rip';
  /** The weight in the kernel's table now; null while the destination is not there (removed by the agent). */
  readonly weight: number | null;
  /** With ipvs-weights: manage: the operator's weight, the one a restore writes. */
  readonly configuredWeight?: number;
  /** With ipvs-weights: manage: serving, drained (weight 0 by the agent) or removed (by the agent). */
  readonly managed?: 'serving' | 'drained' | 'removed';
  /** With ipvs-weights: manage: the service is in panic mode (nothing drained). */
  readonly panic?: boolean;
}

export interface AgentStatus {
  readonly version: string;
  readonly startedAt: number;
  readonly configuredAt: number;
  readonly config: string;
  readonly targets: readonly TargetStatus[];
}

/** The JSON document of /status. */
export function statusDocument(status: AgentStatus): Record<string, unknown> {
  const services = new Map<string, {name: string; vip: string; port: number; check: string; panic?: boolean; realServers: unknown[]}>();
  for (const t of status.targets) {
    let service = services.get(t.service);
    if (!service) {
      service = {name: t.service, vip: t.vip, port: t.port, check: t.check, ...(t.ipvs?.panic === undefined ? {} : {panic: t.ipvs.panic}), realServers: []};
      services.set(t.service, service);
    }
    const ipvs = t.ipvs ? (({panic: _panic, ...rest}) => rest)(t.ipvs) : undefined;
    service.realServers.push({
      rs: t.rs,
      state: t.health,
      since: new Date(t.since).toISOString(),
      successesInARow: t.successesInARow,
      failuresInARow: t.failuresInARow,
      ...(t.fileCheck ? {fileCheck: t.fileCheck} : {}),
      ...(ipvs ? {ipvs} : {}),
      lastProbe: t.last
        ? {status: stateName(t.last.state), summary: t.last.summary, durationSeconds: round(t.last.seconds), at: new Date(t.last.at).toISOString()}
        : null,
    });
  }
  return {
    version: status.version,
    startedAt: new Date(status.startedAt).toISOString(),
    configuredAt: new Date(status.configuredAt).toISOString(),
    config: status.config,
    services: [...services.values()],
  };
}

function round(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

const escapes: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => escapes[c]!);
}

/** An inline SVG polyline of the recent probes' durations; failed probes are red dots. */
export function sparkline(recent: readonly ProbeRecord[], width = 120, height = 24): string {
  if (recent.length === 0) return `<svg class="spark" width="${width}" height="${height}" role="img" aria-label="no probes yet"></svg>`;
  const max = Math.max(...recent.map((p) => p.seconds), 1e-6);
  const step = recent.length > 1 ? width / (recent.length - 1) : 0;
  const points = recent.map((p, i) => [i * step, height - 2 - (p.seconds / max) * (height - 4)] as const);
  const line = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const failures = recent
    .map((p, i) => (p.state === 0 || p.state === 1 ? '' : `<circle cx="${points[i]![0].toFixed(1)}" cy="${points[i]![1].toFixed(1)}" r="2" fill="#c0392b"/>`))
    .join('');
  const label = `latency of the last ${recent.length} probes, up to ${(max * 1000).toFixed(2)} ms`;
  return `<svg class="spark" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(label)}"><polyline fill="none" stroke="#34495e" stroke-width="1.5" points="${line}"/>${failures}</svg>`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** A real server's IPVS weight beside its state: `weight 0, drained (3 to restore)`, `weight 5`, `RIP path`. */
function ipvsNote(ipvs: TargetIpvsStatus | undefined): string {
  if (!ipvs) return '';
  const weight = ipvs.weight === null ? 'not in the table' : `weight ${ipvs.weight}`;
  const managed = ipvs.managed === 'drained' || ipvs.managed === 'removed' ? `, ${ipvs.managed} (${ipvs.configuredWeight} to restore)` : '';
  const path = ipvs.path === 'rip' ? ', RIP path (NAT)' : '';
  return ` <small class="weight">${weight}${managed}${path}</small>`;
}

export function statusPage(status: AgentStatus, now = Date.now()): string {
  const byService = new Map<string, TargetStatus[]>();
  for (const t of status.targets) byService.set(t.service, [...(byService.get(t.service) ?? []), t]);
  const down = status.targets.filter((t) => t.health === 'down').length;
  const sections = [...byService].map(([name, targets]) => {
    const first = targets[0]!;
    const vip = first.vip.includes(':') ? `[${first.vip}]` : first.vip;
    const rows = targets
      .map((t) => {
        const last = t.last;
        const latency = last ? `${(last.seconds * 1000).toFixed(2)} ms` : '';
        return (
          `<tr class="${t.health}" data-rs="${escapeHtml(t.rs)}" data-state="${t.health}">` +
          `<td class="rs">${escapeHtml(t.rs)}</td>` +
          `<td class="state"><span class="badge ${t.health}">${t.health.toUpperCase()}</span>${ipvsNote(t.ipvs)}</td>` +
          `<td class="since">for ${ago(now - t.since)}</td>` +
          `<td class="last"${last ? ` title="${escapeHtml(last.summary)}"` : ''}>${last ? `${stateName(last.state)}: ${escapeHtml(last.summary)}` : 'not probed yet'}</td>` +
          `<td class="latency">${latency}</td>` +
          `<td>${sparkline(t.recent)}</td></tr>`
        );
      })
      .join('\n');
    const upCount = targets.filter((t) => t.health === 'up').length;
    const panic = first.ipvs?.panic ? ', <strong class="panic">PANIC: nothing is drained</strong>' : '';
    return (
      `<section data-service="${escapeHtml(name)}"><h2>${escapeHtml(name)} <small>${escapeHtml(vip)}:${first.port} ${escapeHtml(first.check)}, ` +
      `${upCount} of ${targets.length} up${panic}</small></h2>\n<table><thead><tr><th>real server</th><th>state</th><th>since</th><th>last probe</th><th>probe time</th><th>recent probe times</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table></section>`
    );
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5">
<title>vipcheck agent: ${down === 0 ? 'all up' : `${down} down`}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.2em 0 .3em}h2 small{font-weight:normal;color:#555}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #ddd;vertical-align:middle}
th{font-weight:600;color:#555}.badge{display:inline-block;min-width:4em;text-align:center;border-radius:3px;padding:0 .4em;color:#fff;font-weight:600}
.badge.up{background:#27ae60}.badge.down{background:#c0392b}tr.down td.rs{color:#c0392b;font-weight:600}
td.last{max-width:40em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}tr.down td.last{white-space:normal}
table{table-layout:fixed}th:nth-child(1){width:14em}th:nth-child(2){width:6em}th:nth-child(3){width:7em}th:nth-child(5){width:7em}th:nth-child(6){width:130px}p.meta{color:#666;margin:0}
</style></head>
<body><h1>vipcheck agent</h1>
<p class="meta">${status.targets.length} targets, <span id="down-count">${down}</span> down. Config ${escapeHtml(status.config)}, loaded ${ago(now - status.configuredAt)} ago. <a href="/metrics">metrics</a> <a href="/status">status JSON</a></p>
${sections.join('\n')}
</body></html>
`;
}
