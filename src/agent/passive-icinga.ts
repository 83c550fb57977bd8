/**
 * Passive results through Icinga 2's REST API: one POST /v1/actions/process-check-result per result, with the
 * CLI's text for the same result (plugin_output: first line and long output; performance_data: the perfdata,
 * one element per datum), the Nagios exit code and the agent as check_source.
 *
 * A network error, a timeout, 401/403 (the ApiUser not there yet, or without the permission) and 5xx are
 * delivery failures, retried with backoff. 400/404 (no such service in Icinga) concern one result only: it is
 * dropped, counted as a failure and logged once per service, so it cannot hold up every other result behind it.
 */
import {request} from 'node:https';
import {hostname} from 'node:os';
import type {CheckResult} from '../core/result/check-result.js';
import {formatPerfdata} from '../core/result/perfdata.js';
import {renderNagios} from '../core/result/render.js';
import type {IcingaPassiveConfig} from './config.js';
import {PassiveSender, type PassiveHooks, type PassiveTiming} from './passive.js';

const REQUEST_TIMEOUT_MS = 5000;

export interface IcingaCheckResult {
  readonly type: 'Service';
  /** `host!service`, Icinga's full service name. */
  readonly service: string;
  readonly exit_status: number;
  readonly plugin_output: string;
  readonly performance_data: string[];
  readonly check_source: string;
  readonly execution_end: number;
}

/** The API body for one result: the same text as the CLI prints, the perfdata split out as Icinga keeps it. */
export function icingaCheckResult(atMs: number, host: string, service: string, result: CheckResult, source = `vipcheck agent on ${hostname()}`): IcingaCheckResult {
  const [first, ...rest] = renderNagios(result, 0).trimEnd().split('\n');
  // The first line's text never holds a `|` (render.ts replaces it), so the first ` | ` starts the perfdata.
  const cut = first!.indexOf(' | ');
  const text = cut < 0 ? first! : first!.slice(0, cut);
  return {
    type: 'Service',
    service: `${host}!${service}`,
    exit_status: result.state,
    plugin_output: [text, ...rest].join('\n'),
    performance_data: result.perfdata.map((p) => formatPerfdata([p])),
    check_source: source,
    execution_end: atMs / 1000,
  };
}

class DeliveryError extends Error {
  constructor(
    message: string,
    readonly delivered: number,
  ) {
    super(message);
  }
}

export class IcingaApi extends PassiveSender<IcingaCheckResult> {
  private readonly unknownServices = new Set<string>();

  constructor(
    readonly config: IcingaPassiveConfig,
    hooks: PassiveHooks,
    timing?: PassiveTiming,
  ) {
    super('icinga', hooks, timing);
  }

  protected describe(): string {
    return `${this.config.url}/v1/actions/process-check-result`;
  }

  protected async deliver(items: readonly IcingaCheckResult[]): Promise<number> {
    let done = 0;
    for (const item of items) {
      let status: number;
      let body: string;
      try {
        ({status, body} = await this.post(item));
      } catch (error) {
        throw new DeliveryError((error as NodeJS.ErrnoException).code ?? (error as Error).message, done);
      }
      if (status === 400 || status === 404) {
        this.hooks.failed();
        if (!this.unknownServices.has(item.service)) {
          this.unknownServices.add(item.service);
          this.hooks.log(`passive results to icinga: ${item.service} refused with ${status} (${errorText(body)}); dropping its results until it exists`);
        }
      } else if (status !== 200) {
        throw new DeliveryError(`HTTP ${status} (${errorText(body)})`, done);
      } else {
        this.unknownServices.delete(item.service);
      }
      done += 1;
    }
    return done;
  }

  private post(item: IcingaCheckResult): Promise<{status: number; body: string}> {
    const url = new URL('/v1/actions/process-check-result', this.config.url);
    const payload = JSON.stringify(item);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          ...(this.config.ca ? {ca: this.config.ca} : {}),
          auth: `${this.config.user}:${this.config.password}`,
          headers: {accept: 'application/json', 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload)},
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            if (body.length < 4096) body += chunk;
          });
          response.on('end', () => resolve({status: response.statusCode ?? 0, body}));
          response.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`), {code: 'ETIMEDOUT'})));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

/** Icinga's JSON error (`{"error":404,"status":"No objects found."}`) as its status text. */
function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as {status?: string; results?: Array<{status?: string}>};
    return (parsed.status ?? parsed.results?.[0]?.status ?? body).slice(0, 200);
  } catch {
    return body.slice(0, 200).replace(/\s+/g, ' ');
  }
}
