/**
 * The state of one target after rise and fall: a probe result moves a counter, and only `rise` successes in a
 * row bring a down target up, only `fall` failures in a row take an up target down (ldirectord and keepalived
 * count only failures; glb-healthcheck one count for both). Success is what keepalived's exit-code mapping calls
 * up: OK or WARNING. UNKNOWN (the check could not judge) counts as a failure, as it does under MISC_CHECK.
 */
import {State} from '../core/result/state.js';
import type {Millis} from '../core/time.js';

export type Health = 'up' | 'down';

export interface HealthRules {
  readonly rise: number;
  readonly fall: number;
  /** Before any probe: `down` waits for `rise` successes, `up` for `fall` failures. */
  readonly initial: Health;
}

export interface Transition {
  readonly from: Health;
  readonly to: Health;
  /** The results in a row that made it. */
  readonly after: number;
}

export function isSuccess(state: State): boolean {
  return state === State.Ok || state === State.Warning;
}

export class HealthState {
  health: Health;
  /** When `health` last changed (or the target was configured). */
  since: Millis;
  /** Successes (positive) or failures (negative) in a row. */
  private streak = 0;
  changes = 0;
  /**
   * Whether the state was ever proved by the probes (`rise` successes or `fall` failures in a row, or a
   * transition), rather than assumed from `initial-state`: the IPVS weight manager acts only on proved states.
   */
  judged = false;

  constructor(
    private rules: HealthRules,
    now: Millis,
  ) {
    this.health = rules.initial;
    this.since = now;
  }

  /** New rise/fall counts (a reload) keep the state and the streak. */
  setRules(rules: HealthRules): void {
    this.rules = rules;
  }

  /** Counts one probe; returns the transition it caused, if any. */
  record(success: boolean, now: Millis): Transition | undefined {
    this.streak = success ? Math.max(0, this.streak) + 1 : Math.min(0, this.streak) - 1;
    const from = this.health;
    if (from === 'down' && this.streak >= this.rules.rise) this.health = 'up';
    else if (from === 'up' && -this.streak >= this.rules.fall) this.health = 'down';
    if (this.streak >= this.rules.rise || -this.streak >= this.rules.fall) this.judged = true;
    if (this.health === from) return undefined;
    this.since = now;
    this.changes++;
    return {from, to: this.health, after: Math.abs(this.streak)};
  }

  get successesInARow(): number {
    return Math.max(0, this.streak);
  }

  get failuresInARow(): number {
    return Math.max(0, -this.streak);
  }
}
