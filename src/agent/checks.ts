/**
 * The checks an agent can run: every registered plugin that probes one real server for a VIP:port (its flags
 * include --vip, --rs and --port). arp-audit, which judges a whole segment, stays a one-shot check.
 */
import {checkPlugins} from '../cli/registry.js';
import type {CheckPlugin} from '../plugin-api/plugin.js';

export async function agentChecks(): Promise<Map<string, CheckPlugin>> {
  const out = new Map<string, CheckPlugin>();
  for (const [id, load] of Object.entries(checkPlugins)) {
    const plugin = await load();
    const names = new Set(plugin.flags.map((f) => f.name));
    if (names.has('vip') && names.has('rs') && names.has('port')) out.set(id, plugin);
  }
  return out;
}
