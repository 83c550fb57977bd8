/**
 * The agent's VipNetwork: what every check of the agent shares, where a one-shot run has its own of each.
 * - One packet socket per interface, opened on first use, filtered in the kernel to ARP, NDP, TCP segments and
 *   UDP datagrams to the agent's port block and ICMP unreachables quoting them, with a dispatcher handing each flow its own channel (core/link/dispatcher.ts).
 * - One aligned block of source ports held for the agent's life (core/flow/port-block.ts); a port rests
 *   after each flow before it is handed out again.
 * - One neighbour cache (core/neighbor/cache.ts); a check that fails drops its real server's entry.
 * - One nftables table dropping this host's RSTs from the block's ports (lvs-dr.md's kernel RST trap),
 *   installed asynchronously at start and removed at stop, instead of a table per conversation.
 * - TCP timestamps from one base for the agent's life, so they increase across flows of one 4-tuple.
 * - Tunnel mode: one tunnel sender (raw IP or UDP socket, core/link/tunnel-link.ts) per encapsulation, shared by
 *   every flow that uses it; a flow's channel sends through it and receives as in DR.
 */
import {execFile, execFileSync} from 'node:child_process';
import {readFile} from 'node:fs/promises';
import {anyOf, neighborTraffic, toPortBlock, udpUnreachablesQuoting} from '../core/link/bpf.js';
import {FrameDispatcher} from '../core/link/dispatcher.js';
import type {FrameLink} from '../core/link/link.js';
import {EncapsulatingLink, openTunnelSender, tunnelSenderKey, type TunnelSender} from '../core/link/tunnel-link.js';
import {PacketSocketLink} from '../core/link/packet-socket-link.js';
import {EnvironmentError} from '../core/errors.js';
import {PortBlock} from '../core/flow/port-block.js';
import {resetFrameFor} from '../core/flow/tcp-reset.js';
import {NeighborCache} from '../core/neighbor/cache.js';
import type {InterfaceInfo} from '../core/neighbor/interfaces.js';
import {resolveNeighbor, type ResolvedNeighbor} from '../core/neighbor/resolve.js';
import {randomUint32} from '../core/random.js';
import {MacAddress, type IpAddress} from '../core/wire/address.js';
import type {RunContext} from '../plugin-api/plugin.js';
import type {FlowLink, FlowLinkRequest, NeighborRequest, VipNetwork} from '../plugin-api/vip-network.js';
import {listeningPorts} from '../plugins/common/rst-guard.js';

export interface AgentNetworkOptions {
  /** Ports in the block: a power of two. */
  readonly sourcePorts: number;
  /** How long a port rests after its flow before reuse. */
  readonly portQuarantineMs: number;
  readonly neighborTtlMs: number;
  readonly log: (line: string) => void;
}

interface SharedInterface {
  readonly link: PacketSocketLink;
  readonly dispatcher: FrameDispatcher;
  readonly neighbors: NeighborCache;
}

/** Closed-port RSTs per interface and second, at most. */
const MAX_RESETS_PER_SECOND = 200;
/**
 * How long after a flow ends its port stays silent to strays. A check that has its answer aborts with a RST
 * while the server's FIN is often already on the wire (every HTTP check: the response, then the FIN): answering
 * that FIN with a second RST cost one send per check, and a send is the agent's largest CPU item (measured:
 * docs/benchmarks.md). The server's connection is gone with our first RST. A segment after the grace, such as a
 * retransmission because our RST was lost (RTO >= 200 ms on Linux), still gets the closed port's RST.
 */
const STRAY_GRACE_MS = 100;

/** How long the agent trusts what it read about routes and interfaces. */
const HOST_FACTS_TTL_MS = 5000;

/**
 * The agent's nftables table, named by its port block (`vipcheck_agent_<base>_<size>`), so two agents in one
 * network namespace never remove each other's, and one left by a killed agent is recognised: no port of its
 * block is held any more.
 */
export function agentNftTable(base: number, size: number): string {
  return `vipcheck_agent_${base}_${size}`;
}

