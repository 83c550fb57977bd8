/**
 * Typed options of the HTTP checks, converted from their flags with one-line errors.
 */
import {UsageError} from '../../core/errors.js';
import type {Thresholds} from '../../core/result/check-result.js';
import type {FlagValues} from '../../plugin-api/flag-spec.js';
import {stringFlag} from '../../plugin-api/convert.js';
import type {RoleOptions} from '../common/role.js';
import {roleOptions, targetOptions, thresholdOptions, type TargetOptions} from '../common/target.js';
import type {HttpRequestSpec, TlsSpec} from './exchange.js';
import {StatusList} from './status-list.js';

export interface ContentExpectations {
  readonly status?: StatusList;
  readonly string?: string;
  readonly regex?: RegExp;
  readonly invertRegex: boolean;
  readonly headerMatches: ReadonlyArray<{readonly name: string; readonly regex: RegExp; readonly text: string}>;
  readonly digest?: string;
  readonly size?: {readonly min: number; readonly max: number | undefined};
  readonly certDays?: {readonly warn: number; readonly crit: number | undefined};
  readonly extendedPerfdata: boolean;
}

export interface HttpCheckOptions {
  readonly target: TargetOptions;
  readonly role: RoleOptions;
  readonly thresholds: Thresholds;
  readonly request: HttpRequestSpec;
  readonly tls: TlsSpec | undefined;
  readonly expect: ContentExpectations;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function methodFlag(values: FlagValues, allowed?: readonly string[]): string {
  const method = (stringFlag(values, 'method') ?? 'GET').toUpperCase();
  if (!TOKEN.test(method)) throw new UsageError(`--method: '${method}' is not an HTTP method`);
  if (allowed && !allowed.includes(method)) throw new UsageError(`--method must be one of ${allowed.join(', ')}`);
  return method;
}

function pathFlag(values: FlagValues): string {
  const path = stringFlag(values, 'path') ?? '/';
  if (!path.startsWith('/') || /[\s\u0000-\u001f\u007f]/.test(path)) {
    throw new UsageError(`--path: '${path}' must start with / and contain no spaces or control characters`);
  }
  return path;
}

function headerFlags(values: FlagValues): Array<[string, string]> {
  const raw = values['header'];
  const list = Array.isArray(raw) ? raw : [];
  return list.map((h) => {
    const colon = h.indexOf(':');
    const name = colon > 0 ? h.slice(0, colon).trim() : '';
    const value = colon > 0 ? h.slice(colon + 1).trim() : '';
    if (!TOKEN.test(name) || /[\r\n]/.test(value)) throw new UsageError(`--header: '${h}' is not 'Name: value'`);
    return [name.toLowerCase(), value];
  });
}

function positiveIntFlag(values: FlagValues, name: string): number {
  const text = stringFlag(values, name) ?? '';
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${name}: '${text}' is not a positive whole number`);
  return Number(text);
}

function regexFlag(values: FlagValues, name: string, flags: string): RegExp | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  try {
    return new RegExp(text, flags);
  } catch (error) {
    throw new UsageError(`--${name}: invalid regular expression: ${(error as Error).message}`);
  }
}

export function tlsOptions(values: FlagValues, host: string): TlsSpec | undefined {
  if (values['tls'] !== true) {
    for (const name of ['sni', 'insecure', 'ca-file', 'cert-days']) {
      if (values[name] !== undefined && values[name] !== false) throw new UsageError(`--${name} needs --tls`);
    }
    return undefined;
  }
  const sni = stringFlag(values, 'sni') ?? (isIpLiteral(host) ? undefined : host.replace(/:\d+$/, ''));
  const caFile = stringFlag(values, 'ca-file');
  return {servername: sni, verify: values['insecure'] !== true, ...(caFile ? {caFile} : {})};
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+(:\d+)?$/.test(host) || host.startsWith('[');
}

/**
 * The request, as one object literal with every field (undefined where absent): all targets' specs then share
 * one shape, and the exchange's reads of them stay monomorphic (a conditional spread, and a spread copy adding
 * keepBytes, gave the agent's specs several shapes: megamorphic loads in every HTTP check, docs/benchmarks.md).
 */
export function requestOptions(values: FlagValues, target: TargetOptions, readBody: boolean, allowedMethods?: readonly string[], keepBytes?: number): HttpRequestSpec {
  const vipText = target.vip.family === 6 ? `[${target.vip}]` : target.vip.toString();
  const defaultHost = target.port === 80 || target.port === 443 ? vipText : `${vipText}:${target.port}`;
  const host = stringFlag(values, 'host') ?? defaultHost;
  if (/[\s\u0000-\u001f]/.test(host)) throw new UsageError(`--host: '${host}' contains spaces or control characters`);
  const data = stringFlag(values, 'data');
  const method = methodFlag(values, allowedMethods);
  return {
    method,
    path: pathFlag(values),
    host,
    headers: values['header'] === undefined ? [] : headerFlags(values),
    body: data === undefined ? undefined : Buffer.from(data),
    readBody: readBody && method !== 'HEAD',
    maxBytes: positiveIntFlag(values, 'max-bytes'),
    keepBytes,
  };
}

function sizeFlag(values: FlagValues): ContentExpectations['size'] {
  const text = stringFlag(values, 'size');
  if (text === undefined) return undefined;
  const m = /^(\d+)(?::(\d*))?$/.exec(text);
  if (!m || (m[2] && Number(m[2]) < Number(m[1]))) throw new UsageError(`--size: '${text}' is not MIN[:MAX] in bytes`);
  return {min: Number(m[1]), max: m[2] ? Number(m[2]) : undefined};
}

function certDaysFlag(values: FlagValues): ContentExpectations['certDays'] {
  const text = stringFlag(values, 'cert-days');
  if (text === undefined) return undefined;
  const m = /^(\d+)(?:,(\d+))?$/.exec(text);
  if (!m || (m[2] !== undefined && Number(m[2]) > Number(m[1]))) {
    throw new UsageError(`--cert-days: '${text}' is not WARN[,CRIT] in days with CRIT <= WARN`);
  }
  return {warn: Number(m[1]), crit: m[2] === undefined ? undefined : Number(m[2])};
}

function headerMatchFlags(values: FlagValues): ContentExpectations['headerMatches'] {
  const raw = values['header-match'];
  return (Array.isArray(raw) ? raw : []).map((text) => {
    const colon = text.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header-match: '${text}' is not 'Name: regex'`);
    const name = text.slice(0, colon).trim().toLowerCase();
    const pattern = text.slice(colon + 1).trim();
    try {
      return {name, regex: new RegExp(pattern), text};
    } catch (error) {
      throw new UsageError(`--header-match: invalid regular expression: ${(error as Error).message}`);
    }
  });
}

