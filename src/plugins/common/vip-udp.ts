/**
 * One UDP request/response through the VIP path, what `udp` and `dns` share: the path (with a UDP source port
 * and a link carrying the flow's datagrams and the unreachables quoting them), the flow, the exchange with its
 * retransmissions, and the words for the outcomes that are not a reply.
 *
 * No role flags: unlike TCP, a director without the VIP (a backup) loses nothing on the VIP path, since this
 * host's kernel has no connection to reset and the port's bound UDP socket keeps it from answering the replies
 * with ICMP port unreachable.
 */
import {exchangeUdp, type UdpExchangeOutcome} from '../../core/flow/udp-exchange.js';
import {UdpFlow} from '../../core/flow/udp-flow.js';
import {secondsPerfDatum, type CheckResult, type Thresholds} from '../../core/result/check-result.js';
import {State} from '../../core/result/state.js';
import {randomUint32} from '../../core/random.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {formatSeconds} from '../../plugin-api/run-check.js';
import type {TargetOptions} from './target.js';
import {packetTrace} from './trace.js';
import {describeHop, openVipPath, silenceHint, vipPathFacts, type VipPath} from './vip-path.js';
import {formatHostPort} from '../../core/wire/address.js';

export interface VipUdpExchange {
  readonly target: TargetOptions;
  readonly path: VipPath;
  readonly outcome: UdpExchangeOutcome;
  /** "198.51.100.100:53", "via 198.51.100.11 (02:..)", the path line and the --json facts. */
  readonly service: string;
  readonly via: string;
  readonly details: string[];
  readonly data: Record<string, unknown>;
}

export async function exchangeThroughVip(
  target: TargetOptions,
  context: RunContext,
  request: Uint8Array,
  accept?: (payload: Buffer) => boolean,
): Promise<VipUdpExchange> {
  const path = await openVipPath(target, context, 'udp');
  const flow = new UdpFlow(
    {localMac: path.link.mac, remoteMac: path.rsMac, localIp: path.source, remoteIp: target.vip, localPort: path.localPort, remotePort: target.port},
    randomUint32(),
  );
  const outcome = await exchangeUdp({
    link: path.link,
    flow,
    request,
    deadline: context.deadline,
    ...(accept ? {accept} : {}),
    ...(context.verbosity >= 3 ? packetTrace(context) : {}),
  });
  if (outcome.ignored > 0) context.note(1, `${outcome.ignored} datagram(s) from ${target.vip}:${target.port} did not answer the request and were ignored`);
  const reason = 'UDP: no role needed';
  return {
    target,
    path,
    outcome,
    service: formatHostPort(target.vip, target.port),
    via: describeHop(target, path),
    details: [`path: VIP path to ${formatHostPort(target.vip, target.port)} on ${path.interfaceName}`],
    data: Object.assign(vipPathFacts(target, path, reason), {protocol: 'udp', attempts: outcome.attempts, outcome: outcome.kind}),
  };
}

/** The result of an exchange that got no reply: CRITICAL either way, with what was seen. */
export function noReplyResult(check: string, exchange: VipUdpExchange, context: RunContext, thresholds: Thresholds, extraPerfdata: CheckResult['perfdata'] = []): CheckResult {
  const {outcome, service, via} = exchange;
  const base = {check, path: 'vip' as const, state: State.Critical, details: exchange.details, data: exchange.data};
  const perf = (seconds: number | undefined) => [secondsPerfDatum('time', seconds, context.timeoutMs, thresholds), ...extraPerfdata];
  if (outcome.kind === 'unreachable') {
    const {report} = outcome;
    // A closed port on the real server answers from the VIP (the address the datagram was sent to).
    if (report.portUnreachable && report.reporter.equals(exchange.target.vip)) {
      return Object.assign({}, base, {
        summary: `${service} refused the request ${via} (ICMP port unreachable from the VIP): the real server holds the VIP but nothing listens on UDP port ${exchange.target.port}`,
        perfdata: perf(outcome.elapsedMs / 1000),
      });
    }
    const what = report.portUnreachable ? 'port unreachable' : `destination unreachable (code ${report.code})`;
    return Object.assign({}, base, {summary: `${service} is unreachable ${via}: ICMP${report.family === 6 ? 'v6' : ''} ${what} from ${report.reporter}`, perfdata: perf(outcome.elapsedMs / 1000)});
  }
  if (outcome.kind === 'timeout') {
    return Object.assign({}, base, {
      summary:
        `no answer from ${service} ${via} within ${formatSeconds(context.timeoutMs)} to ${outcome.attempts} datagram${outcome.attempts === 1 ? '' : 's'} ` +
        silenceHint(exchange.path, ', and the service running'),
      perfdata: perf(undefined),
    });
  }
  throw new TypeError('noReplyResult called with a reply');
}
