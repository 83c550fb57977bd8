/**
 * The `arp-audit` run: local mode reads this host's settings, active and passive modes share one capture on the
 * VIP's segment (promiscuous when passive, so unicast replies between other hosts are seen too), and the
 * findings of all modes make one result. Thin plumbing around the pure modules.
 */
import {arpInvolving} from '../../core/link/bpf.js';
import {PacketSocketLink} from '../../core/link/packet-socket-link.js';
import {interfaceInfo, interfacesHolding, type InterfaceInfo} from '../../core/neighbor/interfaces.js';
import {bestRoute, readRoutes} from '../../core/neighbor/route.js';
import type {CheckResult} from '../../core/result/check-result.js';
import {EnvironmentError} from '../../core/errors.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import type {RunContext} from '../plugin.js';
import {classifyActive} from './active.js';
import type {Expectation} from './attribution.js';
import {runCapture} from './capture.js';
import {gatherLocalFacts} from './local-facts.js';
import {auditLocal, decideLocalRole} from './local.js';
import {ArpObserver, distinctMacs} from './observer.js';
import type {ArpAuditOptions} from './options.js';
import {classifyPassive} from './passive.js';
import {buildResult, type AuditReport} from './report.js';

/** The capture stops this long before the deadline, leaving time to judge and print. */
const REPORT_MARGIN_MS = 100;

export async function runArpAudit(options: ArpAuditOptions, context: RunContext): Promise<CheckResult> {
  const {vip} = options;
  let report: AuditReport = {vip, realServers: options.rips.map((ip) => ({ip, macs: []}))};
  if (options.local) {
    const facts = gatherLocalFacts();
    const decision = decideLocalRole(facts, vip, options.local.role);
    const egress = options.interfaceName === undefined ? {} : {egressInterface: options.interfaceName};
    report = {...report, local: {decision, findings: auditLocal({facts, vip, role: decision.role, ...egress})}};
  }
  if (options.active || options.listenMs !== undefined) report = {...report, ...(await captureModes(options, context))};
  return buildResult(report);
}

async function captureModes(options: ArpAuditOptions, context: RunContext): Promise<Partial<AuditReport>> {
  const {vip, rips} = options;
  const interfaceName = options.interfaceName ?? auditInterface(vip);
  const info = interfaceInfo(interfaceName);
  if (!info.ethernet) throw new EnvironmentError(`interface ${info.name} is not an Ethernet interface`);
  if (!info.up) throw new EnvironmentError(`interface ${info.name} is down`);
  const expectation: Expectation = {ownVipMacs: localArpMacsHolding(vip), expectMacs: options.expectMacs};
  const observer = new ArpObserver({vip, ownMac: info.mac, rips});
  for (const rip of rips) for (const mac of localArpMacsHolding(rip)) observer.knowRealServer(rip, mac);

  const passive = options.listenMs !== undefined;
  const filter = arpInvolving([vip, ...rips]);
  context.note(2, `capture on ${info.name} (${info.mac}), filter: ${filter}${passive ? ', promiscuous' : ''}`);
  context.note(2, `expected responders: ${expectation.ownVipMacs.length > 0 ? `none (this host holds ${vip})` : expectation.expectMacs.join(', ') || 'not given'}`);
  // PacketSocketLink and send() throw LinkError, an EnvironmentError: UNKNOWN with its one-line reason.
  const link = new PacketSocketLink({interfaceName: info.name, mac: info.mac, filter, promiscuous: passive});
  context.onCleanup(() => link.close());
  const trace = context.verbosity >= 3 ? (text: string) => context.note(3, text) : undefined;
  const run = await runCapture(
    link,
    observer,
    {
      probes: options.active?.probes ?? 0,
      intervalMs: options.active?.intervalMs ?? 0,
      listenMs: options.listenMs ?? 0,
      deadline: context.deadline - REPORT_MARGIN_MS,
    },
    trace,
  );
  if (link.handlerError !== undefined) throw link.handlerError;
  const windowMs = run.endedAt - run.startedAt;
  context.note(2, `captured ${observer.frames} ARP frame(s) in ${windowMs.toFixed(0)} ms, ${observer.malformed} malformed; ${run.ripProbes} real server probe(s)`);
  return {
    interfaceName: info.name,
    realServers: rips.map((ip) => ({ip, macs: observer.macsOf(ip)})),
    ...(options.active
      ? {active: {...classifyActive({observer, expectation, interfaceName: info.name, windowMs}), intervalMs: options.active.intervalMs}}
      : {}),
    ...(passive
      ? {
          passive: {
            ...classifyPassive({observer, expectation, startedAt: run.startedAt}),
            listenMs: options.listenMs!,
            foreignProbes: observer.foreignProbes,
          },
        }
      : {}),
  };
}

/** The interface holding the VIP here (director), else the on-link route towards it. */
function auditInterface(vip: IpAddress): string {
  const holding = localArpInterfacesHolding(vip)[0];
  if (holding) return holding.name;
  const route = bestRoute(readRoutes(4), vip);
  if (!route) throw new EnvironmentError(`no route to ${vip}; give --interface`);
  if (route.gateway) {
    throw new EnvironmentError(
      `${vip} is not on-link here (routed via ${route.gateway} on ${route.interfaceName}): ` +
        "the audit must run on the VIP's segment; give --interface",
    );
  }
  return route.interfaceName;
}

/** This host's ARP-capable interfaces holding `address` (alias labels such as `eth0:1` folded into their device). */
function localArpInterfacesHolding(address: IpAddress): InterfaceInfo[] {
  return interfacesHolding(address)
    .map((label) => interfaceInfo(label.split(':')[0]!))
    .filter((info) => info.ethernet && info.arp);
}

function localArpMacsHolding(address: IpAddress): MacAddress[] {
  return distinctMacs(localArpInterfacesHolding(address).map((info) => info.mac));
}
