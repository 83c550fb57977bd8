/**
 * Out-of-order receive data, kept until the hole before it is filled.
 *
 * Positions are *stream offsets* (bytes since the peer's ISN + 1, plain numbers that never wrap), not sequence
 * numbers: the receiver converts once at its edge with wrap-safe arithmetic, and everything here is ordinary
 * integer comparison. Segments may overlap each other arbitrarily (retransmissions re-cut by the peer, GRO
 * merges); bytes already held win and only the uncovered parts of a new segment are stored, as copies so a
 * small piece never pins a large captured frame. Adjacent data is kept as one range (a list of chunks), so the
 * ranges are exactly what SACK blocks report.
 *
 * Memory is bounded by the caller, which only inserts data inside the window it advertised, and here by a cap
 * on stored chunks: a peer sending one byte in every other position would otherwise cost an object per byte.
 * A segment that would exceed the cap is refused; the peer sends it again later.
 */

interface Range {
  readonly start: number;
  readonly end: number;
  readonly chunks: readonly Buffer[];
  /** When this range last received data, so SACK blocks can list the most recent first (RFC 2018). */
  readonly touched: number;
}

export interface StreamRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export type InsertOutcome = 'stored' | 'duplicate' | 'refused';

export class Reassembler {
  /** Sorted, disjoint and never adjacent (adjacent ranges are merged). */
  private ranges_: Range[] = [];
  private clock = 0;
  private bytes = 0;
  private chunkCount = 0;

  constructor(private readonly maxChunks = 1024) {}

  get isEmpty(): boolean {
    return this.ranges_.length === 0;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /**
   * Stores the parts of [start, start + data.length) not held yet: `stored` when some were new, `duplicate`
   * when every byte was held already, `refused` when storing would exceed the chunk cap (nothing is kept).
   */
  insert(start: number, data: Buffer): InsertOutcome {
    const end = start + data.length;
    if (data.length === 0) return 'duplicate';
    const stamp = ++this.clock;
    // The gaps of [start, end) that held ranges do not cover become new single-chunk ranges.
    const fresh: Range[] = [];
    let cursor = start;
    for (const range of this.ranges_) {
      if (range.end <= cursor) continue;
      if (range.start >= end) break;
      if (range.start > cursor) fresh.push(this.copyRange(data, start, cursor, range.start, stamp));
      cursor = range.end;
    }
    if (cursor < end) fresh.push(this.copyRange(data, start, cursor, end, stamp));
    if (fresh.length === 0) {
      this.touchOverlapping(start, end, stamp);
      return 'duplicate';
    }
    if (this.chunkCount + fresh.length > this.maxChunks) return 'refused';
    for (const range of fresh) this.bytes += range.end - range.start;
    this.chunkCount += fresh.length;
    this.ranges_ = mergeAdjacent([...this.ranges_, ...fresh].sort((a, b) => a.start - b.start));
    this.touchOverlapping(start, end, stamp);
    return 'stored';
  }

  /**
   * Removes and returns the data that continues the stream at `at` (the new in-order edge), in order. Data
   * lying wholly before `at` is discarded; a range straddling it is trimmed.
   */
  takeFrom(at: number): Buffer[] {
    const out: Buffer[] = [];
    while (this.ranges_.length > 0 && this.ranges_[0]!.start <= at) {
      const range = this.ranges_.shift()!;
      this.bytes -= range.end - range.start;
      this.chunkCount -= range.chunks.length;
      let position = range.start;
      for (const chunk of range.chunks) {
        const chunkEnd = position + chunk.length;
        if (chunkEnd > at) out.push(chunk.subarray(Math.max(0, at - position)));
        position = chunkEnd;
      }
      at = Math.max(at, range.end);
    }
    return out;
  }

  /** The held ranges, most recently touched first: what SACK blocks report. */
  ranges(): StreamRange[] {
    return [...this.ranges_].sort((a, b) => b.touched - a.touched).map(({start, end}) => ({start, end}));
  }

  private copyRange(data: Buffer, dataStart: number, from: number, to: number, touched: number): Range {
    return {start: from, end: to, chunks: [Buffer.from(data.subarray(from - dataStart, to - dataStart))], touched};
  }

  /** The range holding the segment just received is the most recent (the first SACK block). */
  private touchOverlapping(start: number, end: number, stamp: number): void {
    this.ranges_ = this.ranges_.map((range) => (range.end >= start && range.start <= end ? {...range, touched: stamp} : range));
  }
}

function mergeAdjacent(sorted: Range[]): Range[] {
  const out: Range[] = [];
  for (const range of sorted) {
    const last = out[out.length - 1];
    if (last && last.end === range.start) {
      out[out.length - 1] = {start: last.start, end: range.end, chunks: [...last.chunks, ...range.chunks], touched: Math.max(last.touched, range.touched)};
    } else {
      out.push(range);
    }
  }
  return out;
}
