/**
 * Typed options of `vipcheck arp-audit`, converted from its flags, and the time budget: the probing window and
 * the listening time must fit in --timeout (with a reserve for start-up and the report), since the check may
 * never run past it. Defaults shrink to fit a short timeout; values given explicitly are never changed
 * silently, a misfit is a usage error (UNKNOWN) saying what would fit.
 */
import type {FlagValues} from '../../plugin-api/flag-spec.js';
import {formatSeconds as seconds} from '../../plugin-api/run-check.js';
import {interfaceFlag, ipFlag, macFlag, requiredIpFlag, secondsFlag, stringFlag} from '../../plugin-api/convert.js';
import {tunnelOptions} from '../common/target.js';
import {UsageError} from '../../core/errors.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import type {LocalRoleChoice} from './local.js';
import type {TunnelOptions} from '../common/target.js';

export const DEFAULT_PROBES = 3;
export const DEFAULT_INTERVAL_MS = 500;
export const MAX_PROBES = 100;
/** Shortest interval between probes: real responders answer within a millisecond on a LAN. */
export const MIN_INTERVAL_MS = 10;
/** Kept free of the --timeout budget for node start-up, opening the capture and printing the result. */
export const RESERVE_MS = 300;

export interface ActivePlan {
  readonly probes: number;
  readonly intervalMs: number;
}

export interface ArpAuditOptions {
  readonly vip: IpAddress;
  readonly interfaceName?: string;
  readonly expectMacs: readonly MacAddress[];
  readonly rips: readonly IpAddress[];
  /** Set when active mode runs. */
  readonly active?: ActivePlan;
  /** Set when passive mode runs. */
  readonly listenMs?: number;
  /** Set when local mode runs. */
  readonly local?: {readonly role: LocalRoleChoice; readonly tunnel?: TunnelOptions};
}

export function arpAuditOptions(values: FlagValues): ArpAuditOptions {
  // An IPv4 VIP is audited with ARP, an IPv6 one with Neighbor Discovery.
  const vip = requiredIpFlag(values, 'vip');
  const interfaceName = interfaceFlag(values, 'interface');
  const expectMacs = listFlag(values, 'expect-mac').map((text) => macFlag({'expect-mac': text}, 'expect-mac')!);
  const rips = listFlag(values, 'rs').map((text) => {
    const rip = ipFlag({rs: text}, 'rs')!;
    if (rip.family !== vip.family) {
      throw new UsageError(`--rs ${rip} is IPv${rip.family} but the VIP is IPv${vip.family}: real servers are named by ${vip.family === 4 ? 'ARP' : 'NDP'}, give their IPv${vip.family} addresses`);
    }
    if (rip.equals(vip)) throw new UsageError(`--rs ${rip} is the VIP: give the real servers' own addresses`);
    return rip;
  });

  const wantsActive = values['active'] === true || stringFlag(values, 'probes') !== undefined || stringFlag(values, 'interval') !== undefined;
  const wantsPassive = stringFlag(values, 'listen') !== undefined;
  const wantsLocal = values['local'] === true;
  const roleText = stringFlag(values, 'local-role');
  if (roleText !== undefined && !wantsLocal) throw new UsageError('--local-role needs --local');
  // The port is optional here: without it any GUE receive port will do.
  const tunnel = tunnelOptions(values, {gueNeedsPort: false});
  if (tunnel && !wantsLocal) throw new UsageError('--forwarding tun applies to --local only (it selects the TUN real-server checks)');
  if (tunnel && roleText === 'director') throw new UsageError('--forwarding tun judges a real server: it does not combine with --local-role director');

  const timeoutMs = secondsFlag(values, 'timeout');
  const budgetMs = timeoutMs - RESERVE_MS;
  const active = wantsActive || (!wantsPassive && !wantsLocal) ? activePlan(values, timeoutMs, budgetMs) : undefined;
  const listenMs = wantsPassive ? secondsFlag(values, 'listen') : undefined;
  if (listenMs !== undefined && listenMs > budgetMs) {
    throw new UsageError(
      `--listen ${seconds(listenMs)} does not fit in --timeout ${seconds(timeoutMs)} (${seconds(RESERVE_MS)} are kept for start-up): ` +
        `raise --timeout to at least ${seconds(listenMs + RESERVE_MS)}`,
    );
  }
  return {
    vip,
    ...(interfaceName === undefined ? {} : {interfaceName}),
    expectMacs: dedupe(expectMacs),
    rips: dedupe(rips),
    ...(active ? {active} : {}),
    ...(listenMs === undefined ? {} : {listenMs}),
    ...(wantsLocal ? {local: {role: tunnel ? 'realserver' : ((roleText ?? 'auto') as LocalRoleChoice), ...(tunnel ? {tunnel} : {})}} : {}),
  };
}

/** --probes and --interval; what was not given is sized to fit the budget. */
function activePlan(values: FlagValues, timeoutMs: number, budgetMs: number): ActivePlan {
  const probesText = stringFlag(values, 'probes');
  let probes: number | undefined;
  if (probesText !== undefined) {
    if (!/^\d{1,3}$/.test(probesText) || Number(probesText) < 1 || Number(probesText) > MAX_PROBES) {
      throw new UsageError(`--probes: '${probesText}' is not a number of probes (1-${MAX_PROBES})`);
    }
    probes = Number(probesText);
  }
  let intervalMs = stringFlag(values, 'interval') === undefined ? undefined : secondsFlag(values, 'interval', 60);
  if (intervalMs !== undefined && intervalMs < MIN_INTERVAL_MS) {
    throw new UsageError(`--interval: ${seconds(intervalMs)} is shorter than ${seconds(MIN_INTERVAL_MS)}`);
  }
  const explicit = [probesText === undefined ? '' : `--probes ${probes}`, intervalMs === undefined ? '' : `--interval ${seconds(intervalMs)}`]
    .filter((t) => t !== '')
    .join(' and ');
  // Several rounds matter more than long gaps (a LAN answers within a millisecond): shrink the interval first.
  probes ??= intervalMs === undefined ? DEFAULT_PROBES : Math.max(1, Math.min(DEFAULT_PROBES, Math.floor(budgetMs / intervalMs)));
  intervalMs ??= Math.min(DEFAULT_INTERVAL_MS, Math.floor(budgetMs / probes));
  if (explicit === '' && intervalMs < MIN_INTERVAL_MS) {
    probes = Math.max(1, Math.min(probes, Math.floor(budgetMs / MIN_INTERVAL_MS)));
    intervalMs = MIN_INTERVAL_MS;
  }
  if (intervalMs < MIN_INTERVAL_MS || probes * intervalMs > budgetMs) {
    const what = explicit === '' ? 'the active probes' : explicit;
    throw new UsageError(
      `${what} need ${seconds(probes * Math.max(intervalMs, MIN_INTERVAL_MS))}, which does not fit in --timeout ${seconds(timeoutMs)} ` +
        `(${seconds(RESERVE_MS)} are kept for start-up): lower them or raise --timeout`,
    );
  }
  return {probes, intervalMs};
}

/** A repeatable flag; each value may also hold a comma-separated list (handy in NRPE and Icinga 2 configs). */
function listFlag(values: FlagValues, name: string): string[] {
  const raw = values[name];
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  return list.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function dedupe<T extends {equals(other: T): boolean}>(items: readonly T[]): T[] {
  return items.filter((item, i) => items.findIndex((o) => o.equals(item)) === i);
}

