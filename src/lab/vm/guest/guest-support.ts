// Small pieces every VM lab guest script uses: output lines stamped on arrival, files that may be missing, and
// "am I the script node runs" (imported by the unit tests, a guest script only exports its configurations).

import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../lab.js';
import type { StampedLine } from '../scenarios.js';

/** Node starts in seconds under TCG, more when the host is busy. */
export const AGENT_START_TIMEOUT_MS = 90_000;
export const SETTLE_TIMEOUT_MS = 60_000;
/** A reaction takes fall x interval + timeout (about 3 s); the rest is room for a loaded TCG guest. */
export const REACTION_TIMEOUT_MS = 30_000;
export const REQUEST_TIMEOUT_MS = 3_000;
/** The lab's real servers. */
export const RS_HOSTS = ['good', 'novip', 'closed'] as const;
export type RsName = (typeof RS_HOSTS)[number];

/** Each real server's IPv4 address. */
export function rsAddresses(lab: Lab): Record<RsName, string> {
  return { good: lab.hosts.good.ipv4, novip: lab.hosts.novip.ipv4, closed: lab.hosts.closed.ipv4 };
}

/** Splits a stream into lines, each stamped on arrival (ms relative to `origin()`). */
export function collectLines(stream: NodeJS.ReadableStream | null, into: StampedLine[], origin: () => number, limit = Infinity): void {
  let partial = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    const atMs = Math.round(performance.now() - origin());
    for (const line of lines) into.push({ atMs, line });
    if (into.length > limit) into.splice(0, into.length - limit);
  });
}

export function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Whether the module at `url` is the script node was started with. */
export function isMainModule(url: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(url));
  } catch {
    return false;
  }
}

/** A progress line on the guest's output, stamped with the script's own clock. */
export function guestLog(message: string): void {
  process.stdout.write(`[${(performance.now() / 1000).toFixed(1)} s] ${message}\n`);
}

/** A stamped log on the guest's output, for the host's error messages. */
export function printStamped(title: string, lines: readonly StampedLine[]): void {
  process.stdout.write(`--- ${title} ---\n${lines.map((l) => `${l.atMs} ${l.line}`).join('\n')}\n`);
}
