/**
 * `udp --send/--expect`: one datagram through the VIP path, the first reply judged with tcp's expectations
 * (the same escapes, --expect/--expect-all/--expect-regex and --mismatch state). One reply datagram is the whole
 * response: UDP has no stream to read more of.
 */
import type {CheckResult, Thresholds} from '../../core/result/check-result.js';
import {State, worst} from '../../core/result/state.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {snippet} from '../http/judge.js';
import type {TargetOptions} from '../common/target.js';
import {exchangeThroughVip, noReplyResult} from '../common/vip-udp.js';
import {hasExpectations, matchResponse, quoteFirstLine, type ConversationSpec} from '../tcp/conversation.js';
import {formatMs, judgeTime, timePerf} from '../tcp/perf.js';

export interface UdpCheckOptions {
  readonly target: TargetOptions;
  readonly thresholds: Thresholds;
  /** `send` is always set (prepare requires it). */
  readonly spec: ConversationSpec;
}

const MISMATCH: Record<ConversationSpec['mismatch'], State> = {ok: State.Ok, warning: State.Warning, critical: State.Critical};

export async function runUdpCheck(options: UdpCheckOptions, context: RunContext): Promise<CheckResult> {
  const exchange = await exchangeThroughVip(options.target, context, options.spec.send!);
  const {outcome} = exchange;
  if (outcome.kind !== 'reply') return noReplyResult('UDP', exchange, context, options.thresholds);
  const received = outcome.payload.subarray(0, options.spec.maxBytes);
  const seconds = outcome.elapsedMs / 1000;
  const base = {
    check: 'UDP',
    path: 'vip' as const,
    details: [...exchange.details, `received: ${snippet(received)}`],
    data: Object.assign({}, exchange.data, {received: received.toString('latin1')}),
    perfdata: [timePerf(seconds, options, context)],
  };
  const attempts = outcome.attempts > 1 ? ` (after ${outcome.attempts} datagrams)` : '';
  // A datagram is all there is: "not yet settled" (undefined) is a mismatch.
  const matched = !hasExpectations(options.spec) || matchResponse(received, options.spec) === true;
  if (!matched) {
    return Object.assign({}, base, {state: MISMATCH[options.spec.mismatch], summary: `${exchange.service} answered ${exchange.via} but not as expected${quoteFirstLine(received)}`});
  }
  const judged = judgeTime(seconds, options);
  const suffix = judged.suffix;
  return Object.assign({}, base, {
    state: worst(State.Ok, judged.state),
    summary: `${exchange.service} answered ${exchange.via} in ${formatMs(outcome.elapsedMs)}${attempts}${quoteFirstLine(received)}${suffix}`,
  });
}
