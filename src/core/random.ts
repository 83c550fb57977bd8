/**
 * Unpredictable numbers for initial sequence numbers, source ports and IP identifications (RFC 6528: an
 * off-path host must not guess our ISN). Read straight from the kernel's CSPRNG: loading node:crypto costs
 * ~5 ms per run, /dev/urandom a few microseconds, and every check is a new process.
 */
import {closeSync, openSync, readSync} from 'node:fs';

const pool = Buffer.alloc(256);
let offset = pool.length;

function refill(): void {
  const fd = openSync('/dev/urandom', 'r');
  try {
    let filled = 0;
    while (filled < pool.length) filled += readSync(fd, pool, filled, pool.length - filled, null);
  } finally {
    closeSync(fd);
  }
  offset = 0;
}

export function randomUint32(): number {
  if (offset + 4 > pool.length) refill();
  const value = pool.readUInt32BE(offset);
  offset += 4;
  return value;
}

/** Uniform integer in [0, bound) for bound <= 2^32, without modulo bias. */
export function randomBelow(bound: number): number {
  if (!Number.isInteger(bound) || bound < 1 || bound > 2 ** 32) throw new RangeError(`bad bound ${bound}`);
  const limit = 2 ** 32 - (2 ** 32 % bound);
  for (;;) {
    const v = randomUint32();
    if (v < limit) return v % bound;
  }
}
