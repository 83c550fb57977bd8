/**
 * A FIFO of bytes kept as chunks, so reading the front is usually a subarray. Used for the send queue (bytes
 * from SND.UNA on, read at any offset for (re)transmission) and for received data the application has not read
 * yet.
 *
 * `pushCopy` packs small pieces into shared blocks: a peer (or an application) sending one byte at a time must
 * not cost one Buffer object per byte, which at a 256 KiB window would be hundreds of thousands of objects.
 */

/** Pieces below this size are packed into blocks; larger ones get a copy of their own. */
const PACK_BELOW = 1024;
/**
 * Blocks grow from FIRST_BLOCK to LAST_BLOCK, doubling. Most queues only ever see one small piece (a check's
 * request, a short response), and a block below 4 KiB is a slice of Node's shared Buffer pool rather than an
 * ArrayBuffer of its own: a fixed 16 KiB block cost every HTTP check 16 KiB of fresh memory for an 87-byte
 * request (measured, docs/benchmarks.md). A peer that dribbles bytes still reaches 16 KiB blocks quickly.
 */
const FIRST_BLOCK = 1024;
const LAST_BLOCK = 16 * 1024;

export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Index of the first live chunk; consumed chunks before it are compacted away in batches. */
  private head = 0;
  /** Bytes already consumed from chunks[head]. */
  private headOffset = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  /** Live chunks (objects held): what pushCopy keeps small. */
  get chunkCount(): number {
    return this.chunks.length - this.head;
  }

  /** The block small pieces are packed into, how much of it is used, and the chunk viewing its tail. */
  private block: Buffer | undefined;
  private blockUsed = 0;
  private blockChunk = -1;
  private blockChunkStart = 0;

  /** Appends `data` without copying: the caller hands over ownership. */
  push(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.total += data.length;
  }

  /** Appends a copy of `data`; small pieces go into a shared block, extending the last chunk when they can. */
  pushCopy(data: Uint8Array): void {
    if (data.length === 0) return;
    if (data.length >= PACK_BELOW) {
      this.push(Buffer.from(data));
      return;
    }
    if (!this.block || this.blockUsed + data.length > this.block.length) {
      this.block = Buffer.allocUnsafe(this.block ? Math.min(this.block.length * 2, LAST_BLOCK) : FIRST_BLOCK);
      this.blockUsed = 0;
      this.blockChunk = -1;
    }
    const start = this.blockUsed;
    this.block.set(data, start);
    this.blockUsed += data.length;
    this.total += data.length;
    const last = this.chunks.length - 1;
    if (this.blockChunk === last && last >= this.head) {
      // The last chunk is a view of this block ending where the new bytes start: widen it.
      this.chunks[last] = this.block.subarray(this.blockChunkStart, this.blockUsed);
    } else {
      this.chunks.push(this.block.subarray(start, this.blockUsed));
      this.blockChunk = this.chunks.length - 1;
      this.blockChunkStart = start;
    }
  }

  /** Removes and returns up to `max` bytes from the front: one chunk or a part of it, never a copy. */
  shift(max = Infinity): Buffer | undefined {
    const chunk = this.chunks[this.head];
    if (chunk === undefined || max <= 0) return undefined;
    const available = chunk.length - this.headOffset;
    const take = Math.min(available, max);
    const out = chunk.subarray(this.headOffset, this.headOffset + take);
    this.advance(take);
    return out;
  }

  /** Discards `count` bytes from the front (acknowledged data). */
  drop(count: number): void {
    if (count < 0 || count > this.total) throw new RangeError(`cannot drop ${count} of ${this.total} bytes`);
    this.advance(count);
  }

  /**
   * The bytes in [offset, offset + length) without consuming them: a subarray when they lie in one chunk,
   * else a copy.
   */
  peek(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.total) {
      throw new RangeError(`cannot peek ${length} bytes at ${offset} of ${this.total}`);
    }
    if (length === 0) return Buffer.alloc(0);
    let index = this.head;
    let skip = offset + this.headOffset;
    while (skip >= this.chunks[index]!.length) skip -= this.chunks[index++]!.length;
    const first = this.chunks[index]!;
    if (skip + length <= first.length) return first.subarray(skip, skip + length);
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.chunks[index++]!;
      const piece = chunk.subarray(skip, skip + (length - filled));
      piece.copy(out, filled);
      filled += piece.length;
      skip = 0;
    }
    return out;
  }

  private advance(count: number): void {
    this.total -= count;
    while (count > 0) {
      const chunk = this.chunks[this.head]!;
      const left = chunk.length - this.headOffset;
      if (count < left) {
        this.headOffset += count;
        return;
      }
      count -= left;
      this.head++;
      this.headOffset = 0;
    }
    // Drop consumed chunk references now and then so the array (and the memory it pins) does not grow forever.
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
      this.blockChunk = -1;
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.blockChunk = this.blockChunk >= this.head ? this.blockChunk - this.head : -1;
      this.head = 0;
    }
  }
}
