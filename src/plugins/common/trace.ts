/**
 * The packet trace of a flow (-vvv) as driver options: one line per frame, and one note when captured segments
 * carry bad checksums (normal with checksum offload).
 */
import type {RunContext} from '../plugin.js';

export function packetTrace(context: RunContext): {trace: (text: string) => void; onBadChecksum: () => void} {
  return {
    trace: (text) => context.note(3, text),
    onBadChecksum: () => context.note(3, 'captured segments carry bad TCP checksums (checksum offload); accepted'),
  };
}
