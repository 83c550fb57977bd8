/**
 * A zero-filled Buffer for the frame builders. `Buffer.alloc` makes a new ArrayBuffer on every call; a
 * `Buffer.allocUnsafe` below 4 KiB is a slice of Node's shared 8 KiB pool instead, and is then zeroed so that
 * no stale pool bytes can reach the wire. Every check builds a few frames of three layers each, and the
 * per-call ArrayBuffers were a visible share of an HTTP check's allocation and GC time (docs/benchmarks.md).
 */
export function zeroedBuffer(length: number): Buffer {
  return Buffer.allocUnsafe(length).fill(0);
}
