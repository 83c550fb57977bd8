/**
 * The entry point for check runs, bundled by esbuild into one CommonJS file (dist/fast-path.cjs) at build
 * time: loading ~30 ES modules one by one cost ~35 ms per run on Node 20, the bundle loads in a few. Help,
 * version and the command list still go through oclif (bin/run.cjs).
 */
import {State} from '../core/result/state.js';
import {checkPlugins, wantsOclif} from './registry.js';
import {runCheckCommand} from './run-check.js';

export interface FastPathHooks {
  /**
   * A check ran through the fast path and its verdict was OK, so the whole healthy path of that check was
   * compiled: the moment bin/run.cjs writes its code cache. `check` is the registry's own name for it.
   */
  readonly checkCompletedOk?: (check: string) => void;
}

/** Runs the check named by argv[0] and never returns; returns false when oclif should handle argv. */
export async function runFastPath(argv: readonly string[], hooks: FastPathHooks = {}): Promise<boolean> {
  const [command, ...rest] = argv;
  const entry = command === undefined ? undefined : Object.entries(checkPlugins).find(([name]) => name === command);
  if (!entry || wantsOclif(rest)) return false;
  const [check, load] = entry;
  return runCheckCommand(await load(), rest, {
    onVerdict: (state) => {
      if (state === State.Ok) hooks.checkCompletedOk?.(check);
    },
  });
}
