import {Command, Flags} from '@oclif/core';

/** `vipcheck agent`: the long-running process (docs/agent.md). Arguments are parsed by agentMain itself. */
export default class AgentCommand extends Command {
  static override summary = 'Run every VIP-path check of a director in one process: metrics, FILE_CHECK files, status page.';
  static override description =
    'Runs the checks of a YAML configuration on a schedule, over one packet socket per interface, with rise/fall, ' +
    'Prometheus metrics at /metrics, keepalived FILE_CHECK files, /status (JSON) and a status page at /. ' +
    'SIGHUP reloads (an invalid file keeps the running configuration), SIGTERM stops within a second.';
  static override examples = ['<%= config.bin %> agent --config /etc/vipcheck/agent.yaml', '<%= config.bin %> agent --check-config /etc/vipcheck/agent.yaml'];
  static override flags = {
    config: Flags.string({description: 'Configuration file to run (YAML or JSON).', helpValue: 'FILE'}),
    'check-config': Flags.string({description: 'Validate a configuration file, one line per problem; exit 0 when valid, 1 when not.', helpValue: 'FILE'}),
  };
  static override strict = false;

  async run(): Promise<void> {
    const {agentMain} = await import('../agent/main.js');
    await agentMain(this.argv);
  }
}
