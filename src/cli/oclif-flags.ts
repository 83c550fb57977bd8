/**
 * Turns FlagSpec declarations into oclif flag definitions, used only for help text and the manifest: check
 * commands parse argv themselves (parse-flags.ts) so the fast path and oclif accept exactly the same input.
 */
import {Flags} from '@oclif/core';
import type {FlagSpec} from '../plugin-api/flag-spec.js';

// oclif's flag types are deeply generic; the help renderer needs only the common fields.
type AnyFlag = ReturnType<typeof Flags.string> | ReturnType<typeof Flags.boolean>;

export function toOclifFlags(specs: readonly FlagSpec[]): Record<string, AnyFlag> {
  const flags: Record<string, AnyFlag> = {};
  for (const spec of specs) {
    const common = {
      description: spec.description,
      ...(spec.char ? {char: spec.char as 'a'} : {}),
      ...(spec.required ? {required: true} : {}),
    };
    if (spec.type === 'string') {
      const stringOptions = {
        ...common,
        ...(spec.helpValue ? {helpValue: spec.helpValue} : {}),
        ...(spec.options ? {options: [...spec.options]} : {}),
        ...(spec.default !== undefined ? {default: spec.default} : {}),
      };
      const {default: defaultValue, ...rest} = stringOptions;
      flags[spec.name] = (
        spec.multiple
          ? Flags.string({...rest, multiple: true, ...(defaultValue === undefined ? {} : {default: [defaultValue]})})
          : Flags.string(stringOptions)
      ) as AnyFlag;
    } else {
      flags[spec.name] = Flags.boolean(common) as AnyFlag;
    }
  }
  return flags;
}
