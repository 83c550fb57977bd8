// VM lab command line (docs/vm-lab.md). Needs what scripts/install-vm-lab installs, and a build (npm run build).
//
//   node dist/lab/vm/cli.js list                          the scenarios
//   node dist/lab/vm/cli.js run NAME [--keep-up] [--timeout S] [--console]
//        boots a guest, runs one scenario, prints its log and timings on stderr and its result.json on stdout;
//        exits with the scenario's status. --keep-up: then a root shell on the guest's serial console (this
//        terminal) until it exits. --console: also show the guest's console lines as they come.
//   node dist/lab/vm/cli.js shell [--timeout S]           a guest with IPVS modules loaded and a root shell
//   node dist/lab/vm/cli.js clean                         remove shares and qemu processes of dead owners
//
// Interactive guests: Ctrl-A X kills qemu at once; `exit` powers the guest off.

import { cleanupStaleGuests, runGuest } from './qemu.js';
import { VmLabUnavailable } from './kernel.js';
import { isScenarioName, runScenario, SCENARIOS } from './scenarios.js';

const USAGE = 'usage: cli.js list | run NAME [--keep-up] [--timeout SECONDS] [--console] | shell [--timeout SECONDS] | clean';
const DEFAULT_SHELL_TIMEOUT_S = 3600;

class UsageError extends Error {}

interface Args {
  command: 'list' | 'run' | 'shell' | 'clean';
  scenario: string | undefined;
  keepUp: boolean;
  console: boolean;
  timeoutS: number | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command !== 'list' && command !== 'run' && command !== 'shell' && command !== 'clean') {
    throw new UsageError(`unknown command ${JSON.stringify(command ?? '')}`);
  }
  const args: Args = { command, scenario: undefined, keepUp: false, console: false, timeoutS: undefined };
  if (command === 'run') {
    args.scenario = rest.shift();
    if (args.scenario === undefined || !isScenarioName(args.scenario)) {
      throw new UsageError(`unknown scenario ${JSON.stringify(args.scenario ?? '')} (one of: ${Object.keys(SCENARIOS).join(', ')})`);
    }
  }
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--keep-up' && command === 'run') args.keepUp = true;
    else if (arg === '--console' && command === 'run') args.console = true;
    else if (arg === '--timeout' && (command === 'run' || command === 'shell') && /^[1-9]\d*$/.test(rest[i + 1] ?? '')) args.timeoutS = Number(rest[++i]);
    else throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
  }
  return args;
}

async function run(args: Args): Promise<number> {
  const name = args.scenario;
  if (name === undefined || !isScenarioName(name)) throw new UsageError('run needs a scenario');
  process.stderr.write(`booting a guest for ${name}: ${SCENARIOS[name].description}\n`);
  const { guest, result } = await runScenario(name, {
    interactive: args.keepUp,
    ...(args.timeoutS !== undefined ? { timeoutMs: args.timeoutS * 1000 } : {}),
    ...(args.console ? { onConsoleLine: (line: string) => process.stderr.write(`console| ${line}\n`) } : {}),
  });
  process.stderr.write(guest.output);
  const t = guest.timings;
  // An interactive console is not parsed, so only the total is known then.
  const phases = args.keepUp ? '' : `boot ${t.bootMs ?? '?'} ms, scenario ${t.scenarioMs ?? '?'} ms, `;
  process.stderr.write(
    `\n${name}: exit status ${guest.exitStatus ?? 'none'}${guest.timedOut ? ' (hard deadline reached, qemu killed)' : ''}; ` +
      `${phases}qemu total ${t.totalMs} ms\n`,
  );
  if (guest.exitStatus === null) process.stderr.write(`guest console (tail):\n${guest.console}\n`);
  if (result !== null) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return guest.exitStatus ?? 1;
}

async function shell(args: Args): Promise<number> {
  process.stderr.write('booting a guest; a root shell follows on this terminal (exit powers off, Ctrl-A X kills qemu)\n');
  const guest = await runGuest({
    script: 'exit 0\n',
    modules: SCENARIOS['keepalived-misc-check'].modules,
    interactive: true,
    timeoutMs: (args.timeoutS ?? DEFAULT_SHELL_TIMEOUT_S) * 1000,
  });
  process.stderr.write(`guest ended after ${guest.timings.totalMs} ms${guest.timedOut ? ' (hard deadline reached, qemu killed)' : ''}\n`);
  return 0;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  switch (args.command) {
    case 'list':
      for (const [name, s] of Object.entries(SCENARIOS)) process.stdout.write(`${name}\t${s.description}\n`);
      return 0;
    case 'clean':
      process.stdout.write(`${JSON.stringify(cleanupStaleGuests())}\n`);
      return 0;
    case 'run':
      return run(args);
    case 'shell':
      return shell(args);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n${USAGE}\n`);
    else if (err instanceof VmLabUnavailable) process.stderr.write(`vm lab: ${err.message}\n`);
    else process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