export function contentExpectations(values: FlagValues): ContentExpectations {
  const regex = regexFlag(values, 'regex', '');
  const regexI = regexFlag(values, 'regex-i', 'i');
  if (regex && regexI) throw new UsageError('give either --regex or --regex-i, not both');
  if (values['invert-regex'] === true && !regex && !regexI) throw new UsageError('--invert-regex needs --regex or --regex-i');
  const digest = stringFlag(values, 'digest');
  if (digest !== undefined && !/^[0-9a-fA-F]{32}$/.test(digest)) throw new UsageError(`--digest: '${digest}' is not an MD5 in hex`);
  const status = stringFlag(values, 'status');
  const string = stringFlag(values, 'string');
  const size = sizeFlag(values);
  const certDays = certDaysFlag(values);
  const anyRegex = regex ?? regexI;
  return {
    ...(status === undefined ? {} : {status: StatusList.parse(status, '--status')}),
    ...(string === undefined ? {} : {string}),
    ...(anyRegex ? {regex: anyRegex} : {}),
    invertRegex: values['invert-regex'] === true,
    headerMatches: headerMatchFlags(values),
    ...(digest === undefined ? {} : {digest: digest.toLowerCase()}),
    ...(size ? {size} : {}),
    ...(certDays ? {certDays} : {}),
    extendedPerfdata: values['extended-perfdata'] === true,
  };
}

/** Enough of an untested body for the output's snippet (judge.ts keeps far less). */
const BODY_SNIPPET_BYTES = 4096;

export function httpCheckOptions(values: FlagValues, readBody: boolean, allowedMethods?: readonly string[]): HttpCheckOptions {
  const target = targetOptions(values);
  const expect = contentExpectations(values);
  const bodyTested = expect.string !== undefined || expect.regex !== undefined || expect.digest !== undefined;
  const request = requestOptions(values, target, readBody, allowedMethods, bodyTested ? undefined : BODY_SNIPPET_BYTES);
  return {
    target,
    role: roleOptions(values),
    thresholds: thresholdOptions(values),
    request,
    tls: tlsOptions(values, request.host),
    expect,
  };
}
