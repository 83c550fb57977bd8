import {Command} from '@oclif/core';
import {toOclifFlags} from '../cli/oclif-flags.js';
import {runCheckCommand} from '../cli/run-check.js';
import {arpAuditPlugin} from '../plugins/arp-audit/index.js';

export default class ArpAudit extends Command {
  static override summary = arpAuditPlugin.summary;
  static override description = arpAuditPlugin.description;
  static override examples = [...arpAuditPlugin.examples];
  static override flags = toOclifFlags(arpAuditPlugin.flags);
  // Arguments are parsed by the check itself, identically on the fast path.
  static override strict = false;

  async run(): Promise<void> {
    await runCheckCommand(arpAuditPlugin, this.argv);
  }
}
