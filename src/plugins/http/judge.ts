/**
 * Turns an HTTP exchange (or its failure) into a check result: one finding per expectation, the worst decides.
 * Pure: facts and options in, CheckResult out, so every rule is unit-tested without a network.
 */
import type * as Crypto from 'node:crypto';
import {nodeRequire} from '../../core/node-require.js';
import type {CheckResult, ProbePath} from '../../core/result/check-result.js';
import {evaluateThresholds, secondsPerfDatum} from '../../core/result/check-result.js';
import type {PerfDatum} from '../../core/result/perfdata.js';
import {State, stateName, worst} from '../../core/result/state.js';
import type {ExchangeError, HttpResponseFacts, Timings} from './exchange.js';
import type {ContentExpectations, HttpCheckOptions} from './options.js';
import {StatusList} from './status-list.js';

export interface Finding {
  readonly state: State;
  readonly text: string;
}

export interface JudgeContext {
  readonly title: 'HTTP' | 'HTTP-STATUS';
  readonly path: ProbePath;
  /** "via 198.51.100.11 (02:..)" or "(kernel connect to RIP)". */
  readonly via: string;
  readonly timeoutMs: number;
  readonly details: readonly string[];
  readonly data: Readonly<Record<string, unknown>>;
  /** http-status's default acceptance (200-399); the http check's default is the class rule. */
  readonly defaultStatus?: StatusList;
}

const MAX_SNIPPET = 160;
const DAY_MS = 86_400_000;

export function statusFinding(status: number, accepted: StatusList | undefined): Finding {
  if (accepted) {
    return accepted.accepts(status)
      ? {state: State.Ok, text: `status ${status}`}
      : {state: State.Critical, text: `status ${status} is not in ${accepted.text}`};
  }
  if (status >= 200 && status < 400) return {state: State.Ok, text: `status ${status}`};
  if (status >= 400 && status < 500) return {state: State.Warning, text: `status ${status} (client error)`};
  if (status >= 500 && status < 600) return {state: State.Critical, text: `status ${status} (server error)`};
  return {state: State.Critical, text: `status ${status} is not a valid HTTP status`};
}

export function contentFindings(facts: HttpResponseFacts, expect: ContentExpectations, now: number): Finding[] {
  const findings: Finding[] = [];
  const body = facts.body;
  if (expect.string !== undefined && !body.includes(expect.string)) {
    findings.push({state: State.Critical, text: `string '${expect.string}' not found in the body`});
  }
  if (expect.regex) {
    const matched = expect.regex.test(body.toString('utf8'));
    if (matched === expect.invertRegex) {
      findings.push({
        state: State.Critical,
        text: expect.invertRegex ? `body matches ${expect.regex} (inverted)` : `body does not match ${expect.regex}`,
      });
    }
  }
  for (const match of expect.headerMatches) {
    const value = facts.headers[match.name];
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (text === undefined) findings.push({state: State.Critical, text: `header ${match.name} is missing`});
    else if (!match.regex.test(text)) findings.push({state: State.Critical, text: `header ${match.name}: '${text}' does not match ${match.regex}`});
  }
  if (expect.digest !== undefined) {
    // node:crypto is loaded only for --digest (~1 ms of every HTTP check otherwise).
    const {createHash} = nodeRequire()('node:crypto') as typeof Crypto;
    const digest = createHash('md5').update(body).digest('hex');
    if (digest !== expect.digest) findings.push({state: State.Critical, text: `body MD5 ${digest} differs from ${expect.digest}`});
  }
  if (expect.size) {
    const {min, max} = expect.size;
    if (facts.bodyBytes < min || (max !== undefined && facts.bodyBytes > max)) {
      findings.push({state: State.Warning, text: `body size ${facts.bodyBytes} B is outside ${min}:${max ?? ''}`});
    }
  }
  if (expect.certDays && facts.tls?.validTo) {
    const days = (facts.tls.validTo.getTime() - now) / DAY_MS;
    const {warn, crit} = expect.certDays;
    const when = `certificate expires in ${days.toFixed(1)} days (${facts.tls.validTo.toISOString().slice(0, 10)})`;
    if (days < (crit ?? -Infinity) || days < 0) findings.push({state: State.Critical, text: when});
    else if (days < warn) findings.push({state: State.Warning, text: when});
  }
  if (facts.truncated) {
    findings.push({state: State.Warning, text: `body longer than --max-bytes: read stopped after ${facts.readBytes} B`});
  }
  return findings;
}

function seconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

