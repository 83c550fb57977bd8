// Child-process helpers for the lab. Every command is an argv array handed to spawn() without a shell,
// and every wait has a bound: a command that overruns its timeout is killed with SIGKILL.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  /** Exit status, or null when the process was killed by a signal (including our timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the process was killed because it overran timeoutMs. */
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string;
  /** Added to (and overriding) this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Called with the child right after it is spawned, so an owner can kill it in an emergency. */
  track?: (child: ChildProcess) => void;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
/** Output beyond this is dropped (the tail is kept): lab commands print little, a runaway one must not eat memory. */
const MAX_OUTPUT = 4 * 1024 * 1024;

/** Keeps the last `limit` characters of a stream. */
export class Tail {
  private text = '';
  constructor(private readonly limit: number) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text;
  }
}

/** Runs argv[0] with argv[1..], collects output, never throws for a non-zero exit. */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('run: empty argv'));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    });
    options.track?.(child);
    const stdout = new Tail(MAX_OUTPUT);
    const stderr = new Tail(MAX_OUTPUT);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => stdout.push(s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => stderr.push(s));
    if (options.input !== undefined) {
      child.stdin?.on('error', () => undefined); // the child may exit before reading; that is its answer
      child.stdin?.end(options.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close' (not 'exit') so that all output has been read.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout.toString(), stderr: stderr.toString(), timedOut });
    });
  });
}

/** Like run() but throws unless the command exits 0. */
export async function runOk(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.code !== 0) throw new Error(describeFailure(argv, result));
  return result;
}

/** Synchronous variant for teardown paths that cannot wait for the event loop ('exit' handlers, signals). */
export function runSync(argv: readonly string[], options: { timeoutMs?: number; input?: string } = {}): RunResult {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runSync: empty argv');
  const r = spawnSync(file, args, {
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: MAX_OUTPUT,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  if (r.error && !timedOut) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', timedOut };
}

export function describeFailure(argv: readonly string[], r: RunResult): string {
  const how = r.timedOut ? 'timed out' : r.code === null ? `killed by ${r.signal}` : `exited ${r.code}`;
  const err = r.stderr.trim() || r.stdout.trim();
  return `${argv.join(' ')} ${how}${err ? `: ${err}` : ''}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when the child has exited, false if it is still running after timeoutMs. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/**
 * True if a process with this pid is running (in our PID namespace). A zombie counts as dead: it has
 * exited and merely waits for its parent to reap it, which may never happen when PID 1 of a container
 * does not reap orphans.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: exists, not ours
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may contain spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // gone between the two checks
  }
}

/** Sends a signal, ignoring "no such process". */
export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const exitCleanups = new Set<() => void>();
let exitHooksInstalled = false;

/**
 * Runs cleanup (synchronously; it must not wait) when the process exits, normally or through an uncaught
 * exception, or gets SIGINT/SIGTERM/SIGHUP. One set of handlers serves every cleanup (labs, guests), so that the
 * decision to re-raise a signal is taken once. Adding the same function twice registers it once.
 */
export function addExitCleanup(cleanup: () => void): void {
  exitCleanups.add(cleanup);
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // 'exit' also fires after an uncaught exception or unhandled rejection has been reported, so there is no
  // need for an 'uncaughtException' listener (which would stop Node from crashing).
  process.on('exit', runExitCleanups);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      runExitCleanups();
      // A listener disables Node's default action (exit). If nobody else handles this signal, restore the
      // default and re-raise, so the process still dies of the signal as it would without a lab.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function runExitCleanups(): void {
  for (const cleanup of [...exitCleanups]) {
    try {
      cleanup();
    } catch (err) {
      process.stderr.write(`vipcheck: cleanup at exit failed: ${String(err)}\n`);
    }
  }
}
