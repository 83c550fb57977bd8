/**
 * The entry point for check runs, bundled by esbuild into one CommonJS file (dist/fast-path.cjs) at build
 * time: loading ~30 ES modules one by one cost ~35 ms per run on Node 20, the bundle loads in a few. Help,
 * version and the command list still go through oclif (bin/run.cjs).
 *
 * A command that is not a built-in check may be a third-party plugin's (plugin-discovery.ts): only then are
 * package.json files read, so the built-in checks pay nothing for plugins.
 */
import {State} from '../core/result/state.js';
import {checkPlugins, wantsOclif} from './registry.js';
import {reportCheckFailure, runCheckCommand} from './run-check.js';

export interface FastPathHooks {
  /**
   * A check ran through the fast path and its verdict was OK, so the whole healthy path of that check was
   * compiled: the moment bin/run.cjs writes its code cache. `check` is the registry's own name for it.
   */
  readonly checkCompletedOk?: (check: string) => void;
  /** vipcheck's package directory, whose node_modules neighbours are searched for plugins. */
  readonly packageDir?: string;
  /** import() from a real module: the bundle runs in a vm.Script, where import() is not available. */
  readonly importModule?: (url: string) => Promise<unknown>;
}

/** Runs the check named by argv[0] and never returns; returns false when oclif should handle argv. */
export async function runFastPath(argv: readonly string[], hooks: FastPathHooks = {}): Promise<boolean> {
  const [command, ...rest] = argv;
  const entry = command === undefined ? undefined : Object.entries(checkPlugins).find(([name]) => name === command);
  if (!entry) return command !== undefined && hooks.packageDir !== undefined && hooks.importModule ? runPluginCheck(command, rest, hooks) : false;
  if (wantsOclif(rest)) return false;
  const [check, load] = entry;
  return runCheckCommand(await load(), rest, cacheOnOk(check, hooks));
}

/** A plugin's check gets its code cache too (named by its own word): without one the bundle compiles every run. */
function cacheOnOk(check: string, hooks: FastPathHooks) {
  return {
    onVerdict: (state: State) => {
      if (state === State.Ok) hooks.checkCompletedOk?.(check);
    },
  };
}

async function runPluginCheck(command: string, rest: readonly string[], hooks: FastPathHooks): Promise<boolean> {
  const {CHECK_NAME, discoverPluginChecks} = await import('./plugin-discovery.js');
  if (!CHECK_NAME.test(command)) return false;
  const found = discoverPluginChecks(hooks.packageDir!).find((c) => c.id === command);
  // Not a plugin's either: oclif says the command is unknown, with its suggestions.
  if (!found) return false;
  const {loadPluginCheck} = await import('./plugin-loader.js');
  let plugin;
  try {
    plugin = await loadPluginCheck(found, hooks.importModule!);
  } catch (error) {
    return reportCheckFailure(command.toUpperCase(), error, rest);
  }
  if (rest.some((a) => a === '--help' || a === '-h')) {
    const {pluginHelpText} = await import('./plugin-help.js');
    process.stdout.write(pluginHelpText(plugin, 'vipcheck', found.packageName));
    return true;
  }
  return runCheckCommand(plugin, rest, cacheOnOk(command, hooks));
}
