/**
 * Runs one check as a monitoring plugin, the process around plugin-api's runCheck: parse flags, run with a
 * hard deadline, print exactly one result to stdout, exit with the right code. Every failure of the plugin itself (bad arguments, missing privileges,
 * internal errors) becomes one UNKNOWN line, never a stack trace; a probe that runs out of time is CRITICAL
 * (monitoring.md). The process exits explicitly, so that no handle left by a library can keep it alive past the verdict.
 */
import {writeSync} from 'node:fs';
import type {CheckResult, VerboseLine} from '../core/result/check-result.js';
import {exitCodeFor, renderJson, renderNagios, type ExitCodeMode} from '../core/result/render.js';
import {State} from '../core/result/state.js';
import type {CheckPlugin, RunContext} from '../plugin-api/plugin.js';
import type {FlagValues} from '../plugin-api/flag-spec.js';
import {parseFlags} from './parse-flags.js';
import {secondsFlag} from '../plugin-api/convert.js';
import {errorResult, runCheck} from '../plugin-api/run-check.js';

interface OutputSettings {
  json: boolean;
  exitCodes: ExitCodeMode;
  verbosity: number;
}

/** Output settings even when the full parse fails, so a usage error still honours --json and --exit-codes. */
function sniffOutputSettings(argv: readonly string[]): OutputSettings {
  const exitIndex = argv.findIndex((a) => a === '--exit-codes' || a.startsWith('--exit-codes='));
  const exitArg = exitIndex < 0 ? undefined : argv[exitIndex]!.includes('=') ? argv[exitIndex]!.split('=')[1] : argv[exitIndex + 1];
  return {
    json: argv.includes('--json'),
    exitCodes: exitArg === 'keepalived' ? 'keepalived' : 'nagios',
    verbosity: 0,
  };
}

function settingsFrom(values: FlagValues): OutputSettings {
  return {
    json: values['json'] === true,
    exitCodes: values['exit-codes'] === 'keepalived' ? 'keepalived' : 'nagios',
    verbosity: typeof values['verbose'] === 'number' ? values['verbose'] : 0,
  };
}

export interface RunCheckHooks {
  /** Called once with the verdict, just before the output is written and the process exits. */
  readonly onVerdict?: (state: State) => void;
}

export async function runCheckCommand(plugin: CheckPlugin, argv: readonly string[], hooks: RunCheckHooks = {}): Promise<never> {
  let settings = sniffOutputSettings(argv);
  const verbose: VerboseLine[] = [];
  const cleanups: Array<() => void> = [];
  let done = false;

  const finish = (result: CheckResult): Promise<never> => {
    if (done) return new Promise<never>(() => {});
    done = true;
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch {
        // Cleanup failures must not mask the verdict.
      }
    }
    return emitResult({...result, verbose: [...verbose, ...(result.verbose ?? [])]}, settings, hooks);
  };

  try {
    const values = parseFlags(plugin.flags, argv);
    settings = settingsFrom(values);
    const timeoutMs = secondsFlag(values, 'timeout');
    const options = plugin.prepare(values);
    // The deadline counts from the start of this process, not from when the flags were parsed: the caller
    // (NRPE, Nagios, keepalived) times the whole process, Node's start-up (~0.1 s, far more on a loaded host)
    // included. performance.now() counts from the process's time origin, so timeoutMs on it is the deadline.
    const deadline = timeoutMs;
    const context: RunContext = {
      deadline,
      timeoutMs,
      verbosity: settings.verbosity,
      note: (level, text) => verbose.push({level, text}),
      onCleanup: (fn) => cleanups.push(fn),
    };
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.once(signal, () =>
        finish({check: plugin.title, state: State.Unknown, summary: `interrupted by ${signal}`, details: [], perfdata: []}),
      );
    }
    return await finish(await runCheck(plugin, options, context));
  } catch (error) {
    return finish(errorResult(plugin, error));
  }
}

/**
 * The one UNKNOWN result of a check that could not even be loaded (a broken third-party plugin), printed the way
 * its run would have been: --json and --exit-codes are honoured.
 */
export function reportCheckFailure(title: string, error: unknown, argv: readonly string[]): Promise<never> {
  return emitResult(errorResult({title}, error), sniffOutputSettings(argv), {});
}

/** Prints the result as the settings ask, tells the hooks, and exits with the code for its state. */
function emitResult(result: CheckResult, settings: OutputSettings, hooks: RunCheckHooks): Promise<never> {
  const text = settings.json
    ? JSON.stringify(renderJson(result, settings.exitCodes, settings.verbosity), null, 2) + '\n'
    : renderNagios(result, settings.verbosity);
  const code = exitCodeFor(result.state, settings.exitCodes);
  try {
    hooks.onVerdict?.(result.state);
  } catch {
    // A hook (the code cache) must not change the verdict.
  }
  return new Promise<never>(() => writeOutput(text, () => process.exit(code)));
}

/**
 * Writes the result to stdout, then calls `done`. Synchronously when it can: touching process.stdout makes
 * Node build a stream for it, and for a pipe (how Nagios, NRPE and keepalived read plugins) that loads the net
 * and stream modules, ~2 ms of a check that otherwise never needs them. A non-blocking stdout that is full
 * (EAGAIN, not expected for a few KB into an empty pipe) falls back to the stream.
 */
function writeOutput(text: string, done: () => void): void {
  const bytes = Buffer.from(text);
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(1, bytes, written);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') {
      done(); // stdout is gone (EPIPE, closed): nothing more can be said, the exit code still tells
      return;
    }
    process.stdout.write(bytes.subarray(written), () => done());
    return;
  }
  done();
}
