/**
 * The HTTP checks' run: choose the path, open a connection on it, run one exchange, judge it.
 */
import type {CheckResult} from '../../core/result/check-result.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {openConnector} from '../common/connection.js';
import {ExchangeError, httpExchange} from './exchange.js';
import {judgeFailure, judgeResponse, perfdataFor, type JudgeContext} from './judge.js';
import type {HttpCheckOptions} from './options.js';
import {StatusList} from './status-list.js';

/** http-status's default: parsed once, not on every run (a StatusList is never changed after parsing). */
const HTTP_STATUS_DEFAULT = StatusList.parse('200-399', '--status');

export async function runHttpCheck(options: HttpCheckOptions, context: RunContext, title: 'HTTP' | 'HTTP-STATUS'): Promise<CheckResult> {
  const defaultStatus = title === 'HTTP-STATUS' ? HTTP_STATUS_DEFAULT : undefined;
  const opened = await openConnector(options.target, options.role, context, {maxReceiveBytes: options.request.maxBytes + 65536});
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
