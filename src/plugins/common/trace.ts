/**
 * What a check tells at -vv and -vvv about the frames of its link: the packet trace of a flow as driver options
 * (one line per frame, each marked with why its checksums are believed), every frame the link's checksum gate
 * dropped, and at the end the gate's counts and what the bulk receive offload took.
 */
import type {FrameLink} from '../../core/link/link.js';
import {describeFrame} from '../../core/wire/frame.js';
import type {RunContext} from '../../plugin-api/plugin.js';

export function packetTrace(context: RunContext): {trace: (text: string) => void} {
  return {trace: (text) => context.note(3, text)};
}

/** Reports the checksum gate of `link` (frame-integrity.ts): drops as they happen (-vvv), counts at cleanup (-vv). */
export function reportFrameIntegrity(link: FrameLink, context: RunContext): void {
  if (context.verbosity >= 3) {
    link.integrity.onDrop((frame, fault) => context.note(3, `< ${describeFrame(frame)} [dropped: ${fault}]`));
  }
  // Only when shown: a check that is not asked for -vv should not build the line at all.
  if (context.verbosity >= 2) {
    context.onCleanup(() => {
      context.note(2, link.integrity.describe(link.name));
      const bulk = link.bulkReceive?.counters;
      if (bulk && (bulk.frames > 0 || bulk.refused > 0)) {
        context.note(2, `bulk receive on ${link.name}: ${bulk.frames} segment(s) taken and ${bulk.acks} ACK(s) sent before JavaScript` + (bulk.refused > 0 ? `; refused for ${bulk.refused} flow(s): ${link.bulkReceive?.lastRefusal}` : ''));
      }
    });
  }
}
