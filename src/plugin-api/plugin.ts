/**
 * The contract every check implements. A plugin declares its flags as data (for both the fast parser and the
 * oclif help), turns flag values into typed options (throwing UsageError for bad ones), and runs.
 * `run` should be cheap to import: heavy modules (the packet socket addon, codecs) are imported lazily inside it.
 */
import type {CheckResult} from '../core/result/check-result.js';
import type {FlagSpec, FlagValues} from './flag-spec.js';
import type {VipNetwork} from './vip-network.js';

export interface RunContext {
  /** Absolute deadline on performance.now()'s clock: --timeout after the process started (start-up included). */
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly verbosity: number;
  /** Adds a line shown from verbosity `level` on; kept even when the check ends in an error. */
  note(level: 1 | 2 | 3, text: string): void;
  /** Registers cleanup that must run on every exit path (SIGTERM included). */
  onCleanup(fn: () => void): void;
  /** The agent's shared sockets, ports and neighbour cache; absent for a one-shot run (its own of each). */
  readonly network?: VipNetwork;
}

export interface CheckPlugin<Options = unknown> {
  /** Command name, e.g. `tcp`. */
  readonly id: string;
  /** Upper-case name in the first output line, e.g. `TCP`. */
  readonly title: string;
  readonly summary: string;
  readonly description: string;
  readonly examples: readonly string[];
  readonly flags: readonly FlagSpec[];
  prepare(values: FlagValues): Options;
  run(options: Options, context: RunContext): Promise<CheckResult>;
}
