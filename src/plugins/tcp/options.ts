import type {Thresholds} from '../../core/result/check-result.js';
import type {RoleOptions} from '../common/role.js';
import type {TargetOptions} from '../common/target.js';

export interface TcpCheckOptions {
  readonly target: TargetOptions;
  readonly role: RoleOptions;
  readonly thresholds: Thresholds;
  readonly cleanClose: boolean;
}
