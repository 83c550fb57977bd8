/**
 * The entry point for check runs, bundled by esbuild into one CommonJS file (dist/fast-path.cjs) at build
 * time: loading ~30 ES modules one by one cost ~35 ms per run on Node 20, the bundle loads in a few. Help,
 * version and the command list still go through oclif (bin/run.cjs).
 */
import {checkPlugins, wantsOclif} from './registry.js';
import {runCheckCommand} from './run-check.js';

/** Runs the check named by argv[0] and never returns; returns false when oclif should handle argv. */
export async function runFastPath(argv: readonly string[]): Promise<boolean> {
  const [command, ...rest] = argv;
  const load = command === undefined ? undefined : checkPlugins[command];
  if (!load || wantsOclif(rest)) return false;
  return runCheckCommand(await load(), rest);
}
