/**
 * Nagios plugin states. The numeric value is the Nagios exit code; `keepalived` exit-code mode maps it
 * separately (see exit-code.ts) because keepalived's MISC_CHECK reads only "zero or not".
 */
export enum State {
  Ok = 0,
  Warning = 1,
  Critical = 2,
  Unknown = 3,
}

const NAMES: Record<State, string> = {
  [State.Ok]: 'OK',
  [State.Warning]: 'WARNING',
  [State.Critical]: 'CRITICAL',
  [State.Unknown]: 'UNKNOWN',
};

export function stateName(state: State): string {
  return NAMES[state];
}

/**
 * Severity order used to combine several findings into one state. Like nagiosplugin and Monitoring::Plugin,
 * CRITICAL outranks UNKNOWN: a check that proved the service is down says so even if another part of it
 * could not be judged.
 */
const SEVERITY: Record<State, number> = {
  [State.Ok]: 0,
  [State.Warning]: 1,
  [State.Unknown]: 2,
  [State.Critical]: 3,
};

export function worst(...states: State[]): State {
  return states.reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), State.Ok);
}
