/**
 * How the agent asks V8 to pace its old generation. Left to itself, V8 sets the heap's next limit from its
 * own GC and mutator speeds, up to 4x what the last mark-compact left live. The agent's live heap is flat
 * (~30 MB with 10,000 targets at 2,000 probes/s), but that factor climbs during a long run, and RSS follows
 * it: a sawtooth of 134-206 MiB in the bench's soak. A fixed factor of 1.5 kept RSS at 133-136 MiB over the
 * same soak and over 10^6 probes, with one mark-compact every ~3 s instead of every ~16 s: 12-20 ms of
 * incremental marking on the main thread each, final pauses of 2-7 ms as before, and no measurable change in
 * CPU per check (docs/benchmarks.md).
 *
 * Node refuses this V8 flag in NODE_OPTIONS, so the agent sets it at start. V8 reads it at every limit
 * computation, so setting it at run time takes effect from the next collection. An operator who passes
 * `--heap-growing-percent` to node (0 gives V8's own pacing back) keeps theirs.
 */
import {setFlagsFromString} from 'node:v8';

export const AGENT_HEAP_GROWING_PERCENT = 50;

/** The V8 flag to set, or undefined when node was started with one of its own. */
export function heapGrowingFlag(execArgv: readonly string[]): string | undefined {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return undefined;
  return `--heap-growing-percent=${AGENT_HEAP_GROWING_PERCENT}`;
}

export function paceHeap(execArgv: readonly string[] = process.execArgv): void {
  const flag = heapGrowingFlag(execArgv);
  if (flag) setFlagsFromString(flag);
}