export function perfdataFor(options: HttpCheckOptions, ctx: JudgeContext, timings: Timings, totalMs: number | undefined, facts?: HttpResponseFacts): PerfDatum[] {
  const perf = (label: string, ms: number | undefined) => secondsPerfDatum(label, seconds(ms), ctx.timeoutMs);
  const items: PerfDatum[] = [secondsPerfDatum('time', seconds(totalMs), ctx.timeoutMs, options.thresholds)];
  if (ctx.title === 'HTTP-STATUS') {
    items.push({label: 'status', value: facts?.status});
    return items;
  }
  items.push({label: 'size', value: facts?.bodyBytes, uom: 'B', min: 0});
  if (options.expect.extendedPerfdata) {
    items.push(
      perf('time_connect', timings.connect),
      perf('time_tls', timings.tls),
      perf('time_headers', timings.headers),
      perf('time_firstbyte', timings.firstByte),
      perf('time_transfer', timings.transfer),
    );
  }
  return items;
}

export function judgeResponse(options: HttpCheckOptions, ctx: JudgeContext, facts: HttpResponseFacts, totalMs: number, now = Date.now()): CheckResult {
  const status = statusFinding(facts.status, options.expect.status ?? ctx.defaultStatus);
  const findings = [status, ...(ctx.title === 'HTTP' ? contentFindings(facts, options.expect, now) : [])];
  const timeState = evaluateThresholds(totalMs / 1000, options.thresholds);
  if (timeState !== State.Ok) findings.push({state: timeState, text: `response time ${(totalMs / 1000).toFixed(3)} s crossed the ${stateName(timeState).toLowerCase()} threshold`});
  const state = worst(...findings.map((f) => f.state));
  const problems = findings.filter((f) => f.state !== State.Ok);
  const line = `HTTP/${facts.httpVersion} ${facts.status} ${facts.statusMessage}`.trim();
  const size = ctx.title === 'HTTP' && facts.bodyBytes >= 0 ? `, ${facts.bodyBytes} B` : '';
  const summary =
    `${line}${size} in ${(totalMs / 1000).toFixed(3)} s ${ctx.via}` + (problems.length ? `: ${problems.map((p) => p.text).join(', ')}` : '');
  const details = [...ctx.details, ...problems.map((p) => `${stateName(p.state)}: ${p.text}`)];
  if (problems.length && ctx.title === 'HTTP' && facts.body.length) details.push(`body starts: ${snippet(facts.body)}`);
  if (facts.tls) {
    details.push(
      `TLS ${facts.tls.protocol ?? '?'} ${facts.tls.cipher}${facts.tls.subject ? `, certificate ${facts.tls.subject}` : ''}` +
        (facts.tls.validTo ? ` valid to ${facts.tls.validTo.toISOString().slice(0, 10)}` : '') +
        (facts.tls.authorized ? '' : ` (not verified: ${facts.tls.authorizationError ?? 'unknown'})`),
    );
  }
  return {
    check: ctx.title,
    state,
    summary,
    details,
    perfdata: perfdataFor(options, ctx, facts.timings, totalMs, facts),
    path: ctx.path,
    // Object.assign, not a spread followed by more keys: that costs V8 6-7 µs here (docs/benchmarks.md).
    data: Object.assign(
      {},
      ctx.data,
      {
        status: facts.status,
        httpVersion: facts.httpVersion,
        bodyBytes: facts.bodyBytes,
        timings: facts.timings,
        findings: findings.map((f) => ({state: stateName(f.state), text: f.text})),
      },
      facts.tls ? {tls: Object.assign({}, facts.tls, {validTo: facts.tls.validTo?.toISOString()})} : undefined,
    ),
  };
}

export function judgeFailure(options: HttpCheckOptions, ctx: JudgeContext, error: ExchangeError): CheckResult {
  const hint =
    error.kind === 'timeout' && error.timings.connect === undefined && ctx.path === 'vip'
      ? ' (is the VIP configured on the real server\'s loopback?)'
      : '';
  return {
    check: ctx.title,
    state: State.Critical,
    summary: `${error.message} ${ctx.via}${hint}`,
    details: [...ctx.details],
    perfdata: perfdataFor(options, ctx, error.timings, undefined),
    path: ctx.path,
    data: Object.assign({}, ctx.data, {error: error.kind}),
  };
}

/** The start of a body as one safe line: no `|` (render.ts replaces it), no control characters, bounded. */
export function snippet(body: Buffer): string {
  const text = body.subarray(0, MAX_SNIPPET * 4).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > MAX_SNIPPET ? `${text.slice(0, MAX_SNIPPET)}...` : text;
}
