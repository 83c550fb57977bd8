// Test servers for the lab's real-server namespaces (started by test/support/lab-services.ts). Plain Node so
// they run without a build. Every port is one behaviour a health check must cope with:
//   8080 HTTP (node:http): /            200 "hello from node"
//                          /chunked?bytes=N   N bytes, chunked, header x-body-md5
//                          /status/NNN         that status
//                          /redirect           301 to /
//                          /slow?ms=N          answers after N ms
//                          /pipe               a body with | characters
//   8081 raw TCP: an HTTP/1.1 response with LF-only line ends, then close
//   8082 raw TCP: an HTTP/1.0 close-delimited response (no Content-Length), then close
//   2222 raw TCP: server speaks first, an SSH banner
//   6379 raw TCP: answers PING with +PONG (Redis protocol), QUIT with +OK and close
'use strict';
const http = require('node:http');
const net = require('node:net');
const crypto = require('node:crypto');

function pattern(bytes) {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = 0x61 + ((i * 7 + (i >> 10)) % 26);
  return out;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/chunked') {
    const body = pattern(Number(url.searchParams.get('bytes') ?? 1048576));
    res.writeHead(200, {'content-type': 'application/octet-stream', 'x-body-md5': crypto.createHash('md5').update(body).digest('hex')});
    // Many small writes: the body goes out in chunked framing over many segments.
    for (let off = 0; off < body.length; off += 16384) res.write(body.subarray(off, off + 16384));
    res.end();
  } else if (url.pathname.startsWith('/status/')) {
    res.writeHead(Number(url.pathname.slice(8)), {'content-type': 'text/plain'});
    res.end(`status ${url.pathname.slice(8)}\n`);
  } else if (url.pathname === '/redirect') {
    res.writeHead(301, {location: '/'});
    res.end();
  } else if (url.pathname === '/slow') {
    setTimeout(() => res.end('slow\n'), Number(url.searchParams.get('ms') ?? 30000));
  } else if (url.pathname === '/endless') {
    // A body that never ends: as fast as the client reads, until it goes away.
    res.writeHead(200, {'content-type': 'application/octet-stream'});
    const chunk = Buffer.alloc(16384, 0x61);
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) {}
    };
    res.on('drain', pump);
    pump();
  } else if (url.pathname === '/pipe') {
    res.end('a|b|c server text with pipes\n');
  } else {
    res.writeHead(200, {'content-type': 'text/plain', server: 'vipcheck-lab-node'});
    res.end('hello from node\n');
  }
});
server.listen(8080, '::');

function raw(port, onConnection) {
  net.createServer(onConnection).listen(port, '::');
}

raw(8081, (s) => {
  s.once('data', () => s.end('HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 13\n\nLF-only body\n'));
  s.on('error', () => {});
});
raw(8082, (s) => {
  s.once('data', () => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body\n'));
  s.on('error', () => {});
});
raw(2222, (s) => {
  s.write('SSH-2.0-vipcheck-lab_1.0\r\n');
  s.on('data', () => {});
  s.on('error', () => {});
});
raw(6379, (s) => {
  s.on('data', (d) => {
    const text = d.toString();
    if (/^PING/i.test(text)) s.write('+PONG\r\n');
    if (/QUIT/i.test(text)) s.end('+OK\r\n');
  });
  s.on('error', () => {});
});
process.on('SIGTERM', () => process.exit(0));
