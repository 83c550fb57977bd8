/**
 * Connects a sans-IO TCP machine to a frame link and real timers: frames in -> segments for the machine,
 * segments out -> frames, and a single timer armed at the machine's `pollAt()`. The machine never sees a
 * socket or a clock of its own, which is what makes it testable by script.
 */
import type {FrameLink, Millis} from '../link/link.js';
import {describeFrame} from '../wire/frame.js';
import type {TcpSegment} from '../wire/tcp.js';
import type {TcpFlow} from './flow.js';
import type {OutgoingSegment} from './syn-probe.js';

export interface SansIoTcp {
  start(now: Millis): OutgoingSegment[];
  receive(now: Millis, segment: TcpSegment): OutgoingSegment[];
  poll(now: Millis): OutgoingSegment[];
  pollAt(): Millis;
  readonly finished: boolean;
}

export interface DriveOptions {
  /** Packet trace sink (-vvv): one line per frame sent or received on the flow. */
  readonly trace?: (text: string) => void;
  /** Reported once per flow when captured segments carry bad checksums (normal with offload). */
  readonly onBadChecksum?: () => void;
}

export function drive(link: FrameLink, flow: TcpFlow, machine: SansIoTcp, options: DriveOptions = {}): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    let reportedChecksum = false;

    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      link.onFrame(() => {});
      if (error) reject(error);
      else resolve();
    };

    const emit = (segments: OutgoingSegment[]) => {
      for (const out of segments) {
        const frame = flow.frame(out);
        options.trace?.(`> ${describeFrame(frame)}`);
        link.send(frame);
      }
    };

    const step = (work: () => OutgoingSegment[]) => {
      if (settled) return;
      try {
        emit(work());
      } catch (error) {
        settle(error);
        return;
      }
      if (machine.finished) {
        settle();
        return;
      }
      arm();
    };

    const arm = () => {
      if (timer) clearTimeout(timer);
      const at = machine.pollAt();
      if (!Number.isFinite(at)) return;
      timer = setTimeout(() => step(() => machine.poll(performance.now())), Math.max(0, at - performance.now()));
    };

    link.onFrame((frame, receivedAt) => {
      const inbound = flow.match(frame);
      if (!inbound) return;
      options.trace?.(`< ${describeFrame(frame)}${inbound.checksumValid ? '' : ' (bad checksum, offload?)'}`);
      if (!inbound.checksumValid && !reportedChecksum) {
        reportedChecksum = true;
        options.onBadChecksum?.();
      }
      step(() => machine.receive(receivedAt, inbound.segment));
    });

    step(() => machine.start(performance.now()));
  });
}
