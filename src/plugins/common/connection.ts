/**
 * A connection to the service on the path the role rules choose, for checks that hold a conversation (HTTP,
 * send/expect): a userspace TCP Duplex through the VIP path, or a kernel socket to RIP:port. Either way the
 * caller gets a Duplex factory and describes the result the same way.
 */
import {connect as netConnect} from 'node:net';
import {isLocalAddress} from '../../core/neighbor/interfaces.js';
import type {RunContext} from '../../plugin-api/plugin.js';
import {ripSource} from './rip-connect.js';
import {decidePath, type RoleOptions} from './role.js';
import type {TargetOptions} from './target.js';
import {openVipConnector, type ConnectorOptions, type OpenedConnector} from './vip-connector.js';
import {formatHostPort} from '../../core/wire/address.js';

export type {ConnectorOptions, OpenedConnector} from './vip-connector.js';

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
