/**
 * One request/response over a UDP flow: send the request, retransmit it on a backoff until an acceptable reply,
 * a destination unreachable quoting it, or the deadline. UDP has no handshake, so a lost request and a lost
 * reply look the same; a retransmission covers both, and a reply to any copy of the request counts.
 *
 * Retransmissions: the first after RETRY_FIRST_MS, each gap doubling up to RETRY_MAX_MS, as long as the deadline
 * leaves room (with the default 8 s deadline: sends at 0, 0.25, 0.75, 1.75, 3.75, 5.75 and 7.75 s, 7 in all,
 * less what the process start took). A LAN answers in well under a millisecond, so the first retransmission comes early; the cap keeps a
 * congested server from being flooded.
 *
 * The clock is real time by default; tests pass a virtual one (drive.ts's DriveClock).
 */
import type {FrameLink, Millis} from '../link/link.js';
import type {DestinationUnreachable} from '../wire/icmp-unreachable.js';
import {describeFrame} from '../wire/frame.js';
import {realClock, type DriveClock, type ScheduledTimer} from './drive.js';
import type {UdpFlow} from './udp-flow.js';

export const RETRY_FIRST_MS = 250;
export const RETRY_MAX_MS = 2000;

export interface UdpExchangeOptions {
  readonly link: FrameLink;
  readonly flow: UdpFlow;
  readonly request: Uint8Array;
  readonly deadline: Millis;
  /**
   * Whether a datagram of the flow answers the request (a DNS reply with our id and question); the others are
   * counted and ignored. Default: every datagram of the flow does.
   */
  readonly accept?: (payload: Buffer) => boolean;
  readonly clock?: DriveClock;
  readonly trace?: (text: string) => void;
}

interface Common {
  /** Requests sent (1 + retransmissions). */
  readonly attempts: number;
  /** Datagrams of the flow that `accept` refused. */
  readonly ignored: number;
}

export type UdpExchangeOutcome =
  | (Common & {readonly kind: 'reply'; readonly payload: Buffer; readonly elapsedMs: number})
  | (Common & {readonly kind: 'unreachable'; readonly report: DestinationUnreachable; readonly elapsedMs: number})
  | (Common & {readonly kind: 'timeout'});

/** Settles with the outcome; rejects only when the link cannot send (LinkError). */
export function exchangeUdp(options: UdpExchangeOptions): Promise<UdpExchangeOutcome> {
  const {link, flow, deadline} = options;
  const clock = options.clock ?? realClock;
  const accept = options.accept ?? (() => true);
  const frame = flow.frame(options.request);
  const started = clock.now();
  let attempts = 0;
  let ignored = 0;
  let gap = RETRY_FIRST_MS;
  let timer: ScheduledTimer | undefined;

  return new Promise<UdpExchangeOutcome>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: UdpExchangeOutcome | Error) => {
      if (settled) return;
      settled = true;
      timer?.cancel();
      link.onFrame(() => {});
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };

    const send = () => {
      if (settled) return;
      try {
        options.trace?.(`> ${describeFrame(frame)}`);
        link.send(frame);
      } catch (error) {
        settle(error as Error);
        return;
      }
      attempts++;
      const next = clock.now() + gap;
      gap = Math.min(gap * 2, RETRY_MAX_MS);
      timer = clock.schedule(next < deadline ? next : deadline, next < deadline ? send : () => settle({kind: 'timeout', attempts, ignored}));
    };

    link.onFrame((received, receivedAt, trust) => {
      const event = flow.match(received);
      if (!event || settled) return;
      options.trace?.(`< ${describeFrame(received)} [checksum ${trust}]`);
      const elapsedMs = Math.max(0, receivedAt - started);
      if (event.kind === 'unreachable') {
        settle({kind: 'unreachable', report: event.report, attempts, ignored, elapsedMs});
      } else if (accept(event.payload)) {
        settle({kind: 'reply', payload: event.payload, attempts, ignored, elapsedMs});
      } else {
        ignored++;
      }
    });

    if (clock.now() >= deadline) settle({kind: 'timeout', attempts, ignored});
    else send();
  });
}
