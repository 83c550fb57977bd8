/**
 * The VIP path as a Duplex: the userspace TCP engine (core/tcp) talking to VIP:port at the real server's MAC,
 * presented as a net.Socket-like stream so Node's HTTP and TLS run over it unchanged.
 */
import {randomUint32} from '../../core/random.js';
import {TcpConnection, type NegotiatedOptions} from '../../core/tcp/connection.js';
import {TcpDuplex} from '../../core/flow/duplex.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import type {Duplex} from 'node:stream';
import type {ProbePath} from '../../core/result/check-result.js';
import {packetTrace} from './trace.js';
import type {TargetOptions} from './target.js';
import {describeHop, vipPathFacts} from './vip-path.js';
import {openVipFlow} from './vip-flow.js';
import {formatHostPort} from '../../core/wire/address.js';

export interface ConnectorOptions {
  /** Bytes the userspace TCP accepts before it gives up on the connection (hostile servers). */
  readonly maxReceiveBytes: number;
}

export interface OpenedConnector {
  readonly connect: () => Duplex;
  readonly path: ProbePath;
  /** How the output names the path: "via 198.51.100.11 (02:..)" or "(kernel connect to RIP 198.51.100.11:80)". */
  readonly via: string;
  readonly details: string[];
  readonly data: Record<string, unknown>;
}

/** First retransmission of a lost segment on a LAN; RFC 6298's 1 s is for unknown paths. */
const INITIAL_RTO_MS = 200;
/**
 * The receive buffer, and so the largest window we offer. With the bulk receive offload (core/bulk-receive.ts)
 * our ACKs leave as fast as the data comes, and 256 KiB (the engine's default) closed the window every 4 GRO
 * frames of a bulk transfer: 1 MiB took 7.2-8.5 ms with it and 5.7-5.8 ms with 1 MiB (transfer loop, a probe
 * every 0.5 s). The buffer is a bound, not an allocation: a check's client reads as the data arrives.
 */
const RECEIVE_BUFFER_BYTES = 1024 * 1024;

export async function openVipConnector(
  target: TargetOptions,
  context: RunContext,
  reason: string,
  options: ConnectorOptions,
): Promise<OpenedConnector> {
  const {path, flow, mss} = await openVipFlow(target, context, {conversation: true});
  let connection: TcpConnection | undefined;
  context.onCleanup(() => {
    const options = connection?.negotiated;
    if (options) context.note(2, `tcp: ${describeNegotiated(options)}`);
    const counts = connection?.counters;
    if (counts && context.verbosity >= 2) {
      context.note(
        2,
        `tcp: ${counts.segmentsReceived} segment(s) received (${counts.outOfOrderSegments} out of order, ${counts.duplicateSegments} duplicate), ` +
          `${counts.segmentsSent} sent (${counts.retransmittedSegments} retransmitted)`,
      );
    }
    for (const note of connection?.notes ?? []) context.note(2, `tcp: ${note}`);
  });
  const connect = () => {
    connection = new TcpConnection({
      localPort: path.localPort,
      remotePort: target.port,
      isn: randomUint32(),
      mss,
      deadline: context.deadline,
      initialRtoMs: INITIAL_RTO_MS,
      timestampBase: path.timestampBase,
      maxReceiveBytes: options.maxReceiveBytes,
      receiveBufferSize: RECEIVE_BUFFER_BYTES,
      // Without an MSS option RFC 9293 assumes 536 for IPv4; IPv6 guarantees a 1280-byte MTU.
      defaultPeerMss: target.vip.family === 4 ? 536 : 1220,
    });
    return new TcpDuplex({
      link: path.link,
      flow,
      connection,
      // The packet trace (-vvv) costs a description and a checksum per frame: only build it when shown.
      ...(context.verbosity >= 3 ? packetTrace(context) : {}),
    });
  };
  return {
    connect,
    path: 'vip',
    via: describeHop(target, path),
    details: [`path: VIP path to ${formatHostPort(target.vip, target.port)} on ${path.interfaceName} (${reason})`],
    data: vipPathFacts(target, path, reason),
  };
}

/** What the handshake agreed on, for -vv: the first thing to look at when a server's TCP behaves oddly. */
function describeNegotiated(o: NegotiatedOptions): string {
  const scale = o.sendWindowScale || o.receiveWindowScale ? `window scale ${o.sendWindowScale} (peer) / ${o.receiveWindowScale} (ours)` : 'no window scaling';
  return `negotiated MSS ${o.sendMss} (peer offered ${o.peerMss}), ${scale}, ${o.sack ? 'SACK' : 'no SACK'}, ${o.timestamps ? 'timestamps' : 'no timestamps'}`;
}
