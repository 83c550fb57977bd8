/**
 * The kernel RST trap (lvs-dr.md): on a host that does not hold the VIP, the kernel sees the real server's
 * segments from VIP:port to our hand-built connection, finds no socket, and answers each with a RST addressed to
 * the VIP. Measured in the lab, that RST goes to whatever MAC this host has for the VIP: normally the active
 * director (which drops it), but the real server itself when this host's neighbour entry for the VIP points at
 * it (a real server answering ARP for the VIP, a static entry, a VIP routed via the real server) — and then the
 * real server resets our conversation mid-stream. A handshake probe does not care; a conversation does.
 *
 * So for conversations from a host without the VIP, drop this host's outgoing RSTs from our source port to the
 * VIP with a dedicated nftables table, removed on every exit path (the runner's cleanups run on normal exit,
 * errors, the deadline guard and SIGTERM). Our own frames are injected below netfilter and are not affected.
 */
import type * as ChildProcess from 'node:child_process';
import {nodeRequire} from '../../core/node-require.js';
import {readFileSync} from 'node:fs';
import type {IpAddress} from '../../core/wire/address.js';
import type {RunContext} from '../../plugin-api/plugin.js';

/** Loaded on first use: most runs hold the VIP and never need nft (child_process costs ~4 ms to load). */
function childProcess(): typeof ChildProcess {
  return nodeRequire()('node:child_process') as typeof ChildProcess;
}

export function rstGuardTable(sourcePort: number): string {
  return `vipcheck_rst_${sourcePort}`;
}

export function rstGuardRules(vip: IpAddress, sourcePort: number): string {
  const table = rstGuardTable(sourcePort);
  const family = vip.family === 4 ? 'ip' : 'ip6';
  return [
    `add table inet ${table}`,
    `add chain inet ${table} out { type filter hook output priority -100; policy accept; }`,
    `add rule inet ${table} out ${family} daddr ${vip} tcp sport ${sourcePort} tcp flags & rst == rst drop`,
    '',
  ].join('\n');
}

/** Local TCP ports in LISTEN state, from /proc/net/tcp and tcp6 (hex port in column 2, state 0A). */
export function listeningPorts(procNetTcp: readonly string[]): Set<number> {
  const ports = new Set<number>();
  for (const text of procNetTcp) {
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A' && fields[1]) ports.add(Number.parseInt(fields[1].split(':').pop() ?? '', 16));
    }
  }
  return ports;
}

/** Guard tables whose check is gone (a SIGKILLed run cannot clean up): no listener holds their port any more. */
export function staleGuardTables(nftTables: string, listening: ReadonlySet<number>): string[] {
  const stale: string[] = [];
  for (const m of nftTables.matchAll(/^table inet (vipcheck_rst_(\d+))$/gm)) {
    if (!listening.has(Number(m[2]))) stale.push(m[1]!);
  }
  return stale;
}

function removeStaleGuards(): void {
  try {
    const tables = childProcess().execFileSync('nft', ['list', 'tables'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000});
    if (!tables.includes('vipcheck_rst_')) return;
    const proc = ['/proc/net/tcp', '/proc/net/tcp6'].map((f) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    });
    for (const table of staleGuardTables(tables, listeningPorts(proc))) {
      childProcess().execFileSync('nft', ['delete', 'table', 'inet', table], {stdio: 'ignore', timeout: 2000});
    }
  } catch {
    // Best effort: a leftover table only drops RSTs from a port no check uses.
  }
}

/** Installs the guard; returns false (with a verbose note) when nftables is not usable here. */
export function guardAgainstKernelRsts(vip: IpAddress, sourcePort: number, context: RunContext): boolean {
  const table = rstGuardTable(sourcePort);
  removeStaleGuards();
  try {
    childProcess().execFileSync('nft', ['-f', '-'], {input: rstGuardRules(vip, sourcePort), stdio: ['pipe', 'ignore', 'pipe'], timeout: 2000});
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nft is not installed' : 'nft failed';
    context.note(1, `cannot suppress this host's RSTs to ${vip} (${reason}); they reach the real server only if this host's neighbour entry for the VIP is the real server`);
    return false;
  }
  context.note(2, `dropping this host's RSTs from port ${sourcePort} to ${vip} (nftables table inet ${table}) for the check`);
  context.onCleanup(() => {
    try {
      childProcess().execFileSync('nft', ['delete', 'table', 'inet', table], {stdio: 'ignore', timeout: 2000});
    } catch {
      // Already gone, or nft vanished meanwhile: nothing else to undo.
    }
  });
  return true;
}
