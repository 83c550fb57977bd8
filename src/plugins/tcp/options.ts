import type {Thresholds} from '../../core/result/check-result.js';
import type {RoleOptions} from '../common/role.js';
import type {TargetOptions} from '../common/target.js';
import type {ConversationSpec} from './conversation.js';

export interface TcpCheckOptions {
  readonly target: TargetOptions;
  readonly role: RoleOptions;
  readonly thresholds: Thresholds;
  readonly cleanClose: boolean;
  /** Set when --send/--expect/--expect-regex/--quit ask for a conversation instead of a handshake probe. */
  readonly conversation?: ConversationSpec;
}
