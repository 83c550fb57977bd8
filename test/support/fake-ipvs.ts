/**
 * An IPVS table in memory that behaves like the kernel's for the agent's purposes: services keyed by
 * protocol + VIP + port or fwmark, destinations keyed by address + port, SET_DEST replacing the whole
 * destination (the control's updateDestination is a read-modify-write, as the netlink implementation's is),
 * errors with the kernel's errno names (ESRCH: no such service, ENOENT: no such destination, EEXIST), and
 * other owners (keepalived, kube-proxy, a person with ipvsadm) changing entries behind the agent's back.
 */
import {sameServiceKey, type IpvsControl, type IpvsDestination, type IpvsDestinationChange, type IpvsService, type IpvsServiceKey, type IpvsTable} from '../../src/core/ipvs/model.js';
import {IpAddress} from '../../src/core/wire/address.js';

type DestinationFields = Omit<IpvsDestination, 'activeConnections' | 'inactiveConnections' | 'persistentConnections'>;

interface FakeService {
  service: IpvsService;
  destinations: IpvsDestination[];
}

export interface FakeWrite {
  readonly op: 'set' | 'add' | 'remove';
  readonly service: IpvsServiceKey;
  readonly address: string;
  readonly port: number;
  readonly weight?: number;
}

function kernelError(code: string, text: string): Error {
  return Object.assign(new Error(`${text} (${code})`), {code});
}

export function tcpService(vip: string, port: number, scheduler = 'wrr'): IpvsService {
  return {key: {kind: 'address', protocol: 'tcp', address: IpAddress.parse(vip)!, port}, scheduler, flags: 0, timeout: 0, persistenceEngine: ''};
}

export function fwmarkService(fwmark: number, family: 4 | 6 = 4): IpvsService {
  return {key: {kind: 'fwmark', family, fwmark}, scheduler: 'wrr', flags: 0, timeout: 0, persistenceEngine: ''};
}

export function destination(address: string, port: number, weight: number, more: Partial<DestinationFields> = {}): IpvsDestination {
  return {
    address: IpAddress.parse(address)!,
    port,
    forwarding: 'dr',
    weight,
    upperThreshold: 0,
    lowerThreshold: 0,
    tunnelType: 'ipip',
    tunnelPort: 0,
    tunnelFlags: 0,
    activeConnections: 0,
    inactiveConnections: 0,
    persistentConnections: 0,
    ...more,
  };
}

export class FakeIpvs implements IpvsControl {
  canWrite = true;
  private readonly services: FakeService[] = [];
  /** The agent's writes, in order (what other owners do is not recorded). */
  readonly writes: FakeWrite[] = [];
  /** Errors the next writes fail with, one per write (then writes succeed again). */
  readonly failWrites: Error[] = [];
  /** An error every read fails with while set. */
  failReads: Error | undefined;
  reads = 0;
  closed = false;

  addService(service: IpvsService, destinations: IpvsDestination[] = []): this {
    this.services.push({service, destinations: [...destinations]});
    return this;
  }

  deleteService(key: IpvsServiceKey): void {
    const index = this.services.findIndex((s) => sameServiceKey(s.service.key, key));
    if (index >= 0) this.services.splice(index, 1);
  }

  /** Another owner's change, as `ipvsadm -e -w`: no record in `writes`. */
  setWeightBehindTheBack(key: IpvsServiceKey, address: string, port: number, weight: number): void {
    const [entry, index] = this.find(key, {address: IpAddress.parse(address)!, port});
    entry.destinations[index] = {...entry.destinations[index]!, weight};
  }

  addBehindTheBack(key: IpvsServiceKey, d: IpvsDestination): void {
    this.serviceOf(key).destinations.push(d);
  }

  removeBehindTheBack(key: IpvsServiceKey, address: string, port: number): void {
    const [entry, index] = this.find(key, {address: IpAddress.parse(address)!, port});
    entry.destinations.splice(index, 1);
  }

  get(key: IpvsServiceKey, address: string, port: number): IpvsDestination | undefined {
    const entry = this.services.find((s) => sameServiceKey(s.service.key, key));
    return entry?.destinations.find((d) => d.address.equals(IpAddress.parse(address)) && d.port === port);
  }

  weightOf(key: IpvsServiceKey, address: string, port: number): number | undefined {
    return this.get(key, address, port)?.weight;
  }

  async read(): Promise<IpvsTable> {
    this.reads++;
    if (this.failReads) throw this.failReads;
    return {source: 'netlink', services: this.services.map((s) => ({service: s.service, destinations: s.destinations.map((d) => ({...d}))}))};
  }

  async updateDestination(key: IpvsServiceKey, ref: {address: IpAddress; port: number}, change: IpvsDestinationChange): Promise<IpvsDestination> {
    this.writeGate();
    const [entry, index] = this.find(key, ref);
    const current = entry.destinations[index]!;
    this.writes.push({op: 'set', service: key, address: ref.address.toString(), port: ref.port, ...(change.weight === undefined ? {} : {weight: change.weight})});
    // SET_DEST carries the whole destination: the read values, with the change applied.
    const next = {...current, ...(change.weight === undefined ? {} : {weight: change.weight})};
    entry.destinations[index] = next;
    return {...next};
  }

  async addDestination(key: IpvsServiceKey, d: DestinationFields): Promise<void> {
    this.writeGate();
    const entry = this.serviceOf(key);
    if (entry.destinations.some((x) => x.address.equals(d.address) && x.port === d.port)) throw kernelError('EEXIST', 'destination already exists');
    this.writes.push({op: 'add', service: key, address: d.address.toString(), port: d.port, weight: d.weight});
    entry.destinations.push({...d, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0});
  }

  async removeDestination(key: IpvsServiceKey, ref: {address: IpAddress; port: number}): Promise<void> {
    this.writeGate();
    const [entry, index] = this.find(key, ref);
    this.writes.push({op: 'remove', service: key, address: ref.address.toString(), port: ref.port});
    entry.destinations.splice(index, 1);
  }

  close(): void {
    this.closed = true;
  }

  private writeGate(): void {
    if (!this.canWrite) throw kernelError('EPERM', 'Operation not permitted');
    const failure = this.failWrites.shift();
    if (failure) throw failure;
  }

  private serviceOf(key: IpvsServiceKey): FakeService {
    const entry = this.services.find((s) => sameServiceKey(s.service.key, key));
    if (!entry) throw kernelError('ESRCH', 'No such service');
    return entry;
  }

  private find(key: IpvsServiceKey, ref: {address: IpAddress; port: number}): [FakeService, number] {
    const entry = this.serviceOf(key);
    const index = entry.destinations.findIndex((d) => d.address.equals(ref.address) && d.port === ref.port);
    if (index < 0) throw kernelError('ENOENT', 'No such destination');
    return [entry, index];
  }
}

export {kernelError};
