/**
 * The agent as a process: `vipcheck agent --config FILE` runs until SIGTERM or SIGINT (stopping within a
 * second), and reloads on SIGHUP; `vipcheck agent --check-config FILE` validates and prints one line per
 * problem (exit 0 when valid, 1 when not). Log lines go to stderr without colours or timestamps (journald adds
 * both). A problem at start (bad config, no privileges, port in use) is one line and exit 1.
 */
import {createRequire} from 'node:module';
import {parseArgs} from 'node:util';
import {EnvironmentError} from '../core/errors.js';
import {openIpvsControl} from '../core/ipvs/open.js';
import {Agent} from './agent.js';
import {agentChecks} from './checks.js';
import {ConfigError, loadConfig} from './config.js';
import {paceHeap} from './heap-pacing.js';

const USAGE = 'usage: vipcheck agent --config FILE | --check-config FILE';

function log(line: string): void {
  process.stderr.write(`vipcheck agent: ${line}\n`);
}

function version(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as {version: string}).version;
  } catch {
    return 'unknown';
  }
}

export async function agentMain(argv: readonly string[]): Promise<never> {
  let values: {config?: string; 'check-config'?: string};
  try {
    values = parseArgs({args: [...argv], options: {config: {type: 'string'}, 'check-config': {type: 'string'}}, strict: true, allowPositionals: false}).values;
  } catch (error) {
    log(`${(error as Error).message.split('. ')[0]}; ${USAGE}`);
    process.exit(1);
  }
  if (values['check-config'] !== undefined) {
    try {
      const config = await loadConfig(values['check-config'], await agentChecks());
      const fromTable = config.ipvs ? `, and ${config.ipvs.sources.length} services whose real servers come from the IPVS table` : '';
      process.stdout.write(`${values['check-config']}: valid, ${config.targets.length} targets${fromTable}\n`);
      process.exit(0);
    } catch (error) {
      const lines = error instanceof ConfigError ? error.problems : [(error as Error).message];
      process.stdout.write(lines.map((line) => `${values['check-config']}: ${line}`).join('\n') + '\n');
      process.exit(1);
    }
  }
  if (values.config === undefined) {
    log(USAGE);
    process.exit(1);
  }
  paceHeap();
  let agent: Agent;
  try {
    agent = await Agent.start({configPath: values.config, log, version: version(), openIpvs: (notice) => openIpvsControl({notice})});
  } catch (error) {
    const lines = error instanceof ConfigError ? error.problems : [(error as Error).message.split('\n')[0]!];
    for (const line of lines) log(error instanceof ConfigError || error instanceof EnvironmentError ? line : `cannot start: ${line}`);
    process.exit(1);
  }
  let reloading = Promise.resolve(true);
  process.on('SIGHUP', () => {
    reloading = reloading.then(() => agent.reload());
  });
  const stop = (signal: string) => {
    log(`${signal}: stopping`);
    // Whatever happens, the process exits within a second (systemd's stop, keepalived's view), and never
    // without removing its firewall table.
    setTimeout(() => {
      agent.stopNow();
      process.exit(0);
    }, 800).unref();
    agent.stop().then(
      () => process.exit(0),
      (error: Error) => {
        log(`stopping: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return new Promise<never>(() => {});
}
