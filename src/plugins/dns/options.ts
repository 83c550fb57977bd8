import type {Thresholds} from '../../core/result/check-result.js';
import type {TargetOptions} from '../common/target.js';
import type {QueryType} from './vocabulary.js';

export interface DnsCheckOptions {
  readonly target: TargetOptions;
  readonly thresholds: Thresholds;
  readonly name: string;
  readonly type: QueryType;
  /** Each must be among the answers' data (normalizeExpected form). */
  readonly expect: readonly string[];
  readonly rcode: string;
  readonly recursionDesired: boolean;
}
