/**
 * A connection to the service on the path the role rules choose, for checks that hold a conversation (HTTP,
 * send/expect): a userspace TCP Duplex through the VIP path, or a kernel socket to RIP:port. Either way the
 * caller gets a Duplex factory and describes the result the same way.
 */
import {connect as netConnect} from 'node:net';
import type {Duplex} from 'node:stream';
import type {ProbePath} from '../../core/result/check-result.js';
import {isLocalAddress} from '../../core/neighbor/interfaces.js';
import type {RunContext} from '../plugin.js';
import {formatHostPort, ripSource} from './rip-connect.js';
import {decidePath, type RoleOptions} from './role.js';
import type {TargetOptions} from './target.js';
import {openVipConnector} from './vip-connector.js';

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

export async function openConnector(
  target: TargetOptions,
  role: RoleOptions,
  context: RunContext,
  options: ConnectorOptions,
): Promise<OpenedConnector> {
  const decision = decidePath(role, target.vip, isLocalAddress);
  if (decision.path === 'vip') return openVipConnector(target, context, decision.reason, options);
  const source = ripSource(target);
  if (source) context.note(2, `kernel connect from ${source}`);
  return {
    connect: () =>
      netConnect({
        host: target.rs.toString(),
        port: target.port,
        family: target.rs.family,
        ...(source ? {localAddress: source.toString()} : {}),
      }),
    path: 'rip',
    via: `(kernel connect to RIP ${formatHostPort(target.rs, target.port)})`,
    details: [`path: kernel connect to RIP (${decision.reason}); the VIP path was not tested`],
    data: {vip: target.vip.toString(), rs: target.rs.toString(), port: target.port, role: decision.reason},
  };
}
