/**
 * `tcp` in conversation mode (--send/--expect/--quit): connect on the chosen path, talk, judge the response.
 */
import type {CheckResult} from '../../core/result/check-result.js';
import {State, worst} from '../../core/result/state.js';
import {formatSeconds} from '../../plugin-api/run-check.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {openConnector} from '../common/connection.js';
import {snippet} from '../http/judge.js';
import {converse, quoteFirstLine, type ConversationSpec} from './conversation.js';
import type {TcpCheckOptions} from './options.js';
import {formatMs, judgeTime, timePerf} from './perf.js';
import {formatHostPort} from '../../core/wire/address.js';

const MISMATCH: Record<ConversationSpec['mismatch'], State> = {ok: State.Ok, warning: State.Warning, critical: State.Critical};

export async function runConversationCheck(options: TcpCheckOptions, spec: ConversationSpec, context: RunContext): Promise<CheckResult> {
  const service = formatHostPort(options.target.vip, options.target.port);
  const opened = await openConnector(options.target, options.role, context, {maxReceiveBytes: spec.maxBytes + 65536});
  const outcome = await converse(opened.connect(), spec, context.deadline);
  const shown = opened.path === 'vip' ? service : formatHostPort(options.target.rs, options.target.port);
  const base = {check: 'TCP', path: opened.path, data: Object.assign({}, opened.data, {outcome: outcome.kind, received: outcome.received.toString('latin1')})};
  const details = [...opened.details];
  if (outcome.received.length) details.push(`received: ${snippet(outcome.received)}`);
  const seconds = outcome.responseMs === undefined ? undefined : outcome.responseMs / 1000;
  const perfdata = [timePerf(seconds, options, context)];
  switch (outcome.kind) {
    case 'matched': {
      const judged = judgeTime(seconds ?? 0, options);
      return Object.assign({}, base, {state: worst(State.Ok, judged.state), summary: `${shown} answered ${opened.via} in ${formatMs(outcome.responseMs ?? 0)}${quoteFirstLine(outcome.received)}${judged.suffix}`, details, perfdata});
    }
    case 'mismatch':
      return Object.assign({}, base, {state: MISMATCH[spec.mismatch], summary: `${shown} answered ${opened.via} but not as expected${quoteFirstLine(outcome.received)}`, details, perfdata});
    case 'closed-early':
      return Object.assign({}, base, {state: State.Critical, summary: `${shown} closed the connection ${opened.via} without sending anything`, details, perfdata});
    case 'refused':
      return Object.assign({}, base, {state: State.Critical, summary: `${shown} refused the connection ${opened.via}`, details, perfdata});
    case 'reset':
      return Object.assign({}, base, {state: State.Critical, summary: `${shown} reset the connection ${opened.via}`, details, perfdata});
    case 'timeout': {
      const hint = outcome.connectMs === undefined && opened.path === 'vip' ? " (is the VIP configured on the real server's loopback?)" : '';
      const what = outcome.connectMs === undefined ? 'no answer from' : 'no response from';
      return Object.assign({}, base, {state: State.Critical, summary: `${what} ${shown} ${opened.via} within ${formatSeconds(context.timeoutMs)}${hint}`, details, perfdata});
    }
    case 'error':
      return Object.assign({}, base, {state: State.Critical, summary: `connection to ${shown} ${opened.via} failed: ${outcome.message ?? 'unknown error'}`, details, perfdata});
  }
}
