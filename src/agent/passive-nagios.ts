/**
 * Passive results into Nagios's external command file: one `[time] PROCESS_SERVICE_CHECK_RESULT;host;service;
 * code;output` line per result, where output is what the CLI prints for the same result (renderNagios: first
 * line, `|` perfdata, long output), so Nagios shows a passive result exactly as it shows the active check.
 *
 * The command file is a FIFO that Nagios reads. It is opened with O_NONBLOCK for every batch: a blocking open
 * waits for a reader (Nagios stopped would hang the sender), a non-blocking one fails at once with ENXIO, a
 * delivery failure to retry. Opening it anew each time also follows a restarted Nagios, which makes a new FIFO.
 */
import {constants} from 'node:fs';
import {open, type FileHandle} from 'node:fs/promises';
import type {CheckResult} from '../core/result/check-result.js';
import {renderNagios} from '../core/result/render.js';
import {PassiveSender, type PassiveHooks, type PassiveTiming} from './passive.js';

/**
 * A write of at most PIPE_BUF bytes to a pipe is atomic (POSIX): a line never interleaves with another writer's
 * (Nagios's CGIs, other agents), and a full pipe refuses it whole (EAGAIN) instead of taking half.
 */
export const PIPE_BUF = 4096;

/**
 * The command line for one result. External commands are single lines: the long output's line breaks are sent
 * as the two characters `\n`, which Nagios 4 turns back into lines of the long output. Long output that would
 * make the line longer than PIPE_BUF is cut from the end; the first line and the perfdata always stay.
 */
export function nagiosPassiveLine(atMs: number, host: string, service: string, result: CheckResult): string {
  const [first, ...rest] = renderNagios(result, 0).trimEnd().split('\n');
  const head = `[${Math.floor(atMs / 1000)}] PROCESS_SERVICE_CHECK_RESULT;${host};${service};${result.state};${first}`;
  let line = head;
  for (const more of rest) {
    const next = `${line}\\n${more}`;
    if (Buffer.byteLength(next) + 1 > PIPE_BUF) break;
    line = next;
  }
  return `${line}\n`;
}

class DeliveryError extends Error {
  constructor(
    message: string,
    readonly delivered: number,
  ) {
    super(message);
  }
}

function reason(error: NodeJS.ErrnoException): string {
  if (error.code === 'ENXIO') return 'ENXIO (nobody reads the FIFO: is Nagios running?)';
  if (error.code === 'ENOENT') return 'ENOENT (no such file: is Nagios running, with check_external_commands=1?)';
  if (error.code === 'EAGAIN') return 'EAGAIN (the FIFO is full: Nagios is not reading)';
  return error.code ?? error.message;
}

export class NagiosCommandFile extends PassiveSender<string> {
  constructor(
    readonly path: string,
    hooks: PassiveHooks,
    timing?: PassiveTiming,
  ) {
    super('nagios', hooks, timing);
  }

  protected describe(): string {
    return this.path;
  }

  protected async deliver(lines: readonly string[]): Promise<number> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      throw new DeliveryError(reason(error as NodeJS.ErrnoException), 0);
    }
    let done = 0;
    try {
      // A regular file there would swallow the results silently: Nagios reads commands only from its FIFO.
      if (!(await handle.stat()).isFIFO()) throw new DeliveryError('not a FIFO (Nagios makes its command_file one)', 0);
      for (const line of lines) {
        try {
          await handle.write(line);
        } catch (error) {
          throw new DeliveryError(reason(error as NodeJS.ErrnoException), done);
        }
        done += 1;
      }
    } finally {
      await handle.close().catch(() => {});
    }
    return done;
  }
}
