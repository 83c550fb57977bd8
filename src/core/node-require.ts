/**
 * Synchronous require() from code that is an ES module in tests and the lab but part of a CommonJS bundle in
 * a check run (dist/fast-path.cjs, where `require` exists and import.meta does not).
 *
 * Used for what a check needs only sometimes: a native addon, and Node modules that cost milliseconds to load
 * (tls ~4 ms, child_process ~4 ms, measured), so that a run which does not need them does not pay for them.
 */
import {createRequire} from 'node:module';

let cached: NodeJS.Require | undefined;

export function nodeRequire(): NodeJS.Require {
  cached ??= typeof require === 'function' ? require : createRequire(import.meta.url);
  return cached;
}
