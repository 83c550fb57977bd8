/**
 * Loads a discovered third-party check: imports its module, calls the default export with vipcheck's own
 * plugin API and checks the shape of what comes back, so a broken plugin ends as one UNKNOWN line naming the
 * package rather than as a crash deep inside a run.
 */
import {pathToFileURL} from 'node:url';
import {EnvironmentError} from '../core/errors.js';
import type {CheckPlugin} from '../plugin-api/plugin.js';
import type {DiscoveredCheck} from './plugin-discovery.js';

/** How to import an ES module: the fast path's bundle runs in a vm.Script, which cannot call import() itself. */
export type ImportModule = (url: string) => Promise<unknown>;

export async function loadPluginCheck(found: DiscoveredCheck, importModule: ImportModule): Promise<CheckPlugin<any>> {
  const where = `plugin ${found.packageName} (${found.modulePath})`;
  let module: {default?: unknown};
  try {
    module = (await importModule(pathToFileURL(found.modulePath).href)) as {default?: unknown};
  } catch (error) {
    throw new EnvironmentError(`${where} cannot be loaded: ${oneLine(error)}`);
  }
  if (typeof module.default !== 'function') throw new EnvironmentError(`${where} has no default export function (api) => check`);
  const api = await import('../plugin-api/index.js');
  let plugin: unknown;
  try {
    plugin = await (module.default as (api: unknown) => unknown)(api);
  } catch (error) {
    throw new EnvironmentError(`${where} failed to build its check: ${oneLine(error)}`);
  }
  const problem = shapeProblem(plugin, found.id);
  if (problem) throw new EnvironmentError(`${where}: ${problem}`);
  return plugin as CheckPlugin<any>;
}

function shapeProblem(plugin: unknown, id: string): string | undefined {
  if (typeof plugin !== 'object' || plugin === null) return 'the factory did not return a check object';
  const p = plugin as Record<string, unknown>;
  if (p['id'] !== id) return `its check is named '${String(p['id'])}' but package.json declares '${id}'`;
  if (typeof p['title'] !== 'string' || !/^[A-Z0-9][A-Z0-9_-]*$/.test(p['title'])) return 'title must be an upper-case word (the first line says VIPCHECK <TITLE> ...)';
  if (!Array.isArray(p['flags'])) return 'flags must be an array of FlagSpec';
  if (typeof p['prepare'] !== 'function' || typeof p['run'] !== 'function') return 'prepare and run must be functions';
  for (const key of ['summary', 'description'] as const) if (typeof p[key] !== 'string') return `${key} must be a string`;
  if (!Array.isArray(p['examples'])) return 'examples must be an array of strings';
  return undefined;
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
}
