/**
 * IpvsControl over the kernel's generic-netlink family IPVS: GET_SERVICE dump, then a GET_DEST dump per service;
 * writes are read-modify-write of the whole destination (SET_DEST zeroes what it is not given).
 */
import {EnvironmentError, UsageError} from '../errors.js';
import {addonTransport, NETLINK_GENERIC, NetlinkConnection, NetlinkError, type NetlinkTransportFactory} from '../netlink/connection.js';
import {resolveFamily} from '../netlink/controller.js';
import {encodeGeneric, parseGeneric, type AttributeSet, type NetlinkMessage} from '../netlink/message.js';
import {formatHostPort, type IpAddress} from '../wire/address.js';
import {fail, ok, type Parsed} from '../wire/parsed.js';
import {
  decodeDestination,
  decodeService,
  destinationAttribute,
  destinationKeyAttribute,
  IPVS_CMD_ATTR_DEST,
  IPVS_CMD_ATTR_SERVICE,
  IPVS_FAMILY_NAME,
  IPVS_GENL_VERSION,
  IpvsCommand,
  serviceFamily,
  serviceKeyAttribute,
} from './netlink-codec.js';
import {describeServiceKey, sameServiceKey, type IpvsControl, type IpvsDestinationFields, type IpvsDestination, type IpvsDestinationChange, type IpvsServiceEntry, type IpvsServiceKey, type IpvsTable} from './model.js';

export const IPVS_NOT_LOADED = 'IPVS is not loaded (no generic netlink family IPVS): modprobe ip_vs';
const EPERM = 1;
/** The kernel stores the weight as an int and refuses a negative one. */
const MAX_WEIGHT = 0x7fffffff;

export interface NetlinkIpvsOptions {
  readonly transport?: NetlinkTransportFactory;
  /** Per request. */
  readonly deadlineMs?: number;
  /** An absolute end on performance.now()'s clock (a check's --timeout): no request runs past it. */
  readonly deadline?: number;
}

/** The kernel refused IPVS netlink for want of CAP_NET_ADMIN (reads need it too). */
export class IpvsPermissionError extends EnvironmentError {
  override readonly name = 'IpvsPermissionError';
}

/** Decodes the entries of a dump whose every reply carries one nested `attribute`. */
function decodeDump<T>(replies: readonly NetlinkMessage[], attribute: number, decode: (attributes: AttributeSet) => Parsed<T>): Parsed<T[]> {
  const entries: T[] = [];
  for (const reply of replies) {
    const nested = nestedOf(reply, attribute);
    if (!nested.ok) return nested;
    const entry = decode(nested.value);
    if (!entry.ok) return entry;
    entries.push(entry.value);
  }
  return ok(entries);
}

function nestedOf(reply: NetlinkMessage, attribute: number): Parsed<AttributeSet> {
  const generic = parseGeneric(reply.payload);
  if (!generic.ok) return generic;
  const nested = generic.value.attributes.nested(attribute);
  return nested ?? fail(`IPVS reply (command ${generic.value.command}) without its nested attribute ${attribute}`);
}

