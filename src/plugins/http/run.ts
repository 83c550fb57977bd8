/**
 * The HTTP checks' run: choose the path, open a connection on it, run one exchange, judge it.
 */
import {State} from '../../core/result/state.js';
import type {CheckResult} from '../../core/result/check-result.js';
import type {RunContext} from '../plugin.js';
import {openConnector} from '../common/connection.js';
import {NeighborUnreachableError} from '../common/vip-path.js';
import {ExchangeError, httpExchange} from './exchange.js';
import {judgeFailure, judgeResponse, perfdataFor, type JudgeContext} from './judge.js';
import type {HttpCheckOptions} from './options.js';
import {StatusList} from './status-list.js';

export async function runHttpCheck(options: HttpCheckOptions, context: RunContext, title: 'HTTP' | 'HTTP-STATUS'): Promise<CheckResult> {
  const defaultStatus = title === 'HTTP-STATUS' ? StatusList.parse('200-399', '--status') : undefined;
  let opened;
  try {
    opened = await openConnector(options.target, options.role, context, {maxReceiveBytes: options.request.maxBytes + 65536});
  } catch (error) {
    if (error instanceof NeighborUnreachableError) {
      const ctx = {title, path: 'vip' as const, via: '', timeoutMs: context.timeoutMs, details: [], data: {}};
      return {check: title, state: State.Critical, summary: error.message, details: [], perfdata: perfdataFor(options, ctx, {}, undefined), path: 'vip'};
    }
    throw error;
  }
  const ctx: JudgeContext = {
    title,
    path: opened.path,
    via: opened.via,
    timeoutMs: context.timeoutMs,
    details: opened.details,
    data: opened.data,
    ...(defaultStatus ? {defaultStatus} : {}),
  };
  const started = performance.now();
  try {
    const facts = await httpExchange(opened.connect, options.request, options.tls, context.deadline);
    return judgeResponse(options, ctx, facts, performance.now() - started);
  } catch (error) {
    if (error instanceof ExchangeError) return judgeFailure(options, ctx, error);
    throw error;
  }
}
