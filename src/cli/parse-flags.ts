/**
 * Parses a check's argv against its FlagSpec list with node's util.parseArgs (strict: unknown options and
 * positional arguments are errors, reported as one UNKNOWN line).
 */
import {parseArgs, type ParseArgsConfig} from 'node:util';
import {UsageError} from '../core/errors.js';
import type {FlagSpec, FlagValues} from '../plugin-api/flag-spec.js';

export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[]): FlagValues {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const spec of specs) {
    options[spec.name] = {
      type: spec.type === 'string' ? 'string' : 'boolean',
      multiple: spec.multiple === true || spec.type === 'count',
      ...(spec.char ? {short: spec.char} : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({args: [...argv], options, strict: true, allowPositionals: false});
  } catch (error) {
    throw new UsageError(cleanParseError((error as Error).message));
  }
  const values: Record<string, string | boolean | number | string[] | undefined> = {};
  for (const spec of specs) {
    const raw = parsed.values[spec.name];
    if (spec.type === 'count') {
      values[spec.name] = Array.isArray(raw) ? raw.length : 0;
    } else if (raw === undefined) {
      values[spec.name] = spec.default;
    } else if (Array.isArray(raw)) {
      values[spec.name] = spec.multiple ? (raw as string[]) : (raw[raw.length - 1] as string | boolean);
    } else {
      values[spec.name] = raw as string | boolean;
    }
    const value = values[spec.name];
    if (spec.required && (value === undefined || value === '')) throw new UsageError(`--${spec.name} is required`);
    if (spec.options && typeof value === 'string' && !spec.options.includes(value)) {
      throw new UsageError(`--${spec.name} must be one of ${spec.options.join(', ')} (got '${value}')`);
    }
  }
  return values;
}

function cleanParseError(message: string): string {
  // util.parseArgs messages are long and mention "strict:false"; keep the first sentence.
  const first = message.split('. ')[0]!.replace(/\s+/g, ' ').trim();
  return first.replace(/^Option '([^']+)' argument missing$/, "option '$1' needs a value");
}
