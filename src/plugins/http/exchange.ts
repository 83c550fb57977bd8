/**
 * One HTTP/1.1 exchange over a connection we hand to Node: its own `http` client parses the response (no
 * hand-written HTTP parser), and `tls` runs over the same connection for HTTPS. The connection is whatever the
 * path decided: the userspace TCP through the VIP path, or a kernel socket to RIP:port.
 *
 * Records the phase timings check_curl reports, bounds the body at `maxBytes`, and never outlives the deadline.
 */
import {request as httpRequest, type IncomingHttpHeaders, type IncomingMessage} from 'node:http';
import type * as Tls from 'node:tls';
import type {PeerCertificate, TLSSocket} from 'node:tls';
import {nodeRequire} from '../../core/node-require.js';
import {readFileSync} from 'node:fs';
import type {Duplex} from 'node:stream';
import {EnvironmentError} from '../../core/errors.js';

export interface HttpRequestSpec {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body?: Buffer;
  /** false: stop after the status line and headers (http-status). */
  readonly readBody: boolean;
  readonly maxBytes: number;
  /**
   * How much of the body to keep in memory (default: maxBytes). Without a string, regex or digest to test,
   * only the start is needed (for the output's snippet): the rest is counted, not stored, which keeps a 4 MiB
   * body from costing 4 MiB of buffers per probe (in the agent, a garbage collection every few probes).
   */
  readonly keepBytes?: number;
}

export interface TlsSpec {
  readonly servername: string | undefined;
  readonly verify: boolean;
  readonly caFile?: string;
}

export interface TlsFacts {
  readonly protocol: string | null;
  readonly cipher: string;
  readonly authorized: boolean;
  readonly authorizationError?: string;
  readonly validTo?: Date;
  readonly subject?: string;
}

/** Milliseconds from the start of the exchange (check_curl's phases). */
export interface Timings {
  connect?: number;
  tls?: number;
  headers?: number;
  firstByte?: number;
  transfer?: number;
}

export interface HttpResponseFacts {
  readonly status: number;
  readonly statusMessage: string;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly bodyBytes: number;
  /** The body was longer than maxBytes; reading stopped there. */
  readonly truncated: boolean;
  /** Body bytes read (at most maxBytes); `body` holds the first keepBytes of them. */
  readonly readBytes: number;
  readonly tls?: TlsFacts;
  readonly timings: Timings;
}

/** The exchange failed before a response: why, in words for the output, and how to classify it. */
export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  constructor(
    message: string,
    readonly kind: 'refused' | 'timeout' | 'reset' | 'tls' | 'protocol' | 'other',
    readonly timings: Timings,
  ) {
    super(message);
  }
}

export type Connector = () => Duplex;

