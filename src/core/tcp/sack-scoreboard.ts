/**
 * The sender's record of what the peer has SACKed (RFC 2018, RFC 6675's scoreboard): disjoint ranges of the
 * send queue, as offsets from the queue's first byte (the sender's `sendBase`), so they never wrap. The sender
 * shifts them as cumulative ACKs drop bytes from the queue.
 *
 * The peer is not trusted: blocks outside what was sent are ignored by the caller, and the number of ranges is
 * capped, so a peer SACKing every other byte cannot grow the scoreboard without bound. Forgetting ranges only
 * makes the sender retransmit data the peer already holds, which is always safe.
 */

interface Range {
  start: number;
  end: number;
}

/** Most disjoint ranges kept; beyond it the highest are forgotten. */
export const MAX_SACK_RANGES = 128;

export class SackScoreboard {
  private ranges: Range[] = [];

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** How many disjoint ranges are held. */
  get rangeCount(): number {
    return this.ranges.length;
  }

  /** End of the highest SACKed range (0 when nothing is SACKed). */
  get highest(): number {
    return this.ranges.at(-1)?.end ?? 0;
  }

  clear(): void {
    this.ranges = [];
  }

  /** Marks [start, end) SACKed, merging with what touches or overlaps it. */
  add(start: number, end: number): void {
    if (!(end > start) || start < 0) return;
    const merged: Range[] = [];
    let fresh: Range = {start, end};
    let placed = false;
    for (const r of this.ranges) {
      if (r.end < fresh.start) merged.push(r);
      else if (r.start > fresh.end) {
        if (!placed) merged.push(fresh);
        placed = true;
        merged.push(r);
      } else fresh = {start: Math.min(r.start, fresh.start), end: Math.max(r.end, fresh.end)};
    }
    if (!placed) merged.push(fresh);
    this.ranges = merged.slice(0, MAX_SACK_RANGES);
  }

  /** The queue's first `bytes` were acknowledged cumulatively: offsets move down, what is below 0 goes. */
  advance(bytes: number): void {
    if (bytes <= 0) return;
    this.ranges = this.ranges
      .filter((r) => r.end > bytes)
      .map((r) => ({start: Math.max(0, r.start - bytes), end: r.end - bytes}));
  }

  /** SACKed bytes in [from, to). */
  sackedIn(from: number, to: number): number {
    let total = 0;
    for (const r of this.ranges) total += Math.max(0, Math.min(r.end, to) - Math.max(r.start, from));
    return total;
  }

  isSacked(offset: number): boolean {
    return this.ranges.some((r) => r.start <= offset && offset < r.end);
  }

  /**
   * The first hole at or after `from` and below `limit`: a run of bytes the peer has not SACKed, ending at the
   * next SACKed range or at `limit`. Undefined when there is none.
   */
  nextHole(from: number, limit: number): {start: number; end: number} | undefined {
    let start = Math.max(0, from);
    for (const r of this.ranges) {
      if (r.end <= start) continue;
      if (r.start <= start) {
        start = r.end;
        continue;
      }
      return start < limit ? {start, end: Math.min(r.start, limit)} : undefined;
    }
    return start < limit ? {start, end: limit} : undefined;
  }
}
