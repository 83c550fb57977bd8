/**
 * The checks an agent can run: every registered plugin that probes one real server for a VIP:port (its flags
 * include --vip, --rs and --port), built in or third-party (cli/plugin-discovery.ts: the same ones the command
 * line finds). arp-audit, which judges a whole segment, stays a one-shot check.
 */
import {fileURLToPath} from 'node:url';
import {checkPlugins} from '../cli/registry.js';
import {discoverPluginChecks} from '../cli/plugin-discovery.js';
import {loadPluginCheck} from '../cli/plugin-loader.js';
import type {CheckPlugin} from '../plugin-api/plugin.js';

/** vipcheck's package directory (this file is dist/agent/checks.js, or src/agent/checks.ts under tsx). */
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));

export async function agentChecks(env: NodeJS.ProcessEnv = process.env): Promise<Map<string, CheckPlugin>> {
  const out = new Map<string, CheckPlugin>();
  for (const [id, load] of Object.entries(checkPlugins)) addIfPerTarget(out, id, await load());
  for (const found of discoverPluginChecks(PACKAGE_DIR, env)) {
    // A built-in keeps its name; a broken plugin stops the configuration load with its one-line reason.
    if (!(found.id in checkPlugins)) addIfPerTarget(out, found.id, await loadPluginCheck(found, (url) => import(url)));
  }
  return out;
}

function addIfPerTarget(out: Map<string, CheckPlugin>, id: string, plugin: CheckPlugin): void {
  const names = new Set(plugin.flags.map((f) => f.name));
  if (names.has('vip') && names.has('rs') && names.has('port')) out.set(id, plugin);
}