export function httpExchange(connect: Connector, spec: HttpRequestSpec, tls: TlsSpec | undefined, deadline: number): Promise<HttpResponseFacts> {
  const started = performance.now();
  const since = () => performance.now() - started;
  const timings: Timings = {};
  const ca = tls?.caFile ? readCaFile(tls.caFile) : undefined;

  return new Promise<HttpResponseFacts>((resolve, reject) => {
    let settled = false;
    let transport: Duplex | undefined;
    let secure: TLSSocket | undefined;
    const fail = (error: ExchangeError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure?.destroy();
      transport?.destroy();
      reject(error);
    };
    const timedOut = () => {
      const phase = timings.headers !== undefined ? 'while reading the body' : timings.connect !== undefined ? 'waiting for the response' : 'connecting';
      fail(new ExchangeError(`timed out ${phase}`, 'timeout', timings));
    };
    const timer = setTimeout(timedOut, Math.max(0, deadline - performance.now()));

    const createConnection = (): Duplex => {
      transport = connect();
      transport.once('connect', () => (timings.connect = since()));
      if (!tls) return transport;
      // Loaded only for HTTPS: node:tls costs ~4 ms to load, a tenth of a plain check's own time.
      const {connect: tlsConnect} = nodeRequire()('node:tls') as typeof Tls;
      secure = tlsConnect({
        socket: transport,
        ...(tls.servername ? {servername: tls.servername} : {}),
        rejectUnauthorized: tls.verify,
        ...(ca ? {ca} : {}),
        ALPNProtocols: ['http/1.1'],
      });
      secure.once('secureConnect', () => (timings.tls = since()));
      return secure;
    };

    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of spec.headers) {
      const existing = headers[name];
      headers[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
    }
    if (spec.body) headers['content-length'] = String(spec.body.length);
    const req = httpRequest({
      method: spec.method,
      path: spec.path,
      headers: {host: spec.host, 'user-agent': 'vipcheck', connection: 'close', ...headers},
      // No `agent`: with one (even `agent: false`, which makes a fresh Agent) Node ignores createConnection.
      createConnection,
      // LF-only responses are accepted (the old C checker's TODO); Node's strict parser would reject them.
      insecureHTTPParser: true,
    });
    // The userspace TCP gives up at the same deadline as our timer; whichever fires first, name the phase.
    const onError = (error: NodeJS.ErrnoException) => (error.code === 'ETIMEDOUT' ? timedOut() : fail(classify(error, timings)));
    req.on('error', onError);
    req.on('response', (res: IncomingMessage) => {
      timings.headers = since();
      const tlsFacts = secure ? describeTls(secure) : undefined;
      const chunks: Buffer[] = [];
      let kept = 0;
      let total = 0;
      let truncated = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        timings.transfer = since();
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          httpVersion: res.httpVersion,
          headers: res.headers,
          body: Buffer.concat(chunks),
          bodyBytes: total,
          truncated,
          readBytes: Math.min(total, spec.maxBytes),
          ...(tlsFacts ? {tls: tlsFacts} : {}),
          timings,
        });
        // We have what we need: abort instead of lingering for the server's close.
        req.destroy();
      };
      if (!spec.readBody) return finish();
      res.on('data', (chunk: Buffer) => {
        timings.firstByte ??= since();
        total += chunk.length;
        const keep = Math.min(spec.keepBytes ?? spec.maxBytes, spec.maxBytes);
        if (kept < keep) {
          const take = chunk.subarray(0, keep - kept);
          chunks.push(take);
          kept += take.length;
        }
        if (total > spec.maxBytes) {
          truncated = true;
          finish();
        }
      });
      res.on('end', finish);
      res.on('error', onError);
      // A close-delimited body ends with the connection; 'aborted' without 'end' means it was cut short.
      res.on('aborted', () => fail(new ExchangeError('the connection closed in the middle of the body', 'reset', timings)));
    });
    req.end(spec.body);
  });
}

function readCaFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new EnvironmentError(`cannot read --ca-file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function describeTls(socket: TLSSocket): TlsFacts {
  const cert: PeerCertificate | undefined = socket.getPeerCertificate();
  const validTo = cert?.valid_to ? new Date(cert.valid_to) : undefined;
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? '',
    authorized: socket.authorized,
    ...(socket.authorizationError ? {authorizationError: String(socket.authorizationError)} : {}),
    ...(validTo && !Number.isNaN(validTo.getTime()) ? {validTo} : {}),
    ...(cert?.subject?.CN ? {subject: String(cert.subject.CN)} : {}),
  };
}

const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/;

function classify(error: NodeJS.ErrnoException, timings: Timings): ExchangeError {
  const code = error.code ?? '';
  if (code === 'ECONNREFUSED') return new ExchangeError('connection refused', 'refused', timings);
  if (code === 'ETIMEDOUT') return new ExchangeError('timed out connecting', 'timeout', timings);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new ExchangeError('connection reset by the server', 'reset', timings);
  if (TLS_ERROR.test(code) || /certificate|ssl|tls/i.test(error.message)) {
    return new ExchangeError(`TLS failed: ${error.message}`, 'tls', timings);
  }
  if (code.startsWith('HPE_')) return new ExchangeError(`invalid HTTP response: ${error.message}`, 'protocol', timings);
  return new ExchangeError(error.message || code || 'connection failed', 'other', timings);
}
