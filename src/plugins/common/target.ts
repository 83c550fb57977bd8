/**
 * Typed options shared by every VIP-path check, converted from TARGET_FLAGS, ROLE_FLAGS and OUTPUT_FLAGS.
 */
import {UsageError} from '../../core/errors.js';
import type {Thresholds} from '../../core/result/check-result.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
import type {TunnelType} from '../../core/wire/tunnel.js';
import type {FlagValues} from '../../plugin-api/flag-spec.js';
import {interfaceFlag, ipFlag, macFlag, portFlag, rangeFlag, requiredIpFlag, stringFlag} from '../../plugin-api/convert.js';
import {validateRoleOptions, type RoleOptions} from './role.js';

export interface TargetOptions {
  readonly vip: IpAddress;
  readonly rs: IpAddress;
  readonly port: number;
  readonly interfaceName?: string;
  readonly source?: IpAddress;
  readonly mac?: MacAddress;
  /** Set for --forwarding tun: probes are encapsulated to the RIP (docs/tun.md). */
  readonly tunnel?: TunnelOptions;
}

export interface TunnelOptions {
  readonly type: TunnelType;
  /** GUE only: the real server's fou port. */
  readonly port?: number;
}

export function targetOptions(values: FlagValues): TargetOptions {
  const vip = requiredIpFlag(values, 'vip');
  const rs = requiredIpFlag(values, 'rs');
  if (vip.equals(rs)) {
    throw new UsageError(`--vip and --rs are both ${vip}: the real server's own address (RIP) must differ from the VIP`);
  }
  const source = ipFlag(values, 'source');
  if (source && source.family !== vip.family) {
    throw new UsageError(`--source ${source} is IPv${source.family} but the VIP is IPv${vip.family}`);
  }
  if (source?.equals(vip)) {
    throw new UsageError('--source must not be the VIP: the real server would answer the VIP itself');
  }
  const interfaceName = interfaceFlag(values, 'interface');
  const mac = macFlag(values, 'mac');
  const tunnel = tunnelOptions(values, {gueNeedsPort: true});
  if (tunnel && mac) throw new UsageError('--mac does not apply with --forwarding tun: the encapsulated probe is routed to the RIP by the kernel');
  return {
    vip,
    rs,
    port: portFlag(values, 'port'),
    ...(interfaceName === undefined ? {} : {interfaceName}),
    ...(source === undefined ? {} : {source}),
    ...(mac === undefined ? {} : {mac}),
    ...(tunnel === undefined ? {} : {tunnel}),
  };
}

/**
 * --forwarding, --tun-type and --tun-port; any combination that IPVS could not have configured is refused. A
 * probe must know the GUE port; arp-audit --local can do without it (any receive port then counts).
 */
export function tunnelOptions(values: FlagValues, {gueNeedsPort}: {gueNeedsPort: boolean}): TunnelOptions | undefined {
  const forwarding = stringFlag(values, 'forwarding') ?? 'dr';
  const typeText = stringFlag(values, 'tun-type');
  const portGiven = stringFlag(values, 'tun-port') !== undefined;
  if (forwarding !== 'tun') {
    if (forwarding !== 'dr') throw new UsageError(`--forwarding: '${forwarding}' is not dr or tun`);
    if (typeText !== undefined || portGiven) throw new UsageError(`--${typeText !== undefined ? 'tun-type' : 'tun-port'} needs --forwarding tun`);
    return undefined;
  }
  const type = typeText ?? 'ipip';
  if (type !== 'ipip' && type !== 'gue' && type !== 'gre') throw new UsageError(`--tun-type: '${type}' is not ipip, gue or gre`);
  if (portGiven && type !== 'gue') throw new UsageError(`--tun-port applies to --tun-type gue only (${type} has no port)`);
  if (!portGiven && type === 'gue' && gueNeedsPort) throw new UsageError("--tun-type gue needs --tun-port (the real server's `ip fou add port N gue`)");
  return portGiven ? {type, port: portFlag(values, 'tun-port')} : {type};
}

export function roleOptions(values: FlagValues): RoleOptions {
  return validateRoleOptions(stringFlag(values, 'role'), stringFlag(values, 'role-file'));
}

export function thresholdOptions(values: FlagValues): Thresholds {
  const warning = rangeFlag(values, 'warning');
  const critical = rangeFlag(values, 'critical');
  return {...(warning ? {warning} : {}), ...(critical ? {critical} : {})};
}
