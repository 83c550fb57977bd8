/**
 * Services whose check is a third-party plugin's. The configuration schema is compiled at vipcheck's build time
 * (config-schema.ts), so it knows only the built-in checks: such a service is given to the schema with its common
 * keys alone (SERVICE_KEYS, under a built-in check's name, so name, vip, port, real-servers and the timings are
 * still checked there), and its other keys are checked here against the plugin's own flag declarations, with
 * the schema's words. The plugin's prepare() then judges the values, as for every check.
 */
import type {FlagSpec} from '../plugin-api/flag-spec.js';
import type {CheckPlugin} from '../plugin-api/plugin.js';
import {checkPlugins} from '../cli/registry.js';
import {AGENT_SET_FLAGS, SERVICE_KEYS} from './config-schema.js';

/** A built-in check whose schema branch accepts a service made of SERVICE_KEYS only. */
const STAND_IN_CHECK = 'tcp';

export function splitPluginServices(data: unknown, plugins: ReadonlyMap<string, CheckPlugin>): {schemaView: unknown; problems: string[]} {
  const services = (data as {services?: unknown} | null)?.services;
  if (!Array.isArray(services)) return {schemaView: data, problems: []};
  const problems: string[] = [];
  const view = services.map((service: unknown, index) => {
    if (typeof service !== 'object' || service === null) return service;
    const check = (service as {check?: unknown}).check;
    const plugin = typeof check === 'string' && !(check in checkPlugins) ? plugins.get(check) : undefined;
    if (!plugin) return service;
    const flags = new Map(plugin.flags.filter((f) => !AGENT_SET_FLAGS.has(f.name)).map((f) => [f.name, f]));
    const common: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(service)) {
      if (SERVICE_KEYS.includes(key)) common[key] = value;
      else if (!flags.has(key)) problems.push(`services[${index}].${key}: unknown key for this check`);
      else {
        const problem = valueProblem(flags.get(key)!, value);
        if (problem) problems.push(`services[${index}].${key}: ${problem}`);
      }
    }
    return {...common, check: STAND_IN_CHECK};
  });
  return {schemaView: {...(data as object), services: view}, problems};
}

/** The schema's type rules for one flag (config-schema.ts flagSchema), as a sentence, or undefined. */
function valueProblem(spec: FlagSpec, value: unknown): string | undefined {
  if (spec.type === 'boolean') return typeof value === 'boolean' ? undefined : 'must be boolean';
  if (spec.type === 'count') return Number.isInteger(value) && (value as number) >= 0 ? undefined : 'must be a whole number >= 0';
  const scalarProblem = (v: unknown) => {
    if (spec.options) return spec.options.includes(v as string) ? undefined : `must be one of ${spec.options.join(', ')}`;
    return typeof v === 'string' || typeof v === 'number' ? undefined : 'must be a string or a number';
  };
  if (spec.multiple && Array.isArray(value)) return value.map(scalarProblem).find((p) => p !== undefined);
  return scalarProblem(value);
}
