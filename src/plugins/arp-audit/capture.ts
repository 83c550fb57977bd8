/**
 * The timer plumbing of the active and passive modes over any FrameLink (a packet socket in production, the in-memory
 * wire in tests): probes for the VIP every interval, probes for still unknown real server addresses on a
 * doubling schedule, every captured frame handed to the observer, and a hard stop at the end of the window or
 * at the deadline, whichever comes first.
 *
 * Probes are always broadcast (RFC 5227, sender IP 0.0.0.0), also after the first answer: iputils arping
 * switches to unicast at that point and so never sees a second responder. Real server addresses are probed
 * the same way, so the audit plants no cache entry anywhere. For an IPv6 VIP the probes are Neighbor
 * Solicitations to the solicited-node group, always multicast too (see audit.ts for their source).
 */
import type {FrameLink, Millis} from '../../core/link/link.js';
import type {IpAddress} from '../../core/wire/address.js';
import {describeFrame} from '../../core/wire/frame.js';
import {buildProbe} from './active.js';
import type {NeighborObserver} from './observer.js';

export interface CapturePlan {
  /** VIP probes to send; 0 = no active mode. */
  readonly probes: number;
  readonly intervalMs: Millis;
  /** Passive listening time; 0 = no passive mode. */
  readonly listenMs: Millis;
  /** Absolute end on performance.now()'s clock that the capture never passes. */
  readonly deadline: Millis;
  /** First retry of a real server probe; doubles after each. */
  readonly ripRetryMs?: Millis;
  /** The frame that asks who holds `target`; default: an RFC 5227 ARP probe from this link's MAC. */
  readonly probeFor?: (target: IpAddress) => Buffer;
}

export interface CaptureRun {
  readonly startedAt: Millis;
  readonly endedAt: Millis;
  /** Probes sent for real server addresses. */
  readonly ripProbes: number;
}

/** How long a plan captures: the probes with one interval after the last, or the listening time. */
export function captureWindow(plan: Pick<CapturePlan, 'probes' | 'intervalMs' | 'listenMs'>): Millis {
  return Math.max(plan.probes * plan.intervalMs, plan.listenMs);
}

export function runCapture(
  link: FrameLink,
  observer: NeighborObserver,
  plan: CapturePlan,
  trace?: (text: string) => void,
): Promise<CaptureRun> {
  const {vip, rips} = observer.config;
  const startedAt = performance.now();
  const endAt = Math.min(startedAt + captureWindow(plan), plan.deadline);
  const probeFor = plan.probeFor ?? ((target: IpAddress) => buildProbe(link.mac, target));
  const vipProbe = probeFor(vip);
  let ripProbes = 0;

  return new Promise<CaptureRun>((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    let finished = false;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      link.onFrame(() => {});
      if (error !== undefined) reject(error);
      else resolve({startedAt, endedAt: performance.now(), ripProbes});
    };
    const send = (frame: Buffer): boolean => {
      try {
        link.send(frame);
      } catch (error) {
        finish(error);
        return false;
      }
      trace?.(`> ${describeFrame(frame)}`);
      return true;
    };
    const schedule = (offset: Millis, action: () => void) => {
      if (startedAt + offset >= endAt) return;
      timers.push(setTimeout(() => finished || action(), Math.max(0, startedAt + offset - performance.now())));
    };

    link.onFrame((frame, at, trust) => {
      observer.observe(frame, at);
      trace?.(`< ${describeFrame(frame)} [checksum ${trust}]`);
    });
    for (let i = 0; i < plan.probes; i++) {
      schedule(i * plan.intervalMs, () => {
        observer.probeSent(performance.now());
        send(vipProbe);
      });
    }
    if (rips.length > 0) {
      let gap = plan.ripRetryMs ?? 100;
      for (let offset = 0; startedAt + offset < endAt; offset += gap, gap *= 2) {
        schedule(offset, () => {
          for (const rip of observer.unresolvedRealServers()) {
            if (!send(probeFor(rip))) return;
            ripProbes++;
          }
        });
      }
    }
    timers.push(setTimeout(() => finish(), Math.max(0, endAt - performance.now())));
  });
}
