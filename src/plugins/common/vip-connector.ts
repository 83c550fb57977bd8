/**
 * The VIP path as a Duplex: the userspace TCP engine (core/tcp) talking to VIP:port at the real server's MAC,
 * presented as a net.Socket-like stream so Node's HTTP and TLS run over it unchanged.
 */
import {randomUint32} from '../../core/random.js';
import {TcpConnection, type NegotiatedOptions} from '../../core/tcp/connection.js';
import {TcpDuplex} from '../../core/tcp/duplex.js';
import {TcpFlow} from '../../core/tcp/flow.js';
import type {RunContext} from '../plugin.js';
import type {ConnectorOptions, OpenedConnector} from './connection.js';
import {formatHostPort} from './rip-connect.js';
import {packetTrace} from './trace.js';
import {guardAgainstKernelRsts} from './rst-guard.js';
import type {TargetOptions} from './target.js';
import {openVipPath, vipPathFacts} from './vip-path.js';

/** First retransmission of a lost segment on a LAN; RFC 6298's 1 s is for unknown paths. */
const INITIAL_RTO_MS = 200;

export async function openVipConnector(
  target: TargetOptions,
  context: RunContext,
  reason: string,
  options: ConnectorOptions,
): Promise<OpenedConnector> {
  const path = await openVipPath(target, context);
  if (!path.vipIsLocal) {
    context.note(1, `${target.vip} is not local here: this host's kernel would answer the server's segments with RSTs to the VIP`);
    guardAgainstKernelRsts(target.vip, path.localPort, context);
  }
  let connection: TcpConnection | undefined;
  context.onCleanup(() => {
    const options = connection?.negotiated;
    if (options) context.note(2, `tcp: ${describeNegotiated(options)}`);
    for (const note of connection?.notes ?? []) context.note(2, `tcp: ${note}`);
  });
  const connect = () => {
    connection = new TcpConnection({
      localPort: path.localPort,
      remotePort: target.port,
      isn: randomUint32(),
      mss: path.mtu - (target.vip.family === 4 ? 40 : 60),
      deadline: context.deadline,
      initialRtoMs: INITIAL_RTO_MS,
      timestampBase: randomUint32(),
      maxReceiveBytes: options.maxReceiveBytes,
      // Without an MSS option RFC 9293 assumes 536 for IPv4; IPv6 guarantees a 1280-byte MTU.
      defaultPeerMss: target.vip.family === 4 ? 536 : 1220,
    });
    const flow = new TcpFlow(
      {
        localMac: path.link.mac,
        remoteMac: path.rsMac,
        localIp: path.source,
        remoteIp: target.vip,
        localPort: path.localPort,
        remotePort: target.port,
      },
      randomUint32() & 0xffff,
    );
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
    via: `via ${target.rs} (${path.rsMac})`,
    details: [`path: VIP path to ${formatHostPort(target.vip, target.port)} on ${path.interfaceName} (${reason})`],
    data: vipPathFacts(target, path, reason),
  };
}

/** What the handshake agreed on, for -vv: the first thing to look at when a server's TCP behaves oddly. */
function describeNegotiated(o: NegotiatedOptions): string {
  const scale = o.sendWindowScale || o.receiveWindowScale ? `window scale ${o.sendWindowScale} (peer) / ${o.receiveWindowScale} (ours)` : 'no window scaling';
  return `negotiated MSS ${o.sendMss} (peer offered ${o.peerMss}), ${scale}, ${o.sack ? 'SACK' : 'no SACK'}, ${o.timestamps ? 'timestamps' : 'no timestamps'}`;
}