export function agentRstGuardRules(base: number, size: number): string {
  const ports = `${base}-${base + size - 1}`;
  const table = agentNftTable(base, size);
  return [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain out {',
    '    type filter hook output priority -100; policy accept;',
    `    tcp sport ${ports} tcp flags & rst == rst drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export class AgentNetwork implements VipNetwork {
  readonly ports: PortBlock;
  private readonly interfaces = new Map<string, SharedInterface>();
  private readonly facts = new Map<string, {value: unknown; at: number}>();
  private readonly tunnelSenders = new Map<string, TunnelSender>();
  /** Probes that found no free port: the agent's shortage, not the real server's failure. */
  private readonly starved = new WeakSet<RunContext>();
  portShortages = 0;
  /** RSTs sent for segments to ports no flow owns any more. */
  resetsSent = 0;
  private readonly base = randomUint32();
  private rstGuard: 'pending' | 'installed' | 'removing' | 'unavailable' = 'pending';
  private closed = false;

  constructor(private readonly options: AgentNetworkOptions) {
    this.ports = PortBlock.reserve({size: options.sourcePorts, quarantineMs: options.portQuarantineMs});
  }

  /** Installs the RST guard; resolves either way (without nft, conversations from a host without the VIP may be reset). */
  async start(): Promise<void> {
    const {base, size} = this.ports;
    // Sockets open on first use; a missing privilege should stop the start with its one line instead of
    // making every probe UNKNOWN. The loopback carries Ethernet headers too and exists everywhere.
    new PacketSocketLink({interfaceName: 'lo', mac: MacAddress.ZERO, filter: toPortBlock(base, size)}).close();
    await removeStaleAgentTables();
    await new Promise<void>((resolve) => {
      const child = execFile('nft', ['-f', '-'], {timeout: 5000}, (error) => {
        if (error) {
          this.rstGuard = 'unavailable';
          const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nft is not installed' : error.message.split('\n')[0];
          this.options.log(`cannot drop this host's RSTs from ports ${base}-${base + size - 1} (${reason}): conversations from a host without the VIP may be reset`);
        } else {
          this.rstGuard = 'installed';
        }
        resolve();
      });
      child.stdin?.end(agentRstGuardRules(base, size));
    });
  }

  get suppressesKernelRsts(): boolean {
    return this.rstGuard === 'installed';
  }

  get rstGuardState(): string {
    return this.rstGuard;
  }

  openFlowLink(request: FlowLinkRequest, context: RunContext): FlowLink {
    if (this.closed) throw new EnvironmentError('the agent is stopping');
    const shared = this.interfaceFor(request.iface);
    const port = this.ports.acquire();
    if (port === undefined) {
      this.starved.add(context);
      this.portShortages++;
      throw new EnvironmentError(`no free source port: all ${this.ports.available} of the block are in use or resting (raise source-ports)`);
    }
    const protocol = request.protocol ?? 'tcp';
    let link: FrameLink;
    try {
      link = shared.dispatcher.openFlow(protocol, port);
    } catch (error) {
      this.ports.release(port);
      throw error;
    }
    const releaseDatagramPort = protocol === 'udp' ? this.ports.holdDatagramPort(port) : undefined;
    context.onCleanup(() => {
      link.close();
      releaseDatagramPort?.();
      this.ports.release(port);
    });
    if (!request.tunnel) return {link, localPort: port};
    return {link: new EncapsulatingLink(link, this.tunnelSender(request.tunnel, request.vip.family), request.tunnel.remote), localPort: port};
  }

  private tunnelSender(endpoint: NonNullable<FlowLinkRequest['tunnel']>, innerFamily: IpAddress['family']): TunnelSender {
    const key = tunnelSenderKey(endpoint, innerFamily);
    let sender = this.tunnelSenders.get(key);
    if (!sender) {
      sender = openTunnelSender(endpoint, innerFamily);
      this.tunnelSenders.set(key, sender);
    }
    return sender;
  }

  /** From the cache of the interface `link` belongs to (every flow link is a channel of one). */
  resolveNeighbor(link: FrameLink, request: NeighborRequest): Promise<ResolvedNeighbor> {
    const shared = this.interfaces.get(link.name);
    if (!shared) return Promise.reject(new EnvironmentError(`interface ${link.name} is not open`));
    return shared.neighbors.lookup(request.target, request.source, request.deadline, request.trace);
  }

  /** Drops a real server's cached MAC (its check failed: the next one resolves again). */
  forgetNeighbor(address: IpAddress): void {
    for (const shared of this.interfaces.values()) shared.neighbors.forget(address);
  }

  /** Whether the probe run with `context` could not get a source port. */
  wasStarved(context: RunContext): boolean {
    return this.starved.has(context);
  }

  timestampBase(): number {
    return this.base;
  }

  /**
   * Routes, interfaces and local addresses change rarely: each answer is kept HOST_FACTS_TTL_MS, errors not at
   * all (a missing route is looked up again by the next probe).
   */
  hostFacts<T>(key: string, compute: () => T): T {
    const now = performance.now();
    const cached = this.facts.get(key);
    if (cached && now - cached.at < HOST_FACTS_TTL_MS) return cached.value as T;
    const value = compute();
    // Updated in place: a new entry per target every TTL would be old-generation garbage (probe-history.ts).
    if (cached) {
      cached.value = value;
      cached.at = now;
    } else this.facts.set(key, {value, at: now});
    return value;
  }

  /** The shared sockets' counters, for the metrics. */
  interfaceStats(): Array<{name: string; dispatcher: FrameDispatcher; link: PacketSocketLink; neighbors: NeighborCache}> {
    return [...this.interfaces].map(([name, shared]) => ({name, ...shared}));
  }

  /** Closes every socket, gives the ports back and removes the RST guard. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const shared of this.interfaces.values()) shared.link.close();
    this.interfaces.clear();
    for (const sender of this.tunnelSenders.values()) sender.close();
    this.tunnelSenders.clear();
    this.ports.close();
    await this.removeRstGuard();
  }

  /** Removes the RST guard table (asynchronously: nft takes 10-500 ms). Safe to call twice, or with stopSync. */
  async removeRstGuard(): Promise<void> {
    if (this.rstGuard !== 'installed') return;
    this.rstGuard = 'removing';
    const table = agentNftTable(this.ports.base, this.ports.size);
    await new Promise<void>((resolve) => execFile('nft', ['delete', 'table', 'inet', table], {timeout: 2000}, () => resolve()));
    this.rstGuard = 'pending';
  }

  /** The last resort when the process must exit now: the guard table must not outlive the agent. */
  removeRstGuardSync(): void {
    if (this.rstGuard !== 'installed' && this.rstGuard !== 'removing') return;
    try {
      execFileSync('nft', ['delete', 'table', 'inet', agentNftTable(this.ports.base, this.ports.size)], {stdio: 'ignore', timeout: 1000});
    } catch {
      // already gone (an asynchronous removal finished), or nft is stuck: nothing more can be done
    }
    this.rstGuard = 'pending';
  }

  private interfaceFor(iface: InterfaceInfo): SharedInterface {
    const existing = this.interfaces.get(iface.name);
    if (existing && existing.link.receiveError === undefined) return existing;
    existing?.link.close();
    // UDP flows (udp, dns) share the block: their datagrams and the unreachables quoting them.
    const {base, size} = this.ports;
    const filter = anyOf(neighborTraffic(), toPortBlock(base, size, ['tcp', 'udp']), udpUnreachablesQuoting(base, size));
    const link = new PacketSocketLink({interfaceName: iface.name, mac: iface.mac, filter, receiveBufferBytes: 16 * 1024 * 1024, framesPerWakeup: 8});
    const dispatcher = new FrameDispatcher(link);
    // A segment to one of our ports that no flow owns any more gets the closed port's RST, so the real server
    // drops its half-open connection instead of retransmitting into the shared socket. Bounded per second: an
    // answer must never become an amplifier.
    let window = 0;
    let resets = 0;
    dispatcher.onUnclaimedTcp = (frame, localPort) => {
      // Only ports the agent holds: a port of the block that another program had is that program's business.
      if (!this.ports.holds(localPort) || this.ports.sinceReleased(localPort) < STRAY_GRACE_MS) return;
      const second = Math.floor(performance.now() / 1000);
      if (second !== window) {
        window = second;
        resets = 0;
      }
      if (resets >= MAX_RESETS_PER_SECOND) return;
      const reset = resetFrameFor(frame);
      if (!reset) return;
      resets++;
      this.resetsSent++;
      link.send(reset);
    };
    const neighbors = new NeighborCache({
      ttlMs: this.options.neighborTtlMs,
      resolve: async (target, source, deadline, trace) => {
        const channel = dispatcher.openNeighborChannel();
        try {
          return await resolveNeighbor(channel, {target, source, deadline, ...(trace ? {trace} : {})});
        } finally {
          channel.close();
        }
      },
    });
    neighbors.onChange((address, previous, current) => this.options.log(`neighbour ${address} on ${iface.name} changed from ${previous} to ${current}`));
    const shared = {link, dispatcher, neighbors};
    this.interfaces.set(iface.name, shared);
    return shared;
  }

}

/** Tables of agents that are gone (SIGKILL): none of their block's ports is listening any more. */
async function removeStaleAgentTables(): Promise<void> {
  const tables = await new Promise<string>((resolve) => execFile('nft', ['list', 'tables'], {timeout: 2000}, (error, stdout) => resolve(error ? '' : stdout)));
  const stale = [...tables.matchAll(/^table inet (vipcheck_agent_(\d+)_(\d+))$/gm)];
  if (stale.length === 0) return;
  const proc = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((f) => readFile(f, 'utf8').catch(() => '')));
  const listening = listeningPorts(proc);
  for (const [, table, base, size] of stale) {
    const from = Number(base);
    let held = false;
    for (let port = from; port < from + Number(size) && !held; port++) held = listening.has(port);
    if (!held) await new Promise<void>((resolve) => execFile('nft', ['delete', 'table', 'inet', table!], {timeout: 2000}, () => resolve()));
  }
}
