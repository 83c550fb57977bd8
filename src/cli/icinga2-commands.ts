/**
 * Icinga 2 CheckCommand definitions for every check (contrib/icinga2/vipcheck.conf), generated from the plugins'
 * own flag declarations in the style of Icinga's Template Library: one `vipcheck_<flag>` custom variable per
 * long flag, `set_if` for booleans, `repeat_key` for repeatable flags, `required` as declared, and the
 * address of the host as the real server. A flag added to a check is an argument of its CheckCommand at the next
 * build (scripts/build-agent-validator.mjs writes the file; a unit test holds the committed file to it).
 *
 * `--json` and `--exit-codes` are left out: Icinga reads the Nagios text and the Nagios exit codes.
 */
import type {FlagSpec} from '../plugin-api/flag-spec.js';

const LEFT_OUT = new Set(['json', 'exit-codes']);

export interface CommandFlags {
  readonly id: string;
  readonly flags: readonly FlagSpec[];
}

/** The custom variable of a flag: `--role-file` is `vipcheck_role_file`. */
export function icingaVar(flag: string): string {
  return `vipcheck_${flag.replaceAll('-', '_')}`;
}

function quote(text: string): string {
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('$', '$$')}"`;
}

function argument(spec: FlagSpec): string {
  const macro = quote(`$${icingaVar(spec.name)}$`);
  const parts =
    spec.type === 'string'
      ? [`value = ${macro}`, ...(spec.multiple ? ['repeat_key = true'] : []), ...(spec.required ? ['required = true'] : [])]
      : [`set_if = ${macro}`];
  return `    ${quote(`--${spec.name}`)} = {\n${[...parts, `description = ${quote(spec.description)}`].map((p) => `      ${p}\n`).join('')}    }\n`;
}

export function icinga2Commands(checks: readonly CommandFlags[], vipcheck = '/usr/local/bin/vipcheck'): string {
  const header = [
    '// Icinga 2 CheckCommands for vipcheck, in the style of the Icinga Template Library: custom variables',
    '// vipcheck_<flag> named like the long flags (vipcheck_role_file = --role-file), set_if for booleans,',
    '// repeat_key for repeatable flags (an array gives the flag once per element). Checks run through sudo',
    '// (docs/monitoring.md, "Icinga 2"); vipcheck_rs defaults to the host\'s address.',
    '// Generated from the checks\' flag declarations (src/cli/icinga2-commands.ts) by npm run build: do not edit.',
    '',
  ].join('\n');
  const commands = checks.map((check) => {
    const args = check.flags.filter((f) => !LEFT_OUT.has(f.name)).map(argument).join('');
    // One real server per check: the host's address. arp-audit's repeatable --rs lists a segment's real servers.
    const hasRs = check.flags.some((f) => f.name === 'rs' && f.required && !f.multiple);
    return [
      `object CheckCommand ${quote(`vipcheck_${check.id.replaceAll('-', '_')}`)} {`,
      `  command = [ "/usr/bin/sudo", ${quote(vipcheck)}, ${quote(check.id)} ]`,
      `  arguments = {\n${args}  }`,
      ...(hasRs ? ['  vars.vipcheck_rs = "$address$"'] : []),
      '}',
      '',
    ].join('\n');
  });
  return `${header}\n${commands.join('\n')}`;
}
