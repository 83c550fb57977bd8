/**
 * keepalived FILE_CHECK files (track_file with weight 0: the content 0 means up, anything else down).
 * keepalived re-reads a file on inotify of its directory (IN_CLOSE_WRITE | IN_MOVED_TO), and a file that is
 * deleted or moved away reads as 0, i.e. up. So a file is written whole into a temporary file in the same
 * directory and renamed over the old one, and it is never deleted: not at reload, not at shutdown (a stopped
 * agent leaves every real server in its last known state, which keepalived keeps acting on).
 */
import {replaceFileAtomically} from './atomic-file.js';
import type {Health} from './health.js';

export function fileCheckContent(health: Health): string {
  return health === 'up' ? '0\n' : '1\n';
}

export async function writeFileCheck(path: string, health: Health): Promise<void> {
  await replaceFileAtomically(path, fileCheckContent(health));
}

/**
 * Writes of one file are serialised and coalesced: the last state asked for is the one that lands, and a write
 * that fails is logged and retried with the next change (or the next probe).
 */
export class FileCheckWriter {
  private readonly pending = new Map<string, Health>();
  private readonly writing = new Set<string>();
  private readonly written = new Map<string, Health>();

  constructor(private readonly log: (line: string) => void) {}

  /** Asks for `path` to say `health`; does nothing when it already does. */
  set(path: string, health: Health): void {
    if (this.written.get(path) === health && !this.writing.has(path)) return;
    this.pending.set(path, health);
    if (!this.writing.has(path)) void this.drain(path);
  }

  /** Resolves when every asked-for write has been tried. */
  async flush(): Promise<void> {
    while (this.writing.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private async drain(path: string): Promise<void> {
    this.writing.add(path);
    try {
      for (let health = this.pending.get(path); health !== undefined; health = this.pending.get(path)) {
        this.pending.delete(path);
        try {
          await writeFileCheck(path, health);
          this.written.set(path, health);
        } catch (error) {
          this.written.delete(path);
          this.log(`cannot write ${path}: ${(error as Error).message}`);
        }
      }
    } finally {
      this.writing.delete(path);
    }
  }
}
