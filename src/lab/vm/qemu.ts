// Boots Debian's kernel under qemu (TCG) on this machine's own root filesystem and runs one scenario script in
// the guest as root; see docs/vm-lab.md.
//
//   host /  ──9p, read-only──▶ guest /          (same node, python3, keepalived, ipvsadm, vipcheck checkout)
//   <tmp>/vipcheck-vm-<pid>x<hex>  ──9p, writable──▶ guest /run/vipcheck-vm/share  (scenario in, results out)
//
// The guest always ends: the scenario runs under a timeout inside the guest, qemu is SIGKILLed at the hard
// deadline (and when this process exits or is signalled), and the share directory is removed. Shares and qemu
// processes left behind by a SIGKILLed owner are removed by the next run (cleanupStaleGuests).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { addExitCleanup, killQuietly, pidAlive, Tail } from '../proc.js';
import { GUEST_SHARE, HOSTROOT_TAG, MARKER, SHARE_TAG } from './guest-init.js';
import { ensureInitramfs } from './initramfs.js';
import { findGuestKernel, vmCacheDir, VmLabUnavailable } from './kernel.js';

export const QEMU = 'qemu-system-x86_64';
/** One guest at a time on a 2-core machine shared with others: never more vCPUs than this. */
export const MAX_CPUS = 2;
const DEFAULT_MEMORY_MIB = 2048;
/** The guest's own scenario timeout ends this much before the host's hard deadline, so it can still report. */
const GUEST_DEADLINE_MARGIN_MS = 15_000;
/** Files the host writes into the share (not results). */
const INPUT_FILES = new Set(['guest.env', 'scenario.sh']);
const MAX_RESULT_FILE = 4 * 1024 * 1024;

export interface GuestOptions {
  /** Shell script the guest runs as root with /bin/sh; $VIPCHECK_VM_SHARE is the writable share there. */
  script: string;
  /** Guest kernel modules loaded (with their dependencies) before the script. */
  modules?: readonly string[];
  /**
   * Host directories the script needs (the checkout, node's installation). The guest puts a tmpfs on /tmp, /run,
   * /var/tmp, /root and /var/lib/keepalived; these stay visible even when they lie below one of them.
   */
  keepPaths?: readonly string[];
  /** Hard deadline for the whole guest, boot included. */
  timeoutMs: number;
  /** Serial console on this process's terminal (stdin and stderr), and a root shell after the script until it exits. */
  interactive?: boolean;
  memoryMiB?: number;
  /** vCPUs, at most MAX_CPUS (default). */
  cpus?: number;
  /** Each console line as it arrives (not in interactive mode). */
  onConsoleLine?: (line: string) => void;
}

export interface GuestTimings {
  /** qemu start to the scenario's first command. */
  bootMs: number | null;
  /** The scenario itself. */
  scenarioMs: number | null;
  /** qemu start to qemu exit. */
  totalMs: number;
}

export interface GuestResult {
  /** The scenario's exit status; null when it did not finish (deadline, guest crash). */
  exitStatus: number | null;
  /** The scenario's stdout and stderr. */
  output: string;
  /** Every other file the scenario left in the share, by path relative to it, as text. */
  files: Record<string, string>;
  /** Tail of the serial console (kernel messages, the init's lines). */
  console: string;
  timings: GuestTimings;
  /** qemu was killed at the hard deadline. */
  timedOut: boolean;
}

