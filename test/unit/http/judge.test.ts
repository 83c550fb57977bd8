import assert from 'node:assert/strict';
import {createHash} from 'node:crypto';
import {parseFlags} from '../../../src/cli/parse-flags.js';
import {UsageError} from '../../../src/core/errors.js';
import {State} from '../../../src/core/result/state.js';
import type {HttpResponseFacts} from '../../../src/plugins/http/exchange.js';
import {httpPlugin} from '../../../src/plugins/http/index.js';
import {httpStatusPlugin} from '../../../src/plugins/http-status/index.js';
import {contentFindings, judgeFailure, judgeResponse, snippet, statusFinding, type JudgeContext} from '../../../src/plugins/http/judge.js';
import {ExchangeError} from '../../../src/plugins/http/exchange.js';
import {StatusList} from '../../../src/plugins/http/status-list.js';

const target = ['--vip', '198.51.100.100', '--rs', '198.51.100.11', '--port', '80'];
const httpOptions = (...extra: string[]) => httpPlugin.prepare(parseFlags(httpPlugin.flags, [...target, ...extra]));
const ctx: JudgeContext = {title: 'HTTP', path: 'vip', via: 'via 198.51.100.11 (02:00:00:00:00:11)', timeoutMs: 10_000, details: [], data: {}};

function facts(overrides: Partial<HttpResponseFacts> = {}): HttpResponseFacts {
  const body = overrides.body ?? Buffer.from('hello from node\n');
  return {
    status: 200,
    statusMessage: 'OK',
    httpVersion: '1.1',
    headers: {'content-type': 'text/html; charset=utf-8', server: 'nginx'},
    body,
    bodyBytes: body.length,
    truncated: false,
    readBytes: body.length,
    timings: {connect: 1, headers: 2, firstByte: 3, transfer: 4},
    ...overrides,
  };
}

describe('HTTP status lists', () => {
  it('accepts codes and ranges', () => {
    const list = StatusList.parse('200-299, 301,404', '--status');
    assert.deepEqual([200, 250, 299, 301, 302, 404, 500].map((s) => list.accepts(s)), [true, true, true, true, false, true, false]);
  });
  for (const bad of ['2xx', '299-200', '99', '600', '200-', '']) {
    it(`rejects '${bad}'`, () => assert.throws(() => StatusList.parse(bad, '--status'), UsageError));
  }
  it('grades statuses like check_curl without a list', () => {
    assert.deepEqual([200, 302, 404, 500, 99, 600].map((s) => statusFinding(s, undefined).state), [State.Ok, State.Ok, State.Warning, State.Critical, State.Critical, State.Critical]);
  });
});

describe('HTTP content findings', () => {
  it('checks string, regex (and its inversion), header, digest and size', () => {
    const body = Buffer.from('hello from node\n');
    const md5 = createHash('md5').update(body).digest('hex');
    const ok = httpOptions('-s', 'from node', '-r', '^hello', '--header-match', 'Content-Type: ^text/html', '--digest', md5, '--size', '1:100');
    assert.deepEqual(contentFindings(facts(), ok.expect, Date.now()), []);
    const bad = httpOptions('-s', 'nginx', '--regex-i', '^HELLO', '--invert-regex', '--header-match', 'server: apache', '--digest', '0'.repeat(32), '--size', '100:');
    const texts = contentFindings(facts(), bad.expect, Date.now()).map((f) => `${f.state}:${f.text.split(' ')[0]}`);
    assert.deepEqual(texts, ['2:string', '2:body', '2:header', '2:body', '1:body']);
  });

  it('grades certificate expiry against WARN,CRIT days', () => {
    const now = Date.parse('2026-11-21T00:00:00Z');
    const expect = httpOptions('-S', '--cert-days', '30,7').expect;
    const in20 = facts({tls: {protocol: 'TLSv1.3', cipher: 'x', authorized: true, validTo: new Date(now + 20 * 86_400_000)}});
    const in3 = facts({tls: {protocol: 'TLSv1.3', cipher: 'x', authorized: true, validTo: new Date(now + 3 * 86_400_000)}});
    const in90 = facts({tls: {protocol: 'TLSv1.3', cipher: 'x', authorized: true, validTo: new Date(now + 90 * 86_400_000)}});
    assert.equal(contentFindings(in20, expect, now)[0]?.state, State.Warning);
    assert.equal(contentFindings(in3, expect, now)[0]?.state, State.Critical);
    assert.deepEqual(contentFindings(in90, expect, now), []);
  });

  it('warns when the body was cut at --max-bytes', () => {
    const findings = contentFindings(facts({truncated: true, bodyBytes: 10_000}), httpOptions().expect, Date.now());
    assert.equal(findings[0]?.state, State.Warning);
  });
});

