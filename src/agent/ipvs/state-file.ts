/**
 * The weight manager's memory: for every destination it manages, the weight the operator gave it and whether
 * the agent has drained or removed it. It lives in one JSON file under `state-dir` (systemd's StateDirectory,
 * /var/lib/vipcheck), so a restart, even after `kill -9` in mid-drain, knows which weight-0 entries are the
 * agent's doing (to be restored) and which are the operator's (left alone).
 *
 * Written atomically (atomic-file.ts): a temporary file in the same directory, fsync, rename over the old one,
 * fsync of the directory. A crash at any point leaves either the old file or the new one, never half of one.
 */
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {replaceFileAtomically} from '../atomic-file.js';
import {IpAddress} from '../../core/wire/address.js';
import type {IpvsDestination, IpvsForwarding, IpvsServiceKey, IpvsTunnelType} from '../../core/ipvs/model.js';

export const STATE_FILE_NAME = 'ipvs-weights.json';

/**
 * serving: the operator's weight is in the table; drained: the agent set 0; removed: the agent deleted it.
 * draining and removing are intents, written before the kernel write: after a crash the table tells whether it
 * landed.
 */
export type ManagedState = 'serving' | 'draining' | 'drained' | 'removing' | 'removed';

/** Every field a removed destination needs to be added back exactly as it was. */
export type DestinationFields = Omit<IpvsDestination, 'activeConnections' | 'inactiveConnections' | 'persistentConnections'>;

export interface RememberedDestination {
  readonly service: IpvsServiceKey;
  readonly address: IpAddress;
  readonly port: number;
  /** The weight to restore: the operator's, as last seen while the agent had not touched it. */
  readonly weight: number;
  readonly state: ManagedState;
  /** Kept while removed (or removing), to add it back with its forwarding method, thresholds and tunnel settings. */
  readonly fields?: DestinationFields;
}

interface FileShape {
  version: 1;
  destinations: unknown[];
}

/** A state file that cannot be trusted: the agent refuses to start rather than forget what it drained. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
}

export class WeightStateFile {
  readonly path: string;
  private written = '';

  constructor(readonly directory: string) {
    this.path = join(directory, STATE_FILE_NAME);
  }

  /** The remembered destinations; none when the file does not exist yet. */
  async load(): Promise<RememberedDestination[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StateFileError(`state file ${this.path}: cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    this.written = text;
    return parseStateFile(text, this.path);
  }

  /** Replaces the file with these entries (nothing is written when they did not change). */
  async save(entries: readonly RememberedDestination[]): Promise<void> {
    const text = formatStateFile(entries);
    if (text === this.written) return;
    await replaceFileAtomically(this.path, text);
    this.written = text;
  }
}

export function formatStateFile(entries: readonly RememberedDestination[]): string {
  const destinations = entries.map((e) => ({
    service: serviceKeyJson(e.service),
    address: e.address.toString(),
    port: e.port,
    weight: e.weight,
    state: e.state,
    ...(e.fields ? {fields: {...e.fields, address: e.fields.address.toString()}} : {}),
  }));
  return JSON.stringify({version: 1, destinations} satisfies FileShape, null, 1) + '\n';
}

function serviceKeyJson(key: IpvsServiceKey): Record<string, unknown> {
  return key.kind === 'fwmark' ? {...key} : {...key, address: key.address.toString()};
}

const FORWARDING: readonly IpvsForwarding[] = ['nat', 'local', 'tun', 'dr', 'bypass'];
const TUNNEL_TYPES: readonly IpvsTunnelType[] = ['ipip', 'gue', 'gre'];
const STATES: readonly ManagedState[] = ['serving', 'draining', 'drained', 'removing', 'removed'];

/** Checked parse: any entry that is not exactly what this module writes makes the whole file untrusted. */
export function parseStateFile(text: string, path: string): RememberedDestination[] {
  const fail = (why: string): never => {
    throw new StateFileError(`state file ${path}: ${why}; fix it or move it away (the agent then treats every weight in the table as the operator's)`);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return fail(`not JSON (${(error as Error).message})`);
  }
  if (!isRecord(data) || data['version'] !== 1 || !Array.isArray(data['destinations'])) return fail('not a version 1 vipcheck state file');
  return data['destinations'].map((raw, index) => {
    const at = `destinations[${index}]`;
    if (!isRecord(raw)) return fail(`${at} is not an object`);
    const service = parseServiceKey(raw['service']) ?? fail(`${at}.service is not an IPVS service`);
    const address = typeof raw['address'] === 'string' ? IpAddress.parse(raw['address']) : undefined;
    if (!address) return fail(`${at}.address is not an IP address`);
    const port = raw['port'];
    const weight = raw['weight'];
    const state = raw['state'];
    if (!isPort(port)) return fail(`${at}.port is not a port`);
    if (!isWeight(weight)) return fail(`${at}.weight is not a weight`);
    if (!STATES.includes(state as ManagedState)) return fail(`${at}.state is not one of ${STATES.join(', ')}`);
    const fields = raw['fields'] === undefined ? undefined : (parseFields(raw['fields']) ?? fail(`${at}.fields is not a destination`));
    if ((state === 'removed' || state === 'removing') && !fields) return fail(`${at} is removed but has no fields to add it back with`);
    return {service, address, port, weight, state: state as ManagedState, ...(fields ? {fields} : {})};
  });
}

function parseServiceKey(raw: unknown): IpvsServiceKey | undefined {
  if (!isRecord(raw)) return undefined;
  if (raw['kind'] === 'fwmark') {
    const family = raw['family'];
    const fwmark = raw['fwmark'];
    if ((family !== 4 && family !== 6) || !Number.isInteger(fwmark) || (fwmark as number) < 0 || (fwmark as number) > 0xffffffff) return undefined;
    return {kind: 'fwmark', family, fwmark: fwmark as number};
  }
  if (raw['kind'] !== 'address') return undefined;
  const address = typeof raw['address'] === 'string' ? IpAddress.parse(raw['address']) : undefined;
  const protocol = raw['protocol'];
  if (!address || !isPort(raw['port']) || (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp')) return undefined;
  return {kind: 'address', protocol, address, port: raw['port']};
}

function parseFields(raw: unknown): DestinationFields | undefined {
  if (!isRecord(raw)) return undefined;
  const address = typeof raw['address'] === 'string' ? IpAddress.parse(raw['address']) : undefined;
  const numbers = ['upperThreshold', 'lowerThreshold', 'tunnelPort', 'tunnelFlags'].map((k) => raw[k]);
  if (!address || !isPort(raw['port']) || !isWeight(raw['weight']) || !numbers.every((n) => Number.isInteger(n) && (n as number) >= 0)) return undefined;
  if (!FORWARDING.includes(raw['forwarding'] as IpvsForwarding) || !TUNNEL_TYPES.includes(raw['tunnelType'] as IpvsTunnelType)) return undefined;
  return {
    address,
    port: raw['port'],
    forwarding: raw['forwarding'] as IpvsForwarding,
    weight: raw['weight'],
    upperThreshold: raw['upperThreshold'] as number,
    lowerThreshold: raw['lowerThreshold'] as number,
    tunnelType: raw['tunnelType'] as IpvsTunnelType,
    tunnelPort: raw['tunnelPort'] as number,
    tunnelFlags: raw['tunnelFlags'] as number,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535;
}

/** IPVS weights are a signed 32-bit int in the kernel; ipvsadm accepts 0-65535. */
function isWeight(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0x7fffffff;
}