/** Why no guest can be started here (one line), or null. Cheap: looks at files only. */
export function guestPrerequisiteProblem(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the VM lab runs on x86-64 Linux, not ${process.platform}/${process.arch}`;
  if (findOnPath(QEMU) === null) return `${QEMU} is not installed (run scripts/install-vm-lab as root)`;
  try {
    findGuestKernel();
  } catch (err) {
    if (err instanceof VmLabUnavailable) return err.message;
    throw err;
  }
  return null;
}

function findOnPath(file: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, file))) return join(dir, file);
  }
  return null;
}

/** A path the guest's shell scripts (and keepalived's misc_path, split on spaces) take as one word. */
export const GUEST_SAFE_PATH = /^\/[A-Za-z0-9._/+@-]*$/;

const SHARE_PREFIX = 'vipcheck-vm-';
const SHARE_RE = /^vipcheck-vm-(\d+)x[0-9a-f]{4}$/;

/** Guests of this process not yet ended, for the exit/signal handlers. */
const liveGuests = new Map<ChildProcess, string>();

function endAllGuestsSync(): void {
  for (const [qemu, share] of liveGuests) {
    qemu.kill('SIGKILL');
    rmSync(share, { recursive: true, force: true });
  }
  liveGuests.clear();
}

export interface StaleGuestReport {
  shares: string[];
  killedPids: number[];
}

/** Removes shares of dead owners and SIGKILLs any qemu still using one (its owner was SIGKILLed). */
export function cleanupStaleGuests(): StaleGuestReport {
  const stale = readdirSync(tmpdir())
    .filter((e) => {
      const m = SHARE_RE.exec(e);
      return m !== null && !pidAlive(Number(m[1]));
    })
    .map((e) => join(tmpdir(), e));
  const killedPids: number[] = [];
  if (stale.length > 0) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      if (stale.some((share) => cmdline.includes(`path=${escapeQemuOption(share)},`))) {
        killQuietly(Number(entry), 'SIGKILL');
        killedPids.push(Number(entry));
      }
    }
  }
  for (const share of stale) rmSync(share, { recursive: true, force: true });
  return { shares: stale, killedPids };
}

/** qemu option values are comma-separated; a literal comma is written twice. */
function escapeQemuOption(value: string): string {
  return value.replaceAll(',', ',,');
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function qemuArgv(opts: { vmlinuz: string; initramfs: string; share: string; memoryMiB: number; cpus: number; interactive: boolean }): string[] {
  return [
    QEMU,
    // /dev/kvm exists on this kind of machine but a KVM guest hangs in the firmware (no nested virtualisation).
    '-accel', 'tcg',
    '-cpu', 'max',
    '-m', String(opts.memoryMiB),
    '-smp', String(opts.cpus),
    '-nodefaults', '-no-user-config',
    // With -no-reboot and panic=-1 a guest panic ends qemu instead of rebooting forever.
    '-no-reboot',
    '-display', 'none',
    ...(opts.interactive ? ['-serial', 'mon:stdio'] : ['-serial', 'stdio', '-monitor', 'none']),
    '-kernel', opts.vmlinuz,
    '-initrd', opts.initramfs,
    '-append', 'console=ttyS0 quiet panic=-1',
    '-virtfs', `local,path=/,mount_tag=${HOSTROOT_TAG},security_model=none,readonly=on,multidevs=remap`,
    '-virtfs', `local,path=${escapeQemuOption(opts.share)},mount_tag=${SHARE_TAG},security_model=none,multidevs=remap`,
  ];
}

/** Boots a guest, runs options.script in it, and returns once qemu has ended and the share is removed. */
export async function runGuest(options: GuestOptions): Promise<GuestResult> {
  const cpus = options.cpus ?? MAX_CPUS;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new RangeError(`cpus must be 1-${MAX_CPUS}, got ${cpus}`);
  if (!(options.timeoutMs > GUEST_DEADLINE_MARGIN_MS)) throw new RangeError(`timeoutMs must exceed ${GUEST_DEADLINE_MARGIN_MS}, got ${options.timeoutMs}`);
  const modules = options.modules ?? [];
  for (const m of modules) if (!/^[A-Za-z0-9_-]+$/.test(m)) throw new RangeError(`not a module name: ${JSON.stringify(m)}`);
  const keepPaths = options.keepPaths ?? [];
  for (const p of keepPaths) if (!GUEST_SAFE_PATH.test(p)) throw new RangeError(`keep path ${JSON.stringify(p)} must be absolute, without spaces or shell characters`);
  if (options.interactive && !process.stdin.isTTY) throw new VmLabUnavailable('an interactive guest needs a terminal on stdin');
  const problem = guestPrerequisiteProblem();
  if (problem !== null) throw new VmLabUnavailable(problem);
  cleanupStaleGuests();
  const cacheDir = vmCacheDir();
  const kernel = findGuestKernel(cacheDir);
  const initramfs = await ensureInitramfs(kernel, cacheDir);

  const share = newShareDir();
  addExitCleanup(endAllGuestsSync);
  try {
    const guestSeconds = Math.floor((options.timeoutMs - GUEST_DEADLINE_MARGIN_MS) / 1000);
    writeFileSync(
      join(share, 'guest.env'),
      [
        `VM_MODULE_ROOT=${shellQuote(kernel.root)}`,
        `VM_MODULES=${shellQuote(modules.join(' '))}`,
        `VM_MODE=${options.interactive ? 'shell' : 'batch'}`,
        `VM_SCENARIO_SECONDS=${guestSeconds}`,
        `VM_KEEP_PATHS=${shellQuote(keepPaths.join(' '))}`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(share, 'scenario.sh'), options.script);
    const argv = qemuArgv({
      vmlinuz: kernel.vmlinuz,
      initramfs: initramfs.path,
      share,
      memoryMiB: options.memoryMiB ?? DEFAULT_MEMORY_MIB,
      cpus,
      interactive: options.interactive ?? false,
    });
    const outcome = await runQemu(argv, share, options);
    const { exitStatus, output, files } = collectShare(share);
    return { exitStatus, output, files, ...outcome };
  } finally {
    rmSync(share, { recursive: true, force: true });
  }
}

function newShareDir(): string {
  for (;;) {
    const hex = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0');
    const dir = join(tmpdir(), `${SHARE_PREFIX}${process.pid}x${hex}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

async function runQemu(argv: readonly string[], share: string, options: GuestOptions): Promise<Omit<GuestResult, 'exitStatus' | 'output' | 'files'>> {
  const [file, ...args] = argv;
  const started = performance.now();
  // Interactive: the console on our stdin and stderr, so that stdout stays free for results (run --keep-up > x.json).
  const child = spawn(file ?? QEMU, args, { stdio: options.interactive ? [0, 2, 2] : ['ignore', 'pipe', 'pipe'] });
  liveGuests.set(child, share);
  const consoleTail = new Tail(64 * 1024);
  let scenarioStart: number | null = null;
  let scenarioEnd: number | null = null;
  const onLine = (raw: string): void => {
    const line = raw.replace(/\r$/, '');
    consoleTail.push(`${line}\n`);
    if (line.startsWith(`${MARKER} scenario-start`)) scenarioStart = performance.now();
    else if (line.startsWith(`${MARKER} scenario-end`)) scenarioEnd = performance.now();
    options.onConsoleLine?.(line);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  child.stderr?.setEncoding('utf8').on('data', (s: string) => consoleTail.push(s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new VmLabUnavailable(`cannot start ${QEMU}: ${err.message}`)));
      child.once('close', () => resolve());
    });
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL'); // no-op when it has exited; certain when we got here through an error
    liveGuests.delete(child);
  }
  const at = (t: number | null, from: number): number | null => (t === null ? null : Math.round(t - from));
  return {
    console: consoleTail.toString(),
    timedOut,
    timings: {
      bootMs: at(scenarioStart, started),
      scenarioMs: scenarioStart === null ? null : at(scenarioEnd, scenarioStart),
      totalMs: Math.round(performance.now() - started),
    },
  };
}

function collectShare(share: string): Pick<GuestResult, 'exitStatus' | 'output' | 'files'> {
  const files: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(share, rel))) {
      const relPath = rel ? `${rel}/${entry}` : entry;
      const st = lstatSync(join(share, relPath));
      if (st.isDirectory()) walk(relPath);
      else if (st.isFile() && !INPUT_FILES.has(relPath) && st.size <= MAX_RESULT_FILE) files[relPath] = readFileSync(join(share, relPath), 'utf8');
    }
  };
  walk('');
  const statusText = files['exit-status'];
  const output = files['output.log'] ?? '';
  delete files['exit-status'];
  delete files['output.log'];
  const exitStatus = statusText !== undefined && /^\d+\s*$/.test(statusText) ? Number(statusText) : null;
  return { exitStatus, output, files };
}

export { GUEST_SHARE };
