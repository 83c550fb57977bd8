// Lab command line, for the demo and for poking at the lab by hand (needs root).
//
//   node dist/lab/cli.js up [--no-ipv6] [--prefix P]   build a lab, print it as one line of JSON on stdout,
//                                                      keep it until SIGINT/SIGTERM/SIGHUP, then tear it down
//   node dist/lab/cli.js clean [--prefix P]            remove labs whose owner process is gone; prints JSON
//
// While `up` runs: `ip netns exec <hosts.director.ns> bash` gets a shell on the director, and so on.

import { cleanupStaleLabs, createLab } from './lab.js';

const USAGE = 'usage: cli.js up [--no-ipv6] [--prefix P] | cli.js clean [--prefix P]';

interface Args {
  command: 'up' | 'clean';
  ipv6: boolean;
  prefix: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv;
  if (command !== 'up' && command !== 'clean') throw new UsageError(`unknown command ${JSON.stringify(command ?? '')}`);
  const args: Args = { command, ipv6: true, prefix: undefined };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--no-ipv6' && command === 'up') args.ipv6 = false;
    else if (arg === '--prefix' && rest[i + 1] !== undefined) args.prefix = rest[++i];
    else throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
  }
  return args;
}

class UsageError extends Error {}

async function up(args: Args): Promise<void> {
  const lab = await createLab({ ipv6: args.ipv6, ...(args.prefix !== undefined ? { prefix: args.prefix } : {}) });
  // The lab's own processes do not hold the event loop open (so a forgotten lab cannot hang a test run);
  // this timer does, until a signal arrives.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    lab.destroy().then(
      () => {
        process.stderr.write(`lab ${lab.id}: ${signal}, torn down\n`);
        clearInterval(keepAlive);
        process.exitCode = 0;
      },
      (err: unknown) => {
        process.stderr.write(`lab ${lab.id}: teardown failed: ${String(err)}\n`);
        clearInterval(keepAlive);
        process.exitCode = 1;
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  process.stdout.write(`${JSON.stringify(lab)}\n`);
  process.stderr.write(`lab ${lab.id} up in ${lab.setupMs} ms; SIGINT/SIGTERM tears it down\n`);
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args.command === 'clean') {
    process.stdout.write(`${JSON.stringify(cleanupStaleLabs(args.prefix !== undefined ? { prefix: args.prefix } : {}))}\n`);
    return;
  }
  await up(args);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
