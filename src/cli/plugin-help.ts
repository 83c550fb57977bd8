/**
 * `vipcheck <plugin-check> --help` for a third-party check. The built-ins' help comes from oclif and its
 * manifest, which lists only the commands known at build time; a plugin's help is printed here from the same
 * declarations (FlagSpec), so it needs neither oclif (~100 ms) nor a manifest.
 */
import type {CheckPlugin} from '../plugin-api/plugin.js';
import type {FlagSpec} from '../plugin-api/flag-spec.js';

export function pluginHelpText(plugin: CheckPlugin<any>, bin: string, packageName: string): string {
  const flagColumn = plugin.flags.map(flagLabel);
  const width = Math.max(0, ...flagColumn.map((f) => f.length));
  const lines = [
    plugin.summary,
    '',
    'USAGE',
    `  $ ${bin} ${plugin.id} [FLAGS]`,
    '',
    'FLAGS',
    ...plugin.flags.map((spec, i) => `  ${flagColumn[i]!.padEnd(width)}  ${flagDescription(spec)}`),
    '',
    'DESCRIPTION',
    `  ${plugin.description}`,
    '',
    `  From the plugin package ${packageName}.`,
  ];
  if (plugin.examples.length > 0) {
    lines.push('', 'EXAMPLES', ...plugin.examples.map((e) => `  $ ${e.replace(/<%= config\.bin %>/g, bin)}`));
  }
  return lines.join('\n') + '\n';
}

function flagLabel(spec: FlagSpec): string {
  const short = spec.char ? `-${spec.char}, ` : '    ';
  const value = spec.type === 'string' ? `=${spec.helpValue ?? (spec.options ? spec.options.join('|') : 'VALUE')}` : '';
  return `${short}--${spec.name}${value}`;
}

function flagDescription(spec: FlagSpec): string {
  const notes = [spec.required ? 'required' : '', spec.default !== undefined ? `default: ${spec.default}` : ''].filter((n) => n);
  return notes.length > 0 ? `${spec.description} (${notes.join(', ')})` : spec.description;
}
