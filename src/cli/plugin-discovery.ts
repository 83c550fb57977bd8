/**
 * Finds third-party check plugins: npm packages whose package.json declares checks under a `vipcheck` key
 *
 *     "vipcheck": {"checks": {"redis": "./src/redis.js"}}
 *
 * (check name -> ES module whose default export is a CheckPluginFactory). Looked for, in this order:
 *   1. every entry of VIPCHECK_PLUGINS (a `:`-separated list): a plugin package directory, or a directory of
 *      packages (a node_modules) whose `vipcheck-plugin-*` and `@scope/vipcheck-plugin-*` packages are read;
 *   2. the node_modules directory vipcheck itself is installed in (`npm install -g` puts plugins there too),
 *      read the same way.
 * The first package to declare a name wins; a built-in check's name is never given to a plugin (the caller
 * checks built-ins first). Only package.json files are read here, never a plugin's code: the fast path calls
 * this only for a command that is not built in, and the agent once per configuration load.
 */
import {readdirSync, readFileSync} from 'node:fs';
import {basename, delimiter, dirname, isAbsolute, join, relative, resolve} from 'node:path';

export interface DiscoveredCheck {
  /** The command name, e.g. `redis`. */
  readonly id: string;
  readonly packageName: string;
  readonly packageDir: string;
  /** Absolute path of the module whose default export builds the check. */
  readonly modulePath: string;
}

/** What a check name may be: a plain word, as the built-ins' (and the code cache's file names) are. */
export const CHECK_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const PLUGIN_PACKAGE = /^vipcheck-plugin-[a-z0-9._-]+$/;
/** vipcheck's own commands besides the checks (oclif's): a plugin cannot take these names. */
const RESERVED_NAMES = new Set(['agent', 'help', 'plugins', 'version', 'commands', 'autocomplete']);

/** The directories searched, in order, for an installation of vipcheck at `vipcheckDir`. */
export function pluginSearchPath(vipcheckDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env['VIPCHECK_PLUGINS'] ?? '').split(delimiter).filter((p) => p !== '').map((p) => resolve(p));
  const parent = dirname(resolve(vipcheckDir));
  const installedIn = basename(parent) === 'node_modules' ? [parent] : [];
  return [...fromEnv, ...installedIn];
}

export function discoverPluginChecks(vipcheckDir: string, env: NodeJS.ProcessEnv = process.env): DiscoveredCheck[] {
  const found = new Map<string, DiscoveredCheck>();
  for (const dir of pluginSearchPath(vipcheckDir, env)) {
    for (const packageDir of pluginPackagesIn(dir)) {
      for (const check of declaredChecks(packageDir)) if (!found.has(check.id)) found.set(check.id, check);
    }
  }
  return [...found.values()];
}

/** `dir` itself when it is a plugin package, else its vipcheck-plugin-* packages (one level of @scope too). */
function pluginPackagesIn(dir: string): string[] {
  if (readPackageJson(dir)?.vipcheck !== undefined) return [dir];
  const packages: string[] = [];
  for (const name of listDir(dir)) {
    if (PLUGIN_PACKAGE.test(name)) packages.push(join(dir, name));
    else if (name.startsWith('@')) {
      for (const scoped of listDir(join(dir, name))) if (PLUGIN_PACKAGE.test(scoped)) packages.push(join(dir, name, scoped));
    }
  }
  return packages;
}

interface PluginPackageJson {
  readonly name?: unknown;
  readonly vipcheck?: {readonly checks?: unknown};
}

function declaredChecks(packageDir: string): DiscoveredCheck[] {
  const json = readPackageJson(packageDir);
  const checks = json?.vipcheck?.checks;
  if (typeof checks !== 'object' || checks === null) return [];
  const packageName = typeof json?.name === 'string' ? json.name : basename(packageDir);
  const out: DiscoveredCheck[] = [];
  for (const [id, modulePath] of Object.entries(checks as Record<string, unknown>)) {
    if (!CHECK_NAME.test(id) || RESERVED_NAMES.has(id) || typeof modulePath !== 'string') continue;
    const absolute = resolve(packageDir, modulePath);
    // A package's checks live inside the package; anything else is a broken (or hostile) declaration.
    const inside = relative(packageDir, absolute);
    if (inside.startsWith('..') || isAbsolute(inside)) continue;
    out.push({id, packageName, packageDir, modulePath: absolute});
  }
  return out;
}

function readPackageJson(dir: string): PluginPackageJson | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PluginPackageJson;
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
