/**
 * Conversions of flag text into typed values, each failing with one line that names the flag.
 */
import {UsageError} from '../core/errors.js';
import {Range} from '../core/result/range.js';
import {IpAddress, MacAddress} from '../core/wire/address.js';
import type {FlagValues} from './flag-spec.js';

export function stringFlag(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function ipFlag(values: FlagValues, name: string): IpAddress | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  const ip = IpAddress.parse(text);
  if (!ip) throw new UsageError(`--${name}: '${text}' is not an IPv4 or IPv6 address`);
  if (ip.isUnspecified || ip.isMulticast || ip.isLimitedBroadcast) {
    throw new UsageError(`--${name}: ${ip} is not a unicast address`);
  }
  return ip;
}

export function requiredIpFlag(values: FlagValues, name: string): IpAddress {
  const ip = ipFlag(values, name);
  if (!ip) throw new UsageError(`--${name} is required`);
  return ip;
}

export function portFlag(values: FlagValues, name: string): number {
  const text = stringFlag(values, name);
  if (text === undefined) throw new UsageError(`--${name} is required`);
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new UsageError(`--${name}: '${text}' is not a port number (1-65535)`);
  }
  return Number(text);
}

export function macFlag(values: FlagValues, name: string): MacAddress | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  const mac = MacAddress.parse(text);
  if (!mac) throw new UsageError(`--${name}: '${text}' is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  if (mac.isMulticast || mac.isZero) throw new UsageError(`--${name}: ${mac} is not a unicast MAC address`);
  return mac;
}

/** Seconds as decimal text (`10`, `0.5`); returns milliseconds. */
export function secondsFlag(values: FlagValues, name: string, max = 3600): number {
  const text = stringFlag(values, name);
  if (text === undefined) throw new UsageError(`--${name} is required`);
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) throw new UsageError(`--${name}: '${text}' is not a number of seconds`);
  const seconds = Number.parseFloat(text);
  if (seconds <= 0 || seconds > max) throw new UsageError(`--${name}: ${text} s is out of range (0 < seconds <= ${max})`);
  return seconds * 1000;
}

export function rangeFlag(values: FlagValues, name: string): Range | undefined {
  const text = stringFlag(values, name);
  return text === undefined ? undefined : Range.parse(text, `--${name}`);
}

export function interfaceFlag(values: FlagValues, name: string): string | undefined {
  const text = stringFlag(values, name);
  if (text !== undefined && !/^[A-Za-z0-9_.:@-]{1,15}$/.test(text)) {
    throw new UsageError(`--${name}: '${text}' is not an interface name`);
  }
  return text;
}
