/**
 * Errors that end a check with UNKNOWN (3) and one line of text: the plugin could not judge the service.
 * This module depends on nothing, so every layer (links, neighbour resolution, plugins) can throw them.
 * Anything else thrown is a bug, but is still reported as one UNKNOWN line (never a stack trace) by the runner.
 */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

/** The environment prevents the check from running: missing privileges, unknown interface, no route... */
export class EnvironmentError extends Error {
  override readonly name: string = 'EnvironmentError';
}

/**
 * The check itself proved the service down before it could measure anything (e.g. the real server does not
 * answer ARP): CRITICAL with the reason, not UNKNOWN. Thrown from any layer; the runner renders it.
 */
export class ServiceDownError extends Error {
  override readonly name: string = 'ServiceDownError';
}
