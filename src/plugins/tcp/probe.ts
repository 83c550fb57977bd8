/**
 * The `tcp` check's run: decide the path (role), probe, and turn the outcome into a result.
 */
import {randomUint32} from '../../core/random.js';
import type {CheckResult} from '../../core/result/check-result.js';
import {State, worst} from '../../core/result/state.js';
import {drive} from '../../core/flow/drive.js';
import {SynProbe, type SynProbeOutcome} from '../../core/tcp/syn-probe.js';
import {isLocalAddress} from '../../core/neighbor/interfaces.js';
import {formatSeconds} from '../../plugin-api/run-check.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {decidePath} from '../common/role.js';
import {packetTrace} from '../common/trace.js';
import {ripConnect, ripSource, type RipConnectOutcome} from '../common/rip-connect.js';
import {describeHop, silenceHint, vipPathFacts, type VipPath} from '../common/vip-path.js';
import {openVipFlow} from '../common/vip-flow.js';
import type {TcpCheckOptions} from './options.js';
import {formatMs, judgeTime, timePerf} from './perf.js';
import {formatHostPort} from '../../core/wire/address.js';

/** First SYN retransmission; doubles each time (RFC 6298 backoff), bounded by the deadline. */
const INITIAL_SYN_RTO_MS = 200;

export async function runTcpCheck(options: TcpCheckOptions, context: RunContext): Promise<CheckResult> {
  if (options.conversation) {
    const {runConversationCheck} = await import('./converse-check.js');
    return runConversationCheck(options, options.conversation, context);
  }
  const decision = decidePath(options.role, options.target.vip, isLocalAddress);
  if (decision.path === 'rip') {
    const {rs, port} = options.target;
    const source = ripSource(options.target);
    if (source) context.note(2, `kernel connect from ${source}`);
    const outcome = await ripConnect(rs, port, context.deadline, {
      ...(source ? {source} : {}),
      cleanClose: options.cleanClose,
    });
    return ripResult(options, context, outcome, decision.reason);
  }
  const {path, flow, mss} = await openVipFlow(options.target, context, {conversation: false});
  const probe = new SynProbe({
    localPort: path.localPort,
    remotePort: options.target.port,
    isn: randomUint32(),
    mss,
    close: options.cleanClose ? 'fin' : 'rst',
    initialRtoMs: INITIAL_SYN_RTO_MS,
    deadline: context.deadline,
    timestampBase: path.timestampBase,
  });
  await drive(path.link, flow, probe, {
    ...(context.verbosity >= 3 ? packetTrace(context) : {}),
  });
  for (const note of probe.notes) context.note(1, note);
  return vipResult(options, context, probe.outcome ?? {kind: 'timeout', attempts: 0}, path, decision.reason);
}

function vipResult(
  options: TcpCheckOptions,
  context: RunContext,
  outcome: SynProbeOutcome,
  path: VipPath,
  reason: string,
): CheckResult {
  const {vip, port} = options.target;
  const service = formatHostPort(vip, port);
  const via = describeHop(options.target, path);
  // No spread followed by more keys, here or in `result`: that costs V8 a few µs per probe (docs/benchmarks.md).
  const data = Object.assign(vipPathFacts(options.target, path, reason), {attempts: outcome.attempts, outcome: outcome.kind});
  const details = [`path: VIP path on ${path.interfaceName} (${reason})`];
  const result = (state: State, summary: string, perfdata: CheckResult['perfdata']): CheckResult => ({check: 'TCP', path: 'vip', data, state, summary, details, perfdata});
  switch (outcome.kind) {
    case 'open': {
      const seconds = outcome.rttMs / 1000;
      const judged = judgeTime(seconds, options);
      if (outcome.closedCleanly === false) details.push('the connection opened but did not close cleanly (aborted with RST)');
      return result(worst(State.Ok, judged.state), `${service} answered ${via} in ${formatMs(outcome.rttMs)}${judged.suffix}`, [timePerf(seconds, options, context)]);
    }
    case 'refused':
      return result(State.Critical, `${service} refused the connection ${via} (RST after ${formatMs(outcome.rttMs)}): the real server holds the VIP but nothing listens on port ${port}`, [timePerf(outcome.rttMs / 1000, options, context)]);
    case 'timeout':
      return result(
        State.Critical,
        `no answer from ${service} ${via} within ${formatSeconds(context.timeoutMs)} to ${outcome.attempts} SYN${outcome.attempts === 1 ? '' : 's'} ` + silenceHint(path),
        [timePerf(undefined, options, context)],
      );
  }
}

function ripResult(options: TcpCheckOptions, context: RunContext, outcome: RipConnectOutcome, reason: string): CheckResult {
  const {rs, port, vip} = options.target;
  const service = formatHostPort(rs, port);
  const data = {vip: vip.toString(), rs: rs.toString(), port, role: reason, outcome: outcome.kind};
  const details = [`path: kernel connect to RIP (${reason}); the VIP path was not tested`];
  const result = (state: State, summary: string, perfdata: CheckResult['perfdata']): CheckResult => ({check: 'TCP', path: 'rip', data, details, state, summary, perfdata});
  switch (outcome.kind) {
    case 'open': {
      const judged = judgeTime(outcome.ms / 1000, options);
      return result(judged.state, `${service} answered (kernel connect to RIP) in ${formatMs(outcome.ms)}${judged.suffix}`, [timePerf(outcome.ms / 1000, options, context)]);
    }
    case 'refused':
      return result(State.Critical, `${service} refused the connection (kernel connect to RIP)`, [timePerf(outcome.ms / 1000, options, context)]);
    case 'timeout':
      return result(State.Critical, `no answer from ${service} (kernel connect to RIP) within ${formatSeconds(context.timeoutMs)}`, [timePerf(undefined, options, context)]);
    case 'error':
      return result(State.Critical, `connect to ${service} failed: ${outcome.code}`, [timePerf(undefined, options, context)]);
  }
}
