/**
 * The read-only fallback: /proc/net/ip_vs, readable without CAP_NET_ADMIN. It lacks the tunnel type and port,
 * thresholds and persistent-connection counts (they read as ipip, 0), the persistence engine, and an fwmark
 * service's family (taken from its first real server, else IPv4). The persistence timeout is printed in kernel
 * ticks, so the caller passes CONFIG_HZ.
 *
 *   TCP  C6336464:0050 rr
 *     -> C633640C:0050      Route   3      0          0
 *   TCP  [2001:0db8:0000:0000:0000:0000:0000:0100]:0050 rr
 *   TCP  C6336465:01BB wrr  persistent 75000 FFFFFFFF
 *   FWM  00000007 rr
 */
import {readFileSync} from 'node:fs';
import {EnvironmentError} from '../errors.js';
import {IpAddress, type IpFamily} from '../wire/address.js';
import {fail, ok, type Parsed} from '../wire/parsed.js';
import type {IpvsControl, IpvsDestination, IpvsForwarding, IpvsProtocol, IpvsService, IpvsServiceEntry, IpvsTable} from './model.js';

export const PROC_IP_VS = '/proc/net/ip_vs';
/** Debian's and most distributions' CONFIG_HZ, when /boot/config-<release> does not say. */
export const DEFAULT_HZ = 250;
const IP_VS_SVC_F_PERSISTENT = 0x1;
const IP_VS_SVC_F_ONEPACKET = 0x4;

const FORWARD_NAMES: Readonly<Record<string, IpvsForwarding>> = {Masq: 'nat', Local: 'local', Tunnel: 'tun', Route: 'dr'};
const PROTOCOLS: Readonly<Record<string, IpvsProtocol>> = {TCP: 'tcp', UDP: 'udp', SCTP: 'sctp'};

/** `C6336464:0050` or `[2001:0db8:...:0100]:0050`. */
function parseEndpoint(text: string): {address: IpAddress; port: number} | undefined {
  const v4 = /^([0-9A-F]{8}):([0-9A-F]{4})$/.exec(text);
  if (v4) return {address: IpAddress.fromBytes(Buffer.from(v4[1]!, 'hex'), 0, 4), port: Number.parseInt(v4[2]!, 16)};
  const v6 = /^\[([0-9a-f:]+)\]:([0-9A-F]{4})$/.exec(text);
  const address = v6 ? IpAddress.parse(v6[1]!) : undefined;
  return address && v6 ? {address, port: Number.parseInt(v6[2]!, 16)} : undefined;
}

export function parseProcIpvs(text: string, hz: number = DEFAULT_HZ): Parsed<IpvsTable> {
  const services: Array<{service: IpvsService; destinations: IpvsDestination[]}> = [];
  const lines = text.split('\n');
  if (!/^IP Virtual Server version/.test(lines[0] ?? '')) return fail(`${PROC_IP_VS}: the first line is not "IP Virtual Server version ..."`);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (index < 3 || line === '') continue;
    const where = `${PROC_IP_VS} line ${index + 1}`;
    const fields = line.split(/\s+/);
    if (fields[0] === '->') {
      const last = services.at(-1);
      const endpoint = parseEndpoint(fields[1] ?? '');
      const forwarding = FORWARD_NAMES[fields[2] ?? ''];
      const numbers = fields.slice(3, 6).map(Number);
      if (!last || !endpoint || !forwarding || numbers.length !== 3 || numbers.some((n) => !Number.isInteger(n) || n < 0)) {
        return fail(`${where}: not a real server line: ${line}`);
      }
      last.destinations.push({
        ...endpoint,
        forwarding,
        weight: numbers[0]!,
        upperThreshold: 0,
        lowerThreshold: 0,
        tunnelType: 'ipip',
        tunnelPort: 0,
        tunnelFlags: 0,
        activeConnections: numbers[1]!,
        inactiveConnections: numbers[2]!,
        persistentConnections: 0,
      });
      continue;
    }
    const service = parseServiceLine(fields);
    if (!service) return fail(`${where}: not a virtual service line: ${line}`);
    services.push({service: {...service, timeout: Math.round(service.timeout / hz)}, destinations: []});
  }
  // An fwmark service's family shows only in its real servers' address form.
  const entries: IpvsServiceEntry[] = services.map(({service, destinations}) => {
    const family: IpFamily = destinations[0]?.address.family ?? 4;
    return {service: service.key.kind === 'fwmark' ? {...service, key: {...service.key, family}} : service, destinations};
  });
  return ok({services: entries, source: 'proc'});
}

function parseServiceLine(fields: readonly string[]): IpvsService | undefined {
  const [kind, target, scheduler, ...rest] = fields;
  if (kind === undefined || target === undefined || scheduler === undefined) return undefined;
  let key: IpvsService['key'];
  if (kind === 'FWM') {
    if (!/^[0-9A-F]{8}$/.test(target)) return undefined;
    key = {kind: 'fwmark', family: 4, fwmark: Number.parseInt(target, 16)};
  } else {
    const protocol = PROTOCOLS[kind];
    const endpoint = parseEndpoint(target);
    if (!protocol || !endpoint) return undefined;
    key = {kind: 'address', protocol, ...endpoint};
  }
  let flags = 0;
  let timeout = 0;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === 'ops') flags |= IP_VS_SVC_F_ONEPACKET;
    else if (rest[i] === 'persistent') {
      flags |= IP_VS_SVC_F_PERSISTENT;
      timeout = Number(rest[++i]);
      // Then the persistence mask, "%08X" of ntohl(netmask) in ip_vs_ctl.c for either family (for IPv6 the
      // prefix length, byte-swapped): nothing here uses it, so it is only checked to be hex.
      if (!Number.isInteger(timeout) || !/^[0-9A-F]{8}$/.test(rest[++i] ?? '')) return undefined;
    } else return undefined;
  }
  return {key, scheduler, flags, timeout, persistenceEngine: ''};
}

/** CONFIG_HZ of the running kernel from /boot/config-<release>, or DEFAULT_HZ. */
export function kernelHz(release: string, read: (path: string) => string = (path) => readFileSync(path, 'utf8')): number {
  try {
    const match = /^CONFIG_HZ=(\d+)$/m.exec(read(`/boot/config-${release}`));
    return match ? Number(match[1]) : DEFAULT_HZ;
  } catch {
    return DEFAULT_HZ;
  }
}

/** Read-only IpvsControl on /proc/net/ip_vs. */
export class ProcIpvsControl implements IpvsControl {
  readonly canWrite = false;

  constructor(
    private readonly hz: number,
    private readonly readText: () => string = () => readFileSync(PROC_IP_VS, 'utf8'),
  ) {}

  read(): Promise<IpvsTable> {
    let text: string;
    try {
      text = this.readText();
    } catch (error) {
      return Promise.reject(new EnvironmentError(`cannot read ${PROC_IP_VS}: ${(error as Error).message}`));
    }
    const parsed = parseProcIpvs(text, this.hz);
    return parsed.ok ? Promise.resolve(parsed.value) : Promise.reject(new EnvironmentError(parsed.error));
  }

  updateDestination(): Promise<never> {
    return this.readOnly();
  }

  addDestination(): Promise<never> {
    return this.readOnly();
  }

  removeDestination(): Promise<never> {
    return this.readOnly();
  }

  close(): void {}

  private readOnly(): Promise<never> {
    return Promise.reject(new EnvironmentError(`IPVS is read through ${PROC_IP_VS} (no CAP_NET_ADMIN): it cannot be changed`));
  }
}
