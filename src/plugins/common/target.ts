/**
 * Typed options shared by every VIP-path check, converted from TARGET_FLAGS, ROLE_FLAGS and OUTPUT_FLAGS.
 */
import {UsageError} from '../../core/errors.js';
import type {Thresholds} from '../../core/result/check-result.js';
import type {IpAddress, MacAddress} from '../../core/wire/address.js';
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
  return {
    vip,
    rs,
    port: portFlag(values, 'port'),
    ...(interfaceName === undefined ? {} : {interfaceName}),
    ...(source === undefined ? {} : {source}),
    ...(mac === undefined ? {} : {mac}),
  };
}

export function roleOptions(values: FlagValues): RoleOptions {
  return validateRoleOptions(stringFlag(values, 'role'), stringFlag(values, 'role-file'));
}

export function thresholdOptions(values: FlagValues): Thresholds {
  const warning = rangeFlag(values, 'warning');
  const critical = rangeFlag(values, 'critical');
  return {...(warning ? {warning} : {}), ...(critical ? {critical} : {})};
}
