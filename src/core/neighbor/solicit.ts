/**
 * The loop ARP and NDP resolution share: send a request, listen, resend with exponential backoff until an
 * answer arrives or the check's deadline passes. The protocols differ only in the frame they send and in how
 * they read an answer, which they supply as a NeighborProtocol.
 */
import type {FrameLink, Millis} from '../link/link.js';
import type {IpAddress, MacAddress} from '../wire/address.js';

export type NeighborProtocolName = 'ARP' | 'NDP';

export interface NeighborResolveOptions {
  readonly target: IpAddress;
  /** Sender protocol address in our requests: the address we will talk from (never the VIP). */
  readonly source: IpAddress;
  /** Absolute deadline on performance.now()'s clock. */
  readonly deadline: Millis;
  /** First retry after this long, doubling up to `maxIntervalMs`. */
  readonly intervalMs?: number;
  readonly maxIntervalMs?: number;
  /** Called for every request sent and answer seen (packet trace at -vvv). */
  readonly trace?: (text: string) => void;
}

export interface NeighborResolution {
  readonly mac: MacAddress;
  /** Requests sent, the answered one included. */
  readonly requests: number;
  readonly elapsedMs: number;
}

/** What a received frame says about the target: its MAC, or why a frame about it was not believed. */
export type NeighborAnswer =
  | {readonly mac: MacAddress; readonly text: string}
  | {readonly mac?: undefined; readonly ignored: string};

/** No answer from the target before the deadline: the neighbour is down, or not on this segment. */
export class NeighborTimeoutError extends Error {
  override readonly name: string = 'NeighborTimeoutError';

  constructor(
    message: string,
    readonly protocol: NeighborProtocolName,
  ) {
    super(message);
  }
}

export interface NeighborProtocol {
  /** The frame sent on every attempt. */
  readonly request: Buffer;
  /** Trace line for request number `n` (1-based). */
  describeRequest(n: number): string;
  /** undefined for frames that are not about the target (they are not traced). Never throws. */
  answerFrom(frame: Buffer): NeighborAnswer | undefined;
  timeoutError(requests: number): NeighborTimeoutError;
}

export const DEFAULT_INTERVAL_MS = 100;
export const DEFAULT_MAX_INTERVAL_MS = 1000;
/** How early a Node timer may fire, measured against performance.now(). */
const TIMER_TOLERANCE_MS = 1;

export function solicitNeighbor(
  link: FrameLink,
  options: NeighborResolveOptions,
  protocol: NeighborProtocol,
): Promise<NeighborResolution> {
  const started = performance.now();
  let interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const maxInterval = options.maxIntervalMs ?? DEFAULT_MAX_INTERVAL_MS;
  let requests = 0;
  return new Promise<NeighborResolution>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: () => void) => {
      if (timer) clearTimeout(timer);
      link.onFrame(() => {});
      outcome();
    };
    link.onFrame((frame, _at, trust) => {
      const answer = protocol.answerFrom(frame);
      if (!answer) return;
      if (answer.mac === undefined) {
        options.trace?.(`${answer.ignored} [checksum ${trust}]`);
        return;
      }
      const {mac} = answer;
      options.trace?.(`${answer.text} [checksum ${trust}]`);
      finish(() => resolve({mac, requests, elapsedMs: performance.now() - started}));
    });
    // Node's timers run on a millisecond clock and may fire up to a millisecond before performance.now()
    // reaches the time they were armed for. Sends are therefore scheduled by their own due time (with that
    // millisecond of tolerance), and a timer that fires before the deadline without a send being due only
    // re-arms: the loop never sends a burst of requests in the deadline's last millisecond.
    let nextSendAt = performance.now();
    const tick = () => {
      const now = performance.now();
      if (now >= options.deadline) {
        finish(() => reject(protocol.timeoutError(requests)));
        return;
      }
      if (now >= nextSendAt - TIMER_TOLERANCE_MS) {
        try {
          link.send(protocol.request);
        } catch (error) {
          finish(() => reject(error));
          return;
        }
        requests++;
        options.trace?.(protocol.describeRequest(requests));
        nextSendAt = now + interval;
        interval = Math.min(interval * 2, maxInterval);
      }
      timer = setTimeout(tick, Math.max(0, Math.min(nextSendAt, options.deadline) - now));
    };
    tick();
  });
}
