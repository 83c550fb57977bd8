/**
 * Node's own HTTP client and TLS, unchanged, over the userspace TCP: `http.request({createConnection})` and
 * `tls.connect({socket})` on a TcpDuplex, talking across the in-memory wire to a real `http.Server` /
 * `https.Server` whose sockets are the independent test peer's connections. Real timers throughout.
 */
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import http, {type IncomingMessage} from 'node:http';
import https from 'node:https';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import tls from 'node:tls';
import {FakeRealServer, closedPort} from '../../support/fake-real-server.js';
import {serveWith} from '../../support/peer-socket.js';
import {harness, realClock, until, type Harness} from '../../support/tcp-harness.js';
import {pattern} from '../../support/tcp-script.js';
import {PEER_MAC, PEER_RIP, PEER_VIP} from '../../support/tcp-test-peer.js';

const BODY = pattern(300_000);

/** An HTTP handler: echoes the request body's MD5 in a header and sends BODY chunked. */
function handler(req: IncomingMessage, res: http.ServerResponse): void {
  const hash = createHash('md5');
  req.on('data', (chunk: Buffer) => hash.update(chunk));
  req.on('end', () => {
    res.writeHead(200, {'content-type': 'application/octet-stream', 'x-request-md5': hash.digest('hex'), 'x-path': req.url ?? ''});
    for (let offset = 0; offset < BODY.length; offset += 64 * 1024) res.write(BODY.subarray(offset, offset + 64 * 1024));
    res.end();
  });
}

function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

function realHarness(server: http.Server, options: Parameters<typeof harness>[0] = {}): Harness {
  return harness({clock: realClock, peer: {onConnection: serveWith(server), rtoMs: 20}, ...options, connection: {initialRtoMs: 50, minRtoMs: 20, ...options.connection}});
}

describe('Node HTTP and TLS over the userspace TCP', function () {
  this.timeout(20_000);

  it('runs http.request({createConnection}) unchanged: POST, chunked 300 KB response, clean close', async () => {
    const server = http.createServer(handler);
    const h = realHarness(server);
    const requestBody = pattern(20_000, 5);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = http.request({createConnection: () => h.socket, host: '198.51.100.100', path: '/health?x=1', method: 'POST'}, resolve);
      req.on('error', reject);
      req.end(requestBody);
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.headers['x-path'], '/health?x=1');
    assert.equal(res.headers['x-request-md5'], createHash('md5').update(requestBody).digest('hex'));
    assert.deepEqual(await readBody(res), BODY);
    await until(h, () => h.connection.finished, 5000);
    assert.equal(h.connection.error, undefined);
    assert.equal(h.peer.connections[0]!.resetReceived, false, 'closed with FINs, no RST');
    server.close();
  });

  it('does the same at 5% loss with real retransmission timers', async () => {
    const server = http.createServer(handler);
    const h = realHarness(server, {loss: 0.05, seed: 17});
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = http.request({createConnection: () => h.socket, host: 'vip', path: '/'}, resolve);
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(await readBody(res), BODY);
    server.close();
  });

  it("supports req.setTimeout(): it calls socket.setTimeout after 'connect' and gets 'timeout'", async () => {
    // (The `timeout` request option alone only listens for the event; without an agent nobody arms it.)
    const server = http.createServer(() => {}); // never answers
    const h = realHarness(server);
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request({createConnection: () => h.socket, host: 'vip', path: '/'});
      req.setTimeout(300);
      req.on('timeout', () => {
        resolve('timeout');
        req.destroy();
      });
      req.on('response', () => resolve('response'));
      req.on('error', () => {});
      req.end();
    });
    assert.equal(outcome, 'timeout');
    await until(h, () => h.peer.connections[0]!.resetReceived, 5000);
    server.close();
  });

  it('reports a refused connection as ECONNREFUSED on the request', async () => {
    const server = http.createServer(handler);
    const h = realHarness(server);
    h.peer.link.close();
    new FakeRealServer(h.wire, PEER_MAC, PEER_RIP, [PEER_RIP, PEER_VIP], closedPort()); // the VIP, nothing listening
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const req = http.request({createConnection: () => h.socket, host: 'vip', path: '/'});
      req.on('error', resolve);
      req.end();
    });
    assert.equal(error.code, 'ECONNREFUSED');
    server.close();
  });

  describe('TLS', () => {
    let dir: string;
    let key: Buffer;
    let cert: Buffer;

    before(function () {
      this.timeout(20_000);
      dir = mkdtempSync(join(tmpdir(), 'vipcheck-tls-'));
      try {
        // A throwaway self-signed certificate; node:crypto cannot make X.509 certificates.
        execFileSync('openssl', [
          'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
          '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
          '-subj', '/CN=vip.example', '-addext', 'subjectAltName=DNS:vip.example',
        ], {stdio: 'pipe'});
      } catch (error) {
        throw new Error(`openssl is needed to make a test certificate (Debian package openssl): ${(error as Error).message}`);
      }
      key = readFileSync(join(dir, 'key.pem'));
      cert = readFileSync(join(dir, 'cert.pem'));
    });

    after(() => rmSync(dir, {recursive: true, force: true}));

    it('runs tls.connect({socket, servername}) and https.request over it, certificate verified', async () => {
      const server = https.createServer({key, cert}, handler);
      const h = realHarness(server);
      const secure = tls.connect({socket: h.socket, servername: 'vip.example', ca: cert});
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = https.request({createConnection: () => secure, host: 'vip.example', path: '/tls'}, resolve);
        req.on('error', reject);
        req.end();
      });
      assert.equal(secure.authorized, true);
      assert.equal(secure.getProtocol(), 'TLSv1.3');
      assert.equal(secure.getPeerCertificate().subject.CN, 'vip.example');
      assert.equal(res.headers['x-path'], '/tls');
      assert.deepEqual(await readBody(res), BODY);
      await until(h, () => h.connection.finished, 5000);
      server.close();
    });

    it('fails verification for the wrong name (the check is real)', async () => {
      const server = https.createServer({key, cert}, handler);
      const h = realHarness(server);
      const secure = tls.connect({socket: h.socket, servername: 'other.example', ca: cert});
      const error = await new Promise<NodeJS.ErrnoException>((resolve) => secure.on('error', resolve));
      assert.equal(error.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
      server.close();
    });
  });
});