describe('HTTP results', () => {
  it('summarises the status line, size, time and path, with perfdata time and size', () => {
    const result = judgeResponse(httpOptions('-w', '0.5'), ctx, facts(), 12.5);
    assert.equal(result.state, State.Ok);
    assert.equal(result.summary, 'HTTP/1.1 200 OK, 16 B in 0.013 s via 198.51.100.11 (02:00:00:00:00:11)');
    assert.deepEqual(result.perfdata.map((p) => p.label), ['time', 'size']);
    assert.equal(result.perfdata[0]?.warn?.text, '0.5');
  });

  it('adds the phase timings with -E', () => {
    const result = judgeResponse(httpOptions('-E'), ctx, facts(), 5);
    assert.deepEqual(result.perfdata.map((p) => p.label), ['time', 'size', 'time_connect', 'time_tls', 'time_headers', 'time_firstbyte', 'time_transfer']);
    assert.equal(result.perfdata[3]?.value, undefined, 'no TLS: U');
  });

  it('applies -w/-c to the total time', () => {
    assert.equal(judgeResponse(httpOptions('-w', '0.01', '-c', '1'), ctx, facts(), 50).state, State.Warning);
    assert.equal(judgeResponse(httpOptions('-w', '0.01', '-c', '0.02'), ctx, facts(), 50).state, State.Critical);
  });

  it('reports http-status with the status as perfdata and ignores content flags it does not have', () => {
    const options = httpStatusPlugin.prepare(parseFlags(httpStatusPlugin.flags, [...target, '--status', '204']));
    const result = judgeResponse(options, {...ctx, title: 'HTTP-STATUS'}, facts({status: 200}), 3);
    assert.equal(result.state, State.Critical);
    assert.deepEqual(result.perfdata.map((p) => `${p.label}=${p.value}`), ['time=0.003', 'status=200']);
  });

  it('hints at the missing VIP only when the VIP-path handshake itself timed out', () => {
    const options = httpOptions();
    assert.match(judgeFailure(options, ctx, new ExchangeError('timed out connecting', 'timeout', {})).summary, /is the VIP configured/);
    assert.doesNotMatch(judgeFailure(options, ctx, new ExchangeError('timed out waiting for the response', 'timeout', {connect: 1})).summary, /VIP configured/);
    assert.doesNotMatch(judgeFailure(options, {...ctx, path: 'rip'}, new ExchangeError('timed out connecting', 'timeout', {})).summary, /VIP configured/);
  });

  it('makes body snippets one bounded line', () => {
    assert.equal(snippet(Buffer.from('a\r\nb\tc')), 'a b c');
    assert.equal(snippet(Buffer.from('x'.repeat(1000))).length, 163);
  });
});

describe('HTTP flags', () => {
  const rejects = (args: string[], pattern: RegExp) =>
    assert.throws(() => httpOptions(...args), (e: unknown) => e instanceof UsageError && pattern.test(e.message));
  it('rejects bad input with one line naming the flag', () => {
    rejects(['-u', 'no-slash'], /--path/);
    rejects(['-u', '/a b'], /--path/);
    rejects(['-k', 'NoColon'], /--header/);
    rejects(['-k', 'X-A: b\r\nInjected: 1'], /--header/);
    rejects(['--digest', 'abc'], /--digest/);
    rejects(['--size', '10:5'], /--size/);
    rejects(['--cert-days', '7,30'], /--cert-days/);
    rejects(['--sni', 'x'], /--sni needs --tls/);
    rejects(['-r', '(', '-s', 'x'], /--regex/);
    rejects(['--invert-regex'], /--invert-regex needs/);
    rejects(['-j', 'GET X'], /--method/);
    rejects(['--max-bytes', '0'], /--max-bytes/);
  });
  it('defaults the Host header to the VIP (with the port when not 80/443) and SNI to a host name', () => {
    assert.equal(httpOptions().request.host, '198.51.100.100');
    const on8080 = httpPlugin.prepare(parseFlags(httpPlugin.flags, ['--vip', '2001:db8::100', '--rs', '2001:db8::11', '-p', '8080']));
    assert.equal(on8080.request.host, '[2001:db8::100]:8080');
    assert.equal(httpOptions('-S').tls?.servername, undefined, 'no SNI for an IP literal');
    assert.equal(httpOptions('-S', '--host', 'www.example.test').tls?.servername, 'www.example.test');
    assert.equal(httpOptions('-S', '--host', 'www.example.test', '--sni', 'other.test').tls?.servername, 'other.test');
  });
  it('allows only GET and HEAD for http-status', () => {
    assert.throws(() => httpStatusPlugin.prepare(parseFlags(httpStatusPlugin.flags, [...target, '-j', 'POST'])), /GET, HEAD/);
  });
});
