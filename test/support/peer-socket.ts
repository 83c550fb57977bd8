/**
 * TEST-ONLY: the server side of a test peer's connection as a Duplex, so an in-process Node `http.Server` or
 * `tls.Server` can be handed the connection (`server.emit('connection', socket)`) and answer real HTTP and TLS
 * across the in-memory wire to the engine under test.
 */
import {Duplex} from 'node:stream';
import type {PeerConnection, TestPeer} from './tcp-test-peer.js';

/** A Duplex over one accepted test-peer connection. */
export function peerSocket(connection: PeerConnection): Duplex {
  const socket = new Duplex({
    allowHalfOpen: true,
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      connection.write(chunk);
      callback();
    },
    final(callback) {
      connection.end();
      callback();
    },
    destroy(error, callback) {
      // A destroy after both FINs is the normal end; any other is an abort, as a kernel would send RST.
      if (error || !(connection.ended && connection.finReceived)) connection.reset();
      callback(error);
    },
  });
  connection.onData = (chunk) => socket.push(chunk);
  connection.onEnd = () => socket.push(null);
  connection.onReset = () => socket.destroy(Object.assign(new Error('reset by the client'), {code: 'ECONNRESET'}));
  return socket;
}

/** Hands every connection the peer accepts to `server` (an http.Server, https.Server or tls.Server). */
export function serveWith(server: {emit(event: 'connection', socket: Duplex): boolean}): (connection: PeerConnection) => void {
  return (connection) => void server.emit('connection', peerSocket(connection));
}

export type {PeerConnection, TestPeer};
