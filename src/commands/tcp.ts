import {Command} from '@oclif/core';
import {toOclifFlags} from '../cli/oclif-flags.js';
import {runCheckCommand} from '../cli/run-check.js';
import {tcpPlugin} from '../plugins/tcp/index.js';

export default class Tcp extends Command {
  static override summary = tcpPlugin.summary;
  static override description = tcpPlugin.description;
  static override examples = [...tcpPlugin.examples];
  static override flags = toOclifFlags(tcpPlugin.flags);
  // Arguments are parsed by the check itself, identically on the fast path.
  static override strict = false;

  async run(): Promise<void> {
    await runCheckCommand(tcpPlugin, this.argv);
  }
}
