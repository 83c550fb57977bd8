/**
 * Errors that end a check with UNKNOWN (3) and one line of text: the plugin could not judge the service.
 * This module depends on nothing, so every layer (links, neighbour resolution, plugins) can throw them.
 * Anything else thrown is a bug, but is still reported as one UNKNOWN line (never a stack trace) by the runner.
 *
 * Each class carries its kind under a registered symbol, and the runner classifies errors by that brand, not by
 * instanceof: a process can hold two copies of these classes (the fast path's CommonJS bundle and a third-party
 * plugin that imports the ES module build of vipcheck/plugin-api), and an instanceof test against the other
 * copy's class would turn the plugin's UsageError into "internal error".
 */
export const ERROR_KIND: unique symbol = Symbol.for('vipcheck.errorKind') as never;

export type ErrorKind = 'usage' | 'environment' | 'service-down';

export class UsageError extends Error {
  override readonly name: string = 'UsageError';
  readonly [ERROR_KIND]: ErrorKind = 'usage';
}

/** The environment prevents the check from running: missing privileges, unknown interface, no route... */
export class EnvironmentError extends Error {
  override readonly name: string = 'EnvironmentError';
  readonly [ERROR_KIND]: ErrorKind = 'environment';
}

/**
 * The check itself proved the service down before it could measure anything (e.g. the real server does not
 * answer ARP): CRITICAL with the reason, not UNKNOWN. Thrown from any layer; the runner renders it.
 */
export class ServiceDownError extends Error {
  override readonly name: string = 'ServiceDownError';
  readonly [ERROR_KIND]: ErrorKind = 'service-down';
}

/** The kind of a vipcheck error from any copy of this module, or undefined for anything else. */
export function errorKind(error: unknown): ErrorKind | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const kind = (error as {[ERROR_KIND]?: unknown})[ERROR_KIND];
  return kind === 'usage' || kind === 'environment' || kind === 'service-down' ? kind : undefined;
}
