/**
 * TCP sequence-number arithmetic (RFC 793 section 3.3, RFC 1982 style) on plain numbers in [0, 2^32).
 *
 * Sequence numbers wrap, so `a < b` on the raw numbers is wrong near the wrap point. Comparisons here use the
 * signed 32-bit distance instead: `b` is "after" `a` when it lies less than 2^31 ahead. Exactly 2^31 apart is
 * ambiguous by nature; `seqSub` resolves it as +2^31, so for such a pair both `seqGt(a, b)` and `seqGt(b, a)`
 * hold. TCP windows are far smaller than 2^31, so the engine never meets that case.
 */

const MODULUS = 0x1_0000_0000;
const HALF = 0x8000_0000;

/** `a + n` modulo 2^32; `n` may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance from `b` to `a`, in (-2^31, 2^31]: how far `a` lies ahead of `b`. */
export function seqSub(a: number, b: number): number {
  const d = (a - b) >>> 0;
  return d > HALF ? d - MODULUS : d;
}

export function seqLt(a: number, b: number): boolean {
  return seqSub(a, b) < 0;
}

export function seqLe(a: number, b: number): boolean {
  return seqSub(a, b) <= 0;
}

export function seqGt(a: number, b: number): boolean {
  return seqSub(a, b) > 0;
}

export function seqGe(a: number, b: number): boolean {
  return seqSub(a, b) >= 0;
}

/**
 * True when `x` lies in the half-open window [lo, hi), measured forward from `lo` (so a window that wraps past
 * 2^32 works). An empty window (lo === hi) contains nothing.
 */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return (x - lo) >>> 0 < (hi - lo) >>> 0;
}