export class NetlinkIpvsControl implements IpvsControl {
  readonly canWrite = true;
  /**
   * Operations run one after another: a read (many requests) never has one of this process's own writes land in
   * its middle, so a table it returns is either all before or all after that write.
   */
  private operations: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly connection: NetlinkConnection,
    private readonly familyId: number,
    private readonly options: NetlinkIpvsOptions,
  ) {}

  /**
   * Resolves the family and asks GET_INFO, which needs CAP_NET_ADMIN like every IPVS command: throws
   * IpvsPermissionError when refused, EnvironmentError IPVS_NOT_LOADED when there is no family.
   */
  static async open(options: NetlinkIpvsOptions = {}): Promise<NetlinkIpvsControl> {
    const connection = new NetlinkConnection(options.transport ?? addonTransport(NETLINK_GENERIC));
    try {
      const familyId = await resolveFamily(connection, IPVS_FAMILY_NAME);
      if (familyId === undefined) throw new EnvironmentError(IPVS_NOT_LOADED);
      const control = new NetlinkIpvsControl(connection, familyId, options);
      await control.command(IpvsCommand.GET_INFO, [], 'IPVS GET_INFO');
      return control;
    } catch (error) {
      connection.close();
      if (error instanceof NetlinkError && error.errno === EPERM) {
        throw new IpvsPermissionError(`IPVS netlink needs CAP_NET_ADMIN, even to read (the kernel says ${error.message.replace(/^.*the kernel says /, '')})`);
      }
      throw error;
    }
  }

  read(): Promise<IpvsTable> {
    return this.exclusive(() => this.readNow());
  }

  private async readNow(): Promise<IpvsTable> {
    const replies = await this.command(IpvsCommand.GET_SERVICE, [], 'IPVS GET_SERVICE', true);
    const services = checked(decodeDump(replies, IPVS_CMD_ATTR_SERVICE, decodeService));
    const entries: IpvsServiceEntry[] = [];
    for (const service of services) entries.push({service, destinations: await this.destinations(service.key)});
    return {services: entries, source: 'netlink'};
  }

  /** The destinations of one service, as the kernel holds them now. */
  async destinations(key: IpvsServiceKey): Promise<IpvsDestination[]> {
    const replies = await this.command(IpvsCommand.GET_DEST, [serviceKeyAttribute(key)], `IPVS GET_DEST ${describeServiceKey(key)}`, true);
    const family = serviceFamily(key);
    return checked(decodeDump(replies, IPVS_CMD_ATTR_DEST, (attributes) => decodeDestination(attributes, family)));
  }

  updateDestination(service: IpvsServiceKey, destination: {address: IpAddress; port: number}, change: IpvsDestinationChange): Promise<IpvsDestination> {
    return this.exclusive(() => this.updateNow(service, destination, change));
  }

  private async updateNow(service: IpvsServiceKey, destination: {address: IpAddress; port: number}, change: IpvsDestinationChange): Promise<IpvsDestination> {
    if (change.weight !== undefined && (!Number.isInteger(change.weight) || change.weight < 0 || change.weight > MAX_WEIGHT)) {
      throw new UsageError(`IPVS weight ${change.weight} is not an integer from 0 to ${MAX_WEIGHT}`);
    }
    const current = await this.find(service, destination);
    const updated: IpvsDestinationFields = {...current, ...(change.weight !== undefined ? {weight: change.weight} : {})};
    const what = `IPVS SET_DEST ${describeServiceKey(service)} -> ${describeDestination(destination)}`;
    await this.command(IpvsCommand.SET_DEST, [serviceKeyAttribute(service), destinationAttribute(updated)], what);
    return this.find(service, destination);
  }

  addDestination(service: IpvsServiceKey, destination: IpvsDestinationFields): Promise<void> {
    const what = `IPVS NEW_DEST ${describeServiceKey(service)} -> ${describeDestination(destination)}`;
    return this.exclusive(async () => {
      await this.command(IpvsCommand.NEW_DEST, [serviceKeyAttribute(service), destinationAttribute(destination)], what);
    });
  }

  removeDestination(service: IpvsServiceKey, destination: {address: IpAddress; port: number}): Promise<void> {
    const what = `IPVS DEL_DEST ${describeServiceKey(service)} -> ${describeDestination(destination)}`;
    return this.exclusive(async () => {
      await this.command(IpvsCommand.DEL_DEST, [serviceKeyAttribute(service), destinationKeyAttribute(destination)], what);
    });
  }

  close(): void {
    this.connection.close();
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.operations.then(operation);
    this.operations = run.catch(() => undefined);
    return run;
  }

  private async find(service: IpvsServiceKey, destination: {address: IpAddress; port: number}): Promise<IpvsDestination> {
    const found = (await this.destinations(service)).find((d) => d.port === destination.port && d.address.equals(destination.address));
    if (found === undefined) throw new EnvironmentError(`IPVS: no real server ${describeDestination(destination)} in ${describeServiceKey(service)}`);
    return found;
  }

  private command(command: number, attributes: readonly Buffer[], what: string, dump = false): Promise<NetlinkMessage[]> {
    const {deadline, deadlineMs} = this.options;
    const left = deadline === undefined ? undefined : Math.max(1, Math.floor(deadline - performance.now()));
    const limit = left === undefined ? deadlineMs : Math.min(left, deadlineMs ?? left);
    return this.connection.request(this.familyId, encodeGeneric(command, IPVS_GENL_VERSION, attributes), {
      what,
      dump,
      ...(limit !== undefined ? {deadlineMs: limit} : {}),
    });
  }
}

function checked<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw new EnvironmentError(`malformed IPVS netlink reply: ${parsed.error}`);
  return parsed.value;
}

export function describeDestination(destination: {address: IpAddress; port: number}): string {
  return formatHostPort(destination.address, destination.port);
}

/** The entry of `key` in a table, if any. */
export function findService(table: IpvsTable, key: IpvsServiceKey): IpvsServiceEntry | undefined {
  return table.services.find((entry) => sameServiceKey(entry.service.key, key));
}
