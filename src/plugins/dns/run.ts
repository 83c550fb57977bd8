/**
 * The dns check's run: the query over UDP through the VIP path (retransmitted until the deadline; replies with
 * another id or question are ignored), over TCP through the same path when the UDP reply is truncated, and the
 * verdict on the reply's response code and answers.
 */
import type {CheckResult} from '../../core/result/check-result.js';
import type {PerfDatum} from '../../core/result/perfdata.js';
import {State, worst} from '../../core/result/state.js';
import {randomUint32} from '../../core/random.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {formatSeconds} from '../../plugin-api/run-check.js';
import {exchangeThroughVip, noReplyResult} from '../common/vip-udp.js';
import {formatMs, judgeTime, timePerf} from '../tcp/perf.js';
import {answerTexts, decodeReply, encodeQuery, type DnsQuery, type DnsReply} from './message.js';
import type {DnsCheckOptions} from './options.js';
import {queryOverTcp} from './tcp-fallback.js';

const MAX_SHOWN_CHARS = 60;

export async function runDnsCheck(options: DnsCheckOptions, context: RunContext): Promise<CheckResult> {
  const query: DnsQuery = {
    id: randomUint32() & 0xffff,
    question: {name: options.name, type: options.type, class: 'IN'},
    recursionDesired: options.recursionDesired,
  };
  const bytes = encodeQuery(query);
  // The reply the exchange accepted, decoded once: the accept test already decoded it.
  let accepted: {payload: Buffer; reply: DnsReply} | undefined;
  const exchange = await exchangeThroughVip(options.target, context, bytes, (payload) => {
    const reply = decodeReply(payload, query);
    if (!reply.ok) context.note(2, `ignored a datagram: ${reply.error}`);
    else accepted = {payload, reply: reply.value};
    return reply.ok;
  });
  const {outcome} = exchange;
  const answersPerf = (count: number | undefined): PerfDatum => ({label: 'answers', value: count, min: 0});
  if (outcome.kind !== 'reply') return noReplyResult('DNS', exchange, context, options.thresholds, [answersPerf(undefined)]);

  if (accepted?.payload !== outcome.payload) throw new TypeError('the exchange ended on a reply its accept test did not pass');
  let reply: DnsReply = accepted.reply;
  let elapsedMs = outcome.elapsedMs;
  let transport = 'UDP';
  const details = [...exchange.details];
  const data: Record<string, unknown> = Object.assign({}, exchange.data, {id: query.id, truncated: reply.truncated});
  const critical = (summary: string, count?: number): CheckResult => ({
    check: 'DNS',
    path: 'vip',
    state: State.Critical,
    summary,
    details,
    data,
    perfdata: [timePerf(elapsedMs / 1000, options, context), answersPerf(count)],
  });

  if (reply.truncated) {
    context.note(1, `the UDP reply came back truncated after ${formatMs(elapsedMs)}: asking again over TCP`);
    const started = performance.now() - elapsedMs;
    // The MAC is known by now: the TCP flow need not resolve it again.
    const tcp = await queryOverTcp({...options.target, mac: exchange.path.rsMac}, context, bytes);
    transport = 'TCP after a truncated UDP reply';
    data['transport'] = 'tcp';
    if (tcp.kind !== 'message') {
      elapsedMs = performance.now() - started;
      const why = tcp.kind === 'timeout' ? `no answer within ${formatSeconds(context.timeoutMs)}` : tcp.kind === 'refused' ? 'the connection was refused' : `${tcp.kind}${tcp.message ? `: ${tcp.message}` : ''}`;
      return critical(`${exchange.service} truncated its UDP reply ${exchange.via} and the TCP retry failed: ${why}`);
    }
    elapsedMs += tcp.elapsedMs;
    const tcpReply = decodeReply(tcp.message, query);
    if (!tcpReply.ok) return critical(`${exchange.service} sent a bad reply over TCP ${exchange.via}: ${tcpReply.error}`);
    reply = tcpReply.value;
  }

  const count = reply.answers.length;
  data['rcode'] = reply.rcode;
  data['answers'] = reply.answers.map((a) => `${a.name} ${a.type} ${answerTexts(a)[0] ?? ''}`.trim());
  const asked = `${options.type} ${options.name}`;
  if (reply.rcode !== options.rcode) {
    return critical(`${exchange.service} answered ${asked} with ${reply.rcode} ${exchange.via} (expected ${options.rcode})`, count);
  }
  const found = new Set(reply.answers.filter((a) => a.type === options.type).flatMap(answerTexts));
  const missing = options.expect.filter((e) => !found.has(e));
  const shown = [...new Set(reply.answers.filter((a) => a.type === options.type).map((a) => clip(answerTexts(a)[0] ?? '')))];
  for (const answer of data['answers'] as string[]) details.push(`answer: ${answer}`);
  if (missing.length > 0) {
    return critical(`${exchange.service} answered ${asked} ${exchange.via} without ${missing.join(', ')} (got ${shown.join(', ') || 'no record'})`, count);
  }
  const judged = judgeTime(elapsedMs / 1000, options);
  const over = transport === 'UDP' ? (outcome.attempts > 1 ? ` (after ${outcome.attempts} queries)` : '') : ` (${transport})`;
  const records = shown.length === 0 ? 'no record' : shown.length > 3 ? `${shown.slice(0, 3).join(', ')} and ${shown.length - 3} more` : shown.join(', ');
  return {
    check: 'DNS',
    path: 'vip',
    state: worst(State.Ok, judged.state),
    summary: `${exchange.service} answered ${asked} ${exchange.via} in ${formatMs(elapsedMs)}${over}: ${reply.rcode}, ${records}${judged.suffix}`,
    details,
    data,
    perfdata: [timePerf(elapsedMs / 1000, options, context), answersPerf(count)],
  };
}

/** A record's text for the summary line: long TXT data is cut. */
function clip(text: string): string {
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}...` : text;
}
