/**
 * Outcome of a checked parse of untrusted bytes. Every frame from the network is hostile input: codecs never
 * throw on bad bytes, they return `{ok: false, error}` with a one-line reason, and once a view has been
 * obtained through a checked parse no accessor on it can read out of bounds.
 */
export type Parsed<T> = {readonly ok: true; readonly value: T} | {readonly ok: false; readonly error: string};

export function ok<T>(value: T): Parsed<T> {
  return {ok: true, value};
}

export function fail<T = never>(error: string): Parsed<T> {
  return {ok: false, error};
}
