/**
 * Link-layer and network-layer addresses shared by every codec.
 *
 * IP addresses are address-family generic from the start (IPv6 is part of the mission): shared types carry an
 * `IpAddress` with its family, never a bare IPv4 number. Both classes are immutable values over their bytes;
 * parse functions return `undefined` for bad text instead of throwing, so callers validating user input
 * decide how to report it.
 */

export type IpFamily = 4 | 6;

export class MacAddress {
  static readonly LENGTH = 6;
  static readonly BROADCAST = new MacAddress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  static readonly ZERO = new MacAddress(Buffer.alloc(6));

  #text: string | undefined; // made on first use, as IpAddress's

  private constructor(private readonly octets: Buffer) {}

  /** Accepts `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, any case. */
  static parse(text: string): MacAddress | undefined {
    const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(
      text.trim(),
    );
    if (!m) return undefined;
    return new MacAddress(Buffer.from(m.slice(1).map((h) => Number.parseInt(h, 16))));
  }

  /** Copies 6 bytes at `offset`; the caller guarantees the length (codecs check it before). */
  static fromBytes(bytes: Uint8Array, offset = 0): MacAddress {
    return new MacAddress(Buffer.from(bytes.subarray(offset, offset + MacAddress.LENGTH)));
  }

  get bytes(): Buffer {
    return Buffer.from(this.octets);
  }

  writeTo(target: Uint8Array, offset: number): void {
    target.set(this.octets, offset);
  }

  equals(other: MacAddress | undefined): boolean {
    return other !== undefined && this.octets.equals(other.octets);
  }

  get isBroadcast(): boolean {
    return this.octets.every((b) => b === 0xff);
  }

  get isMulticast(): boolean {
    return (this.octets[0]! & 0x01) === 1;
  }

  get isZero(): boolean {
    return this.octets.every((b) => b === 0);
  }

  toString(): string {
    this.#text ??= [...this.octets].map((b) => b.toString(16).padStart(2, '0')).join(':');
    return this.#text;
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * Addresses parsed from text, shared (an IpAddress cannot change): an agent's 10,000 targets name a few hundred
 * VIPs and real servers, each parsed several times (configuration, options, the host's address list every
 * second), and one object per parse was ~220 bytes each, 9 MB in all (heap snapshot). Bounded; cleared when full.
 */
const parsedAddresses = new Map<string, IpAddress>();
const PARSED_ADDRESSES_MAX = 4096;

/** `198.51.100.100:80`, `[2001:db8::100]:80`: an address and port as URLs and ipvsadm write them. */
export function formatHostPort(address: IpAddress, port: number): string {
  return address.family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

export class IpAddress {
  /** The text form, made on first use: the agent formats the same few addresses for every probe's output. */
  #text: string | undefined; // an ES private field: deepStrictEqual of two equal addresses ignores it
  #wordSum: number | undefined;

  private constructor(
    readonly family: IpFamily,
    private readonly octets: Buffer,
  ) {}

  /** Parses dotted-quad IPv4 or any RFC 4291 text form of IPv6 (no zone index, no prefix). */
  static parse(text: string): IpAddress | undefined {
    const known = parsedAddresses.get(text);
    if (known) return known;
    const t = text.trim();
    const v4 = ipv4TextToBytes(t);
    const v6 = v4 ? undefined : ipv6TextToBytes(t);
    const address = v4 ? new IpAddress(4, v4) : v6 ? new IpAddress(6, v6) : undefined;
    if (address) {
      if (parsedAddresses.size >= PARSED_ADDRESSES_MAX) parsedAddresses.clear();
      parsedAddresses.set(text, address);
    }
    return address;
  }

  static fromBytes(bytes: Uint8Array, offset: number, family: IpFamily): IpAddress {
    const length = family === 4 ? 4 : 16;
    return new IpAddress(family, Buffer.from(bytes.subarray(offset, offset + length)));
  }

  static readonly V4_ANY = IpAddress.parse('0.0.0.0')!;
  static readonly V6_ANY = IpAddress.parse('::')!;

  get length(): number {
    return this.octets.length;
  }

  get bytes(): Buffer {
    return Buffer.from(this.octets);
  }

  /** The sum of the address's 16-bit big-endian words, unfolded: its share of every pseudo-header checksum. */
  get wordSum(): number {
    if (this.#wordSum === undefined) {
      let sum = 0;
      for (let i = 0; i < this.octets.length; i += 2) sum += (this.octets[i]! << 8) | this.octets[i + 1]!;
      this.#wordSum = sum;
    }
    return this.#wordSum;
  }

  writeTo(target: Uint8Array, offset: number): void {
    target.set(this.octets, offset);
  }

  equals(other: IpAddress | undefined): boolean {
    return other !== undefined && this.family === other.family && this.octets.equals(other.octets);
  }

  get isUnspecified(): boolean {
    return this.octets.every((b) => b === 0);
  }

  get isLoopback(): boolean {
    if (this.family === 4) return this.octets[0] === 127;
    return this.octets.subarray(0, 15).every((b) => b === 0) && this.octets[15] === 1;
  }

  get isMulticast(): boolean {
    return this.family === 4 ? (this.octets[0]! & 0xf0) === 0xe0 : this.octets[0] === 0xff;
  }

  /** IPv4 limited broadcast 255.255.255.255 (subnet broadcasts need the prefix and are checked by callers). */
  get isLimitedBroadcast(): boolean {
    return this.family === 4 && this.octets.every((b) => b === 0xff);
  }

  /** True when the first `prefixLength` bits equal those of `network`. */
  inPrefix(network: IpAddress, prefixLength: number): boolean {
    if (network.family !== this.family) return false;
    let bits = prefixLength;
    for (let i = 0; i < this.octets.length && bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((this.octets[i]! & mask) !== (network.octets[i]! & mask)) return false;
    }
    return true;
  }

  toString(): string {
    this.#text ??= this.family === 4 ? `${this.octets[0]}.${this.octets[1]}.${this.octets[2]}.${this.octets[3]}` : ipv6BytesToText(this.octets);
    return this.#text;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Strict dotted quad: four decimal octets, no leading zeros (they would mean octal to some tools). */
function ipv4TextToBytes(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.allocUnsafe(4); // every byte is written below; small buffers share Node's pool
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/**
 * RFC 4291 text forms: up to eight groups of 1-4 hex digits, one `::`, an optional dotted-quad tail. Our own
 * parser rather than node's isIPv6, whose large regular expression costs ~4 ms to compile on every run.
 */
function ipv6TextToBytes(text: string): Buffer | undefined {
  if (text.length < 2 || text.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  let t = text;
  const tail: number[] = [];
  const lastColon = t.lastIndexOf(':');
  if (t.includes('.')) {
    const v4 = ipv4TextToBytes(t.slice(lastColon + 1));
    if (!v4) return undefined;
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    const prefix = t.slice(0, lastColon + 1);
    t = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    if (groups.some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
    return groups.map((g) => Number.parseInt(g, 16));
  };
  const head = parseGroups(halves[0]!);
  const rest = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const groups = [...head, ...Array<number>(8 - given).fill(0), ...rest, ...tail];
  const out = Buffer.allocUnsafe(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 5952 canonical text: lower case, longest run (>= 2) of zero groups compressed, first one on ties. */
function ipv6BytesToText(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
