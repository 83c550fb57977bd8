/**
 * A target's recent probes, for /status and the page's sparkline, in fixed typed arrays that every probe
 * overwrites in place.
 *
 * Why not an array of records: each record outlived the young generation (it is kept for 30 intervals), so at
 * 2,000 probes/s every probe promoted its objects to the old generation as garbage-to-be, and V8 let the old
 * generation grow to ~4x the live set before collecting it (measured: RSS 219 -> 267 MiB in a minute at 10,000
 * targets). Only the last summary is a new object per probe, copied flat (a template-built summary is a tree of
 * concatenated strings, ~40% larger).
 */
import type {State} from '../core/result/state.js';
import {RECENT_PROBES, type LastProbe, type ProbeRecord} from './status.js';

export class ProbeHistory {
  private readonly times = new Float64Array(2 * RECENT_PROBES); // at, seconds; at index 2i and 2i+1
  private readonly states = new Uint8Array(RECENT_PROBES);
  private next = 0;
  private count = 0;
  private lastSummary = '';

  record(at: number, state: State, seconds: number, summary: string): void {
    this.times[2 * this.next] = at;
    this.times[2 * this.next + 1] = seconds;
    this.states[this.next] = state;
    this.next = (this.next + 1) % RECENT_PROBES;
    this.count = Math.min(this.count + 1, RECENT_PROBES);
    this.lastSummary = Buffer.from(summary, 'utf8').toString('utf8');
  }

  /** Oldest first, built when asked (a /status request or the page). */
  recent(): ProbeRecord[] {
    const records: ProbeRecord[] = [];
    for (let i = 0; i < this.count; i++) {
      const slot = (this.next - this.count + i + RECENT_PROBES) % RECENT_PROBES;
      records.push({at: this.times[2 * slot]!, state: this.states[slot] as State, seconds: this.times[2 * slot + 1]!});
    }
    return records;
  }

  last(): LastProbe | undefined {
    if (this.count === 0) return undefined;
    const slot = (this.next - 1 + RECENT_PROBES) % RECENT_PROBES;
    return {at: this.times[2 * slot]!, state: this.states[slot] as State, seconds: this.times[2 * slot + 1]!, summary: this.lastSummary};
  }
}
