/**
 * Discovery: the targets of the services whose real servers come from the kernel's IPVS table
 * (`real-servers: ipvs`, `real-servers: {fwmark: N}`, `discover: ipvs`), from one read of the table. Pure: the
 * agent calls it after every read and hands the result to its reload path (apply), which keeps the state of
 * targets that stay and drops the series of those that go.
 *
 * - DR and TUN real servers are checked through the VIP; NAT ones on the RIP path (a kernel connect to
 *   RIP:port, as the director itself reaches them), and their status says so.
 * - A destination the weight manager removed (`on-down: remove`) keeps its target, so it can come back.
 * - What cannot be checked (a service of another protocol than the check's, a fwmark service found by `discover`, a local or bypass
 *   destination) is skipped with a note, which the agent logs once.
 */
import {describeServiceKey, sameServiceKey, type IpvsServiceKey, type IpvsTable} from '../../core/ipvs/model.js';
import {formatHostPort, type IpAddress} from '../../core/wire/address.js';
import type {DiscoveredDestination, IpvsSource, TargetConfig} from '../config.js';
import {destinationName, type ManagedService} from './weights.js';

export interface Discovery {
  readonly targets: TargetConfig[];
  /** The services whose weights the agent manages, as the table has them now. */
  readonly managed: ManagedService[];
  /** Why something of the table is not checked: logged once each. */
  readonly notes: string[];
}

export function discover(table: IpvsTable, sources: readonly IpvsSource[], removedByAgent: (service: IpvsServiceKey) => readonly DiscoveredDestination[]): Discovery {
  const result: Discovery = {targets: [], managed: [], notes: []};
  const named = sources.flatMap((s) => (s.select.kind === 'service' ? [s.select.key] : []));
  for (const source of sources) {
    if (source.select.kind === 'service') {
      const {key, vip, port} = source.select;
      const entry = table.services.find((s) => sameServiceKey(s.service.key, key));
      if (!entry) result.notes.push(`${source.name}: ${describeServiceKey(key)} is not in the IPVS table; no real servers to check until it is`);
      addService(result, source, source.name, vip, port, key, [...(entry?.destinations ?? []), ...removedByAgent(key)]);
      continue;
    }
    const {match} = source.select;
    for (const {service, destinations} of table.services) {
      const key = service.key;
      // A service the file names itself is that entry's, with its own options.
      if (named.some((k) => sameServiceKey(k, key))) continue;
      if (key.kind === 'fwmark') {
        result.notes.push(`${source.name}: ${describeServiceKey(key)} skipped: a fwmark service has no VIP:port to probe; name it in a service with real-servers: {fwmark: ${key.fwmark}}`);
        continue;
      }
      if ((match.vip && !match.vip.equals(key.address)) || (match.port !== undefined && match.port !== key.port)) continue;
      if (key.protocol !== source.protocol) {
        result.notes.push(`${source.name}: ${describeServiceKey(key)} skipped: this entry's check probes ${source.protocol.toUpperCase()}`);
        continue;
      }
      const selected = [...destinations, ...removedByAgent(key)].filter((d) => (match.forwarding as readonly string[]).includes(d.forwarding));
      addService(result, source, `${source.name}:${formatHostPort(key.address, key.port)}`, key.address, key.port, key, selected);
    }
  }
  return result;
}

function addService(result: Discovery, source: IpvsSource, name: string, vip: IpAddress, port: number, key: IpvsServiceKey, destinations: readonly DiscoveredDestination[]): void {
  if (source.weights) result.managed.push({name, key, onDown: source.weights.onDown, panicThreshold: source.weights.panicThreshold});
  const seen = new Set<string>();
  for (const destination of destinations) {
    const where = destinationName(name, key, destination);
    if (destination.forwarding !== 'dr' && destination.forwarding !== 'tun' && destination.forwarding !== 'nat') {
      result.notes.push(`${where} skipped: forwarding ${destination.forwarding} has no real server to check`);
      continue;
    }
    // One target per real server address: a second port of the same address is the same server.
    if (seen.has(destination.address.toString())) continue;
    seen.add(destination.address.toString());
    try {
      result.targets.push(source.target(name, vip, port, key, destination));
    } catch (error) {
      result.notes.push(`${where} skipped: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (destinations.some((d) => d.forwarding === 'nat')) {
    result.notes.push(`${name} ${describeServiceKey(key)}: NAT real servers are checked on the RIP path (a kernel connect to RIP:port), not through the VIP`);
  }
}

