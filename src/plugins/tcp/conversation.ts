/**
 * `tcp --send/--expect`: a short conversation for server-speaks-first and request/response services (an SSH
 * banner, SMTP 220, Redis PING), like check_tcp's. Runs over any connected Duplex: the userspace TCP through the
 * VIP path or a kernel socket to RIP:port.
 */
import type {Duplex} from 'node:stream';
import {UsageError} from '../../core/errors.js';

export type MismatchState = 'ok' | 'warning' | 'critical';

export interface ConversationSpec {
  readonly send?: Buffer;
  /** Any of them found in the response satisfies the check, unless `expectAll`. */
  readonly expect: readonly string[];
  readonly expectAll: boolean;
  readonly expectRegex?: RegExp;
  readonly quit?: Buffer;
  readonly maxBytes: number;
  readonly mismatch: MismatchState;
}

export interface ConversationOutcome {
  readonly kind: 'matched' | 'mismatch' | 'closed-early' | 'timeout' | 'refused' | 'reset' | 'error';
  readonly received: Buffer;
  /** ms from the start to the TCP connection, and to the decisive byte. */
  readonly connectMs?: number;
  readonly responseMs?: number;
  readonly message?: string;
}

/** Decodes the escapes check_tcp accepts in --send/--quit/--expect: \r \n \t \\ . */
export function unescapeText(text: string, flag: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    switch (c) {
      case 'r':
        return '\r';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case '\\':
        return '\\';
      default:
        throw new UsageError(`${flag}: unknown escape \\${c} (use \\r, \\n, \\t or \\\\)`);
    }
  });
}

/** Whether what was received so far settles the expectations: true, false, or undefined (need more bytes). */
export function matchResponse(received: Buffer, spec: ConversationSpec): boolean | undefined {
  const text = received.toString('latin1');
  const found = spec.expect.map((e) => text.includes(e));
  const regexOk = spec.expectRegex ? spec.expectRegex.test(text) : true;
  if (!hasExpectations(spec)) return true;
  const stringsOk = spec.expect.length === 0 ? true : spec.expectAll ? found.every(Boolean) : found.some(Boolean);
  if (stringsOk && regexOk) return true;
  return received.length >= spec.maxBytes ? false : undefined;
}

/** Without --expect/--expect-regex there is nothing to wait for: like check_tcp, connect (and send) is enough. */
export function hasExpectations(spec: ConversationSpec): boolean {
  return spec.expect.length > 0 || spec.expectRegex !== undefined;
}

export function converse(socket: Duplex, spec: ConversationSpec, deadline: number): Promise<ConversationOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let connectMs: number | undefined;
    let done = false;
    const finish = (outcome: Omit<ConversationOutcome, 'received' | 'connectMs'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const result: ConversationOutcome = Object.assign({}, outcome, connectMs === undefined ? {received} : {received, connectMs});
      if (spec.quit && connectMs !== undefined && outcome.kind !== 'reset') {
        socket.end(spec.quit);
        // Give the server no more of our time: the verdict is settled.
        setImmediate(() => socket.destroy());
      } else {
        socket.destroy();
      }
      resolve(result);
    };
    const timedOut = () => {
      const kind = connectMs === undefined ? 'timeout' : received.length ? 'mismatch' : 'timeout';
      finish({kind, message: connectMs === undefined ? 'timed out connecting' : 'timed out waiting for the expected response'});
    };
    const timer = setTimeout(timedOut, Math.max(0, deadline - performance.now()));
    socket.once('connect', () => {
      connectMs = performance.now() - started;
      if (spec.send) socket.write(spec.send);
      if (!hasExpectations(spec)) finish({kind: 'matched', responseMs: connectMs});
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]).subarray(0, spec.maxBytes);
      const verdict = matchResponse(received, spec);
      if (verdict === true) finish({kind: 'matched', responseMs: performance.now() - started});
      else if (verdict === false) finish({kind: 'mismatch', responseMs: performance.now() - started});
    });
    socket.on('end', () => {
      const verdict = matchResponse(received, spec);
      finish(
        verdict === true
          ? {kind: 'matched', responseMs: performance.now() - started}
          : {kind: received.length ? 'mismatch' : 'closed-early', message: 'the server closed the connection'},
      );
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The userspace TCP gives up at the same deadline as our timer; whichever fires first, judge the same way.
      if (error.code === 'ETIMEDOUT') return timedOut();
      const kind = error.code === 'ECONNREFUSED' ? 'refused' : error.code === 'ECONNRESET' ? 'reset' : error.code === 'ETIMEDOUT' ? 'timeout' : 'error';
      finish({kind, message: error.message});
    });
  });
}

/** The response's first line, quoted for the summary (cut at 80 characters). */
export function quoteFirstLine(received: Buffer): string {
  const line = received.toString('latin1').split(/\r?\n/)[0]?.trim() ?? '';
  return line ? `: '${line.length > 80 ? `${line.slice(0, 80)}...` : line}'` : '';
}
