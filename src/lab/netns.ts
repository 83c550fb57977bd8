// Named network namespaces: how lab namespaces are named, found, emptied of processes and deleted.
//
// A lab's namespaces are called `<prefix><owner pid>x<4 hex>-<role>`, e.g. `vc4242x1f0c-good`. The owner
// PID in the name is what lets cleanupStaleLabs() remove what a killed run (SIGKILL, OOM, power cut of a
// CI runner) left behind without touching the labs of runs that are still alive. That check assumes all
// runs share one PID namespace (the usual case on a CI machine or a workstation).

import { readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killQuietly, pidAlive, runSync } from './proc.js';

/** Where `ip netns add` bind-mounts named namespaces (iproute2's NETNS_RUN_DIR). */
export const NETNS_RUN_DIR = '/var/run/netns';
export const DEFAULT_PREFIX = 'vc';

/** Roles whose namespaces we own. Anything else matching the pattern is left alone. */
export const ROLES = ['switch', 'director', 'backup', 'good', 'novip', 'closed', 'client', 'probe'] as const;
export type Role = (typeof ROLES)[number];

// Must end in a letter so that the digits of the PID that follows are unambiguous.
const PREFIX_RE = /^[a-z](?:[a-z0-9]{0,6}[a-z])?$/;
const NAME_RE = /^([a-z](?:[a-z0-9]{0,6}[a-z])?)(\d+)x([0-9a-f]{4})-([a-z]+)$/;

export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new Error(`lab prefix ${JSON.stringify(prefix)} must be 1-8 lowercase letters/digits, starting and ending with a letter`);
  }
  return prefix;
}

/** A fresh lab id for this process: prefix + our PID + 4 random hex digits. */
export function newLabId(prefix: string): string {
  const rand = Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0');
  return `${checkPrefix(prefix)}${process.pid}x${rand}`;
}

export function nsName(labId: string, role: Role): string {
  return `${labId}-${role}`;
}

/** Per-lab scratch directory (HTTP document roots). Deterministic so stale cleanup can find it. */
export function labTmpDir(labId: string): string {
  return join(tmpdir(), `vipcheck-lab-${labId}`);
}

export interface ParsedName {
  name: string;
  prefix: string;
  labId: string;
  ownerPid: number;
  role: string;
}

export function parseNsName(name: string): ParsedName | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const [, prefix = '', pid = '', hex = '', role = ''] = m;
  if (!(ROLES as readonly string[]).includes(role)) return null;
  return { name, prefix, labId: `${prefix}${pid}x${hex}`, ownerPid: Number(pid), role };
}

/** Names of all named network namespaces (what `ip netns list` shows, without spawning it). */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** nsfs inode of a named namespace, or null if the name does not exist. */
function nsInode(name: string): number | null {
  try {
    return statSync(join(NETNS_RUN_DIR, name)).ino;
  } catch {
    return null;
  }
}

/**
 * PIDs of processes living in any of the given named namespaces. This is what `ip netns pids` does
 * (compare /proc/<pid>/ns/net with the inode of the bind mount), done in one pass for all names and
 * without spawning anything, so it also works from an 'exit' handler. Zombies have no namespaces left
 * and are not reported.
 */
export function pidsInNamespaces(names: readonly string[]): number[] {
  const inodes = new Set<string>();
  for (const name of names) {
    const ino = nsInode(name);
    if (ino !== null) inodes.add(`net:[${ino}]`);
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (inodes.has(readlinkSync(`/proc/${entry}/ns/net`))) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return pids;
}

/** SIGKILLs every process in the given namespaces; returns the PIDs it signalled. */
export function killNamespaceProcesses(names: readonly string[]): number[] {
  const pids = pidsInNamespaces(names).filter((pid) => pid !== process.pid);
  for (const pid of pids) killQuietly(pid, 'SIGKILL');
  return pids;
}

/**
 * Deletes named namespaces (those that exist) in a single `ip -batch`. Synchronous on purpose: it is
 * also the emergency path from 'exit' and signal handlers. A namespace whose processes are still
 * exiting disappears from the kernel once the last of them is gone; its name is gone at once.
 */
export function deleteNamespaces(names: readonly string[]): void {
  const existing = new Set(listNamespaces());
  const doomed = names.filter((n) => existing.has(n));
  if (doomed.length === 0) return;
  // -force: carry on past a name that vanished meanwhile.
  const r = runSync(['ip', '-force', '-batch', '-'], { input: doomed.map((n) => `netns delete ${n}\n`).join(''), timeoutMs: 10_000 });
  const left = doomed.filter((n) => listNamespaces().includes(n));
  if (left.length > 0) throw new Error(`could not delete namespaces ${left.join(', ')}: ${r.stderr.trim()}`);
}

export interface StaleCleanupReport {
  /** Namespaces deleted. */
  namespaces: string[];
  /** Processes that were still running inside them and were killed. */
  killedPids: number[];
}

/**
 * Removes the namespaces (and the processes in them, and their scratch directories) of labs whose owner
 * process no longer exists. Labs of live processes, including other concurrent test runs, are left alone.
 * With no prefix given, labs with the default prefix are considered.
 */
export function cleanupStaleLabs(options: { prefix?: string } = {}): StaleCleanupReport {
  const prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
  const stale = listNamespaces()
    .map(parseNsName)
    .filter((p): p is ParsedName => p !== null && p.prefix === prefix && !pidAlive(p.ownerPid));
  const names = stale.map((p) => p.name);
  const killedPids = killNamespaceProcesses(names);
  deleteNamespaces(names);
  // Scratch directories of dead owners, also those whose namespaces are already gone.
  const dirRe = new RegExp(`^vipcheck-lab-(${prefix}(\\d+)x[0-9a-f]{4})$`);
  for (const entry of readdirSync(tmpdir())) {
    const m = dirRe.exec(entry);
    if (m?.[1] !== undefined && !pidAlive(Number(m[2]))) rmSync(labTmpDir(m[1]), { recursive: true, force: true });
  }
  return { namespaces: names, killedPids };
}
