/**
 * Out-of-order receive data, kept until the hole before it is filled.
 *
 * Positions are *stream offsets* (bytes since the peer's ISN + 1, plain numbers that never wrap), not sequence
 * numbers: the receiver converts once at its edge with wrap-safe arithmetic, and everything here is ordinary
 * integer comparison. Segments may overlap each other arbitrarily (retransmissions re-cut by the peer, GRO
 * merges); bytes already held win and only the uncovered parts of a new segment are stored, as copies so a
 * small piece never pins a large captured frame.
 *
 * Memory is bounded by the caller, which only inserts data inside the window it advertised, and here by a cap
 * on the number of separate pieces (a peer sending one byte in every other position would otherwise cost an
 * object per byte). A segment that would exceed the cap is refused; the peer retransmits it later.
 */

interface Piece {
  readonly start: number;
  readonly data: Buffer;
  /** When this piece was stored or extended, so SACK blocks can list the most recent first (RFC 2018). */
  touched: number;
}

export interface StreamRange {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export class Reassembler {
  /** Sorted by start, never overlapping. */
  private pieces: Piece[] = [];
  private clock = 0;
  private bytes = 0;

  constructor(private readonly maxPieces = 64) {}

  get isEmpty(): boolean {
    return this.pieces.length === 0;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /**
   * Stores the parts of [start, start + data.length) not held yet. Returns false when the segment was refused
   * for lack of room (too many pieces); true otherwise, including when every byte was a duplicate.
   */
  insert(start: number, data: Buffer): boolean {
    const end = start + data.length;
    if (data.length === 0) return true;
    const stamp = ++this.clock;
    // Find the gaps of [start, end) that existing pieces do not cover.
    const fresh: Piece[] = [];
    let cursor = start;
    let firstAfter = this.pieces.length;
    for (let i = 0; i < this.pieces.length; i++) {
      const piece = this.pieces[i]!;
      const pieceEnd = piece.start + piece.data.length;
      if (pieceEnd < start) continue;
      if (piece.start > end) {
        firstAfter = i;
        break;
      }
      piece.touched = stamp; // overlapping or adjacent: part of the block this segment reports
      if (piece.start > cursor) fresh.push(this.copyPiece(data, start, cursor, Math.min(piece.start, end), stamp));
      cursor = Math.max(cursor, pieceEnd);
    }
    if (cursor < end) fresh.push(this.copyPiece(data, start, cursor, end, stamp));
    if (fresh.length === 0) return true;
    if (this.pieces.length + fresh.length > this.maxPieces) return false;
    for (const piece of fresh) this.bytes += piece.data.length;
    this.pieces = [...this.pieces.slice(0, firstAfter), ...fresh, ...this.pieces.slice(firstAfter)].sort((a, b) => a.start - b.start);
    return true;
  }

  /**
   * Removes and returns the data that continues the stream at `at` (the new in-order edge), in order. Pieces
   * lying wholly before `at` are discarded; one straddling it is trimmed.
   */
  takeFrom(at: number): Buffer[] {
    const out: Buffer[] = [];
    while (this.pieces.length > 0 && this.pieces[0]!.start <= at) {
      const piece = this.pieces.shift()!;
      this.bytes -= piece.data.length;
      const pieceEnd = piece.start + piece.data.length;
      if (pieceEnd <= at) continue;
      out.push(piece.data.subarray(at - piece.start));
      at = pieceEnd;
    }
    return out;
  }

  /** The held ranges with adjacent pieces merged, most recently touched first: what SACK blocks report. */
  ranges(): StreamRange[] {
    const merged: Array<StreamRange & {touched: number}> = [];
    for (const piece of this.pieces) {
      const last = merged[merged.length - 1];
      const end = piece.start + piece.data.length;
      if (last && last.end === piece.start) merged[merged.length - 1] = {start: last.start, end, touched: Math.max(last.touched, piece.touched)};
      else merged.push({start: piece.start, end, touched: piece.touched});
    }
    return merged.sort((a, b) => b.touched - a.touched).map(({start, end}) => ({start, end}));
  }

  private copyPiece(data: Buffer, dataStart: number, from: number, to: number, touched: number): Piece {
    return {start: from, data: Buffer.from(data.subarray(from - dataStart, to - dataStart)), touched};
  }
}
