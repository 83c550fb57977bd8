/**
 * The `arp-audit` run: local mode reads this host's settings, active and passive modes share one capture on the
 * VIP's segment (promiscuous when passive, so unicast replies between other hosts are seen too), and the
 * findings of all modes make one result. Thin plumbing around the pure modules.
 */
import {arpInvolving, ndpMessages, type BpfFilter} from '../../core/link/bpf.js';
import {PacketSocketLink} from '../../core/link/packet-socket-link.js';
import {interfaceInfo, interfacesHolding, type InterfaceInfo} from '../../core/neighbor/interfaces.js';
import {buildNeighborSolicitationFrame} from '../../core/neighbor/ndp-resolver.js';
import {bestRoute, chooseSourceAddress, readRoutes} from '../../core/neighbor/route.js';
import type {CheckResult} from '../../core/result/check-result.js';
import {EnvironmentError} from '../../core/errors.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {classifyActive} from './active.js';
import type {Expectation} from './attribution.js';
import {runCapture} from './capture.js';
import {gatherLocalFacts, readFouPorts} from './local-facts.js';
import {auditLocal, decideLocalRole} from './local.js';
import {NdpObserver} from './ndp-observer.js';
import {ArpObserver, distinctMacs, type NeighborObserver} from './observer.js';
import type {ArpAuditOptions} from './options.js';
import {classifyPassive} from './passive.js';
import {buildResult, type AuditReport} from './report.js';
import {reportFrameIntegrity} from '../common/trace.js';

/** The capture stops this long before the deadline, leaving time to judge and print. */
const REPORT_MARGIN_MS = 100;

export async function runArpAudit(options: ArpAuditOptions, context: RunContext): Promise<CheckResult> {
  const {vip} = options;
  let report: AuditReport = {vip, protocol: vip.family === 4 ? 'ARP' : 'NDP', realServers: options.rips.map((ip) => ({ip, macs: []}))};
  if (options.local) {
    const tunnel = options.local.tunnel;
    const facts = gatherLocalFacts(tunnel?.type === 'gue' ? {fouPorts: readFouPorts} : {});
    const decision = decideLocalRole(facts, vip, options.local.role);
    const egress = options.interfaceName === undefined ? {} : {egressInterface: options.interfaceName};
    report = {...report, local: {decision, findings: auditLocal({facts, vip, role: decision.role, ...egress, ...(tunnel ? {tunnel} : {})})}};
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
  const passive = options.listenMs !== undefined;
  const {observer, filter, probeFor} = vip.family === 4 ? arpAudit(info, options) : ndpAudit(info, options);
  for (const rip of rips) for (const mac of localArpMacsHolding(rip)) observer.knowRealServer(rip, mac);

  context.note(2, `capture on ${info.name} (${info.mac}), filter: ${filter}${passive ? ', promiscuous' : ''}`);
  context.note(2, `expected responders: ${expectation.ownVipMacs.length > 0 ? `none (this host holds ${vip})` : expectation.expectMacs.join(', ') || 'not given'}`);
  // PacketSocketLink and send() throw LinkError, an EnvironmentError: UNKNOWN with its one-line reason.
  const link = new PacketSocketLink({interfaceName: info.name, mac: info.mac, filter, promiscuous: passive});
  context.onCleanup(() => link.close());
  reportFrameIntegrity(link, context);
  const trace = context.verbosity >= 3 ? (text: string) => context.note(3, text) : undefined;
  const run = await runCapture(
    link,
    observer,
    {
      probes: options.active?.probes ?? 0,
      intervalMs: options.active?.intervalMs ?? 0,
      listenMs: options.listenMs ?? 0,
      deadline: context.deadline - REPORT_MARGIN_MS,
      ...(probeFor ? {probeFor} : {}),
    },
    trace,
  );
  if (link.handlerError !== undefined) throw link.handlerError;
  // The interface went down or away during the capture: what was not seen proves nothing.
  if (link.receiveError !== undefined) throw new EnvironmentError(`capture on ${info.name} stopped: ${link.receiveError}`);
  const windowMs = run.endedAt - run.startedAt;
  context.note(2, `captured ${observer.frames} ${observer.protocol} frame(s) in ${windowMs.toFixed(0)} ms, ${observer.malformed} malformed; ${run.ripProbes} real server probe(s)`);
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

interface ProtocolSetup {
  readonly observer: NeighborObserver;
  readonly filter: BpfFilter;
  /** Undefined: the capture's default RFC 5227 ARP probe. */
  readonly probeFor?: (target: IpAddress) => Buffer;
}

function arpAudit(info: InterfaceInfo, {vip, rips}: ArpAuditOptions): ProtocolSetup {
  return {observer: new ArpObserver({vip, ownMac: info.mac, rips}), filter: arpInvolving([vip, ...rips])};
}

/**
 * IPv6: ordinary Neighbor Solicitations from our own address on the interface (the VIP's subnet if we have
 * one there, else any, link-local last). Never duplicate-detection probes from `::`, the NDP look-alike of an
 * RFC 5227 probe: a host on which the VIP is still tentative would take one for a duplicate and give the
 * address up (RFC 4862 5.4.3). An answer gives the soliciting host's entry to the answerer, as any traffic
 * from this host would; no other host's cache changes.
 */
function ndpAudit(info: InterfaceInfo, {vip, rips}: ArpAuditOptions): ProtocolSetup {
  const ownIp = chooseSourceAddress(info.addresses, vip);
  if (!ownIp) throw new EnvironmentError(`interface ${info.name} has no IPv6 address to send neighbor solicitations from`);
  return {
    observer: new NdpObserver({vip, ownMac: info.mac, ownIp, rips}),
    filter: ndpMessages(),
    probeFor: (target) => buildNeighborSolicitationFrame(info.mac, ownIp, target),
  };
}

/** The interface holding the VIP here (director), else the on-link route towards it. */
function auditInterface(vip: IpAddress): string {
  const holding = localArpInterfacesHolding(vip)[0];
  if (holding) return holding.name;
  const route = bestRoute(readRoutes(vip.family), vip);
  if (!route) throw new EnvironmentError(`no route to ${vip} (give --interface)`);
  if (route.gateway) {
    throw new EnvironmentError(
      `${vip} is not on-link here (routed via ${route.gateway} on ${route.interfaceName}): ` +
        "the audit must run on the VIP's segment (give --interface)",
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
