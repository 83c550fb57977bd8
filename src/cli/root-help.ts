/**
 * oclif's root help (`vipcheck`, `vipcheck help`, `vipcheck --help`) plus the third-party checks this
 * installation finds (plugin-discovery.ts): oclif lists only its own commands, and an operator who installed a
 * plugin package should see its checks where the built-ins are. Only package.json files are read, never a
 * plugin's code: `vipcheck <check> --help` loads the plugin and shows its flags.
 */
import {Help} from '@oclif/core';
import {discoverPluginChecks} from './plugin-discovery.js';

export default class VipcheckHelp extends Help {
  protected override async showRootHelp(): Promise<void> {
    await super.showRootHelp();
    const checks = discoverPluginChecks(this.config.root);
    if (checks.length === 0) return;
    const rows = checks.map((c) => [c.id, `from ${c.packageName}; vipcheck ${c.id} --help for its flags`]);
    this.log(this.section('THIRD-PARTY CHECKS', this.renderList(rows, {indentation: 2, spacer: '\n', stripAnsi: this.opts.stripAnsi})));
    this.log('');
  }
}
