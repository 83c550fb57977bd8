/**
 * The oclif command class for a check plugin. Commands stay thin: help text and the manifest come from the
 * plugin's declarations, and run() hands the raw arguments to the same runner the fast path uses.
 */
import {Command} from '@oclif/core';
import type {CheckPlugin} from '../plugin-api/plugin.js';
import {toOclifFlags} from './oclif-flags.js';
import {runCheckCommand} from './run-check.js';

export function checkCommand(plugin: CheckPlugin<any>): typeof Command {
  return class extends Command {
    static override summary = plugin.summary;
    static override description = plugin.description;
    static override examples = [...plugin.examples];
    static override flags = toOclifFlags(plugin.flags);
    // Arguments are parsed by the check itself, identically on the fast path.
    static override strict = false;

    async run(): Promise<void> {
      await runCheckCommand(plugin, this.argv);
    }
  };
}
