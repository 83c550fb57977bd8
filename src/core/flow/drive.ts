/**
 * Connects a sans-IO TCP machine to a frame link and a clock: frames in -> segments for the machine,
 * segments out -> frames, and a single timer armed at the machine's `pollAt()`. The machine never sees a
 * socket or a clock of its own, which is what makes it testable by script.
 *
 * The clock is real time by default; tests pass a virtual clock so that exchanges with loss and retransmission
 * timeouts run deterministically and without waiting. An application that changes the machine from outside
 * (writes, reads, shutdown, abort) calls `wake()` on the handle; wakes within one tick are coalesced into one
 * poll, so a header and a body written together leave in one segment when they fit.
 */
import {performance} from 'node:perf_hooks';
import type {BulkReceiveSlot, FrameLink, Millis} from '../link/link.js';
import {describeFrame} from '../wire/frame.js';
import {TcpFlags} from '../wire/tcp.js';
import type {TcpFlow} from './tcp-flow.js';
import type {OutgoingSegment, SansIoTcp} from '../tcp/segment.js';

export type {SansIoTcp} from '../tcp/segment.js';

export interface ScheduledTimer {
  cancel(): void;
  /** Lets the process exit while only this timer is pending (real timers only). */
  unref?(): void;
  ref?(): void;
}

export interface DriveClock {
  now(): Millis;
  /** Calls `callback` once at time `at` (at once if it has passed). */
  schedule(at: Millis, callback: () => void): ScheduledTimer;
  /** Calls `callback` once this event-loop turn's callbacks, ticks and promise jobs have run (setImmediate). */
  endOfTurn?(callback: () => void): void;
}

/** performance.now() and setTimeout: what production runs on. */
export const realClock: DriveClock = {
  now: () => performance.now(),
  endOfTurn: (callback) => void setImmediate(callback),
  schedule(at, callback) {
    const timer = setTimeout(callback, Math.max(0, at - performance.now()));
    return {cancel: () => clearTimeout(timer), unref: () => timer.unref(), ref: () => timer.ref()};
  },
};

export interface DriveOptions {
  /** Packet trace sink (-vvv): one line per frame sent or received on the flow. */
  readonly trace?: (text: string) => void;
  /** Default: real time. */
  readonly clock?: DriveClock;
  /** Runs after every call into the machine (and its segments were sent), so its owner can drain events. */
  readonly afterStep?: () => void;
  /**
   * Start the machine (send the SYN) once this event-loop turn is over, not at once, when the clock can
   * (`endOfTurn`). An application that creates the connection and then sets itself up in the same turn (Node's
   * HTTP client: its socket, parser and request, 0.2-0.3 ms here) would otherwise keep the SYN-ACK waiting
   * behind that work: the handshake then takes our setup's time instead of the network's, and the connect
   * phase that check_curl reports says so. Writes made meanwhile wait in the send queue as before.
   */
  readonly startAtEndOfTurn?: boolean;
}

export interface DriveHandle {
  /** Settles when the machine has finished; rejects if sending failed or the machine threw. */
  readonly done: Promise<void>;
  /** The machine changed from outside: poll it soon (coalesced per microtask). */
  wake(): void;
  /** Whether the pending timer keeps the process alive (like net.Socket ref/unref); the default is ref. */
  ref(): void;
  unref(): void;
  readonly running: boolean;
}

/**
 * A machine whose `pollAt()` stays in the past while its polls send nothing would spin the event loop; after
 * this many such polls in a row the driver gives up with an error instead (a bug, never expected).
 */
const MAX_IDLE_IMMEDIATE_POLLS = 1000;

export function startDriving(link: FrameLink, flow: TcpFlow, machine: SansIoTcp, options: DriveOptions = {}): DriveHandle {
  const clock = options.clock ?? realClock;
  let timer: ScheduledTimer | undefined;
  let settled = false;
  let wakeQueued = false;
  let referenced = true;
  let idleImmediatePolls = 0;
  let resolveDone!: () => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });

  const settle = (error?: unknown) => {
    if (settled) return;
    settled = true;
    timer?.cancel();
    timer = undefined;
    bulkSlot?.release();
    link.onFrame(() => {});
    if (error) rejectDone(error);
    else resolveDone();
  };

  const send = (frame: Buffer) => {
    options.trace?.(`> ${describeFrame(frame)}`);
    link.send(frame);
  };

  /**
   * A pure ACK of a segment shorter than our MSS waits for the end of the event-loop turn, and is dropped if
   * another segment leaves first (every segment carries the newest acknowledgement and window). The data was
   * usually the end of a response: the application reads it in this same turn and answers, or closes with a
   * FIN or RST, which then carries the ACK. That is one frame fewer per HTTP check (measured: the send is a
   * quarter of the agent's CPU). The ACK of a segment carrying the peer's FIN waits the same way, whatever its
   * length: nothing follows a FIN for the ACK to clock, and a check that closes on the end of the body sends
   * its RST in this turn (a 1 MiB body's last GRO frame carries the FIN; its ACK left ~200 µs before the RST,
   * measured). Other full-sized segments are acknowledged at once, so a bulk transfer's pace never waits for
   * the application's processing.
   */
  let heldAck: Buffer | undefined;
  const hold = (frame: Buffer, endOfTurn: (callback: () => void) => void) => {
    heldAck = frame;
    endOfTurn(() => {
      if (heldAck !== frame) return;
      heldAck = undefined;
      try {
        send(frame);
      } catch {
        // the link closed meanwhile: the flow is over and the ACK is moot
      }
    });
  };

  const emit = (segments: OutgoingSegment[], ackMayWait: boolean) => {
    if (segments.length > 0) heldAck = undefined;
    const only = segments.length === 1 ? segments[0]! : undefined;
    if (ackMayWait && only && only.payload.length === 0 && only.repr.flags === TcpFlags.ACK && clock.endOfTurn) {
      hold(flow.frame(only), clock.endOfTurn);
      return;
    }
    for (const out of segments) send(flow.frame(out));
  };

  /**
   * The link's bulk receive offload (core/bulk-receive.ts), armed after every step the machine allows it in and
   * paused after the others. Not with a packet trace: -vvv shows every frame, and the offload's never reach it.
   */
  const offload = options.trace || !machine.bulkReceiveArm ? undefined : link.bulkReceive;
  let bulkSlot: BulkReceiveSlot | undefined;
  let bulkArmed = false;
  /** The ACK frame the offload patches, rebuilt only when its sequence number (SND.MAX) moves. */
  let bulkAckFrame: Buffer | undefined;
  let bulkAckSeq = -1;
  const syncOffload = () => {
    const arm = machine.bulkReceiveArm!();
    if (!arm) {
      if (bulkArmed) bulkSlot!.pause();
      bulkArmed = false;
      return;
    }
    bulkSlot ??= offload!.open((handoff) => step(() => machine.receiveBulk!(clock.now(), handoff)));
    if (!bulkAckFrame || bulkAckSeq !== arm.ack.repr.sequenceNumber) {
      bulkAckFrame = flow.frame(arm.ack);
      bulkAckSeq = arm.ack.repr.sequenceNumber;
    }
    bulkArmed = bulkSlot.arm(bulkAckFrame, arm.fields);
  };

  const step = (work: () => OutgoingSegment[], immediatePoll = false, ackMayWait = false) => {
    if (settled) return;
    try {
      const segments = work();
      emit(segments, ackMayWait && !machine.finished);
      if (offload && !machine.finished) syncOffload();
      idleImmediatePolls = immediatePoll && segments.length === 0 ? idleImmediatePolls + 1 : 0;
      options.afterStep?.();
      if (idleImmediatePolls > MAX_IDLE_IMMEDIATE_POLLS) throw new Error('TCP machine keeps asking for a poll without doing anything (bug)');
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

  let timerAt = Infinity;
  const arm = () => {
    const at = machine.pollAt();
    // Most steps leave the next poll where it was (the retransmission or deadline timer): keep that timer
    // rather than cancel and re-create one per frame.
    if (timer && at === timerAt && at > clock.now()) return;
    timer?.cancel();
    timer = undefined;
    timerAt = at;
    if (!Number.isFinite(at)) return;
    const immediate = at <= clock.now();
    timer = clock.schedule(at, () => {
      timer = undefined;
      step(() => machine.poll(clock.now()), immediate);
    });
    if (!referenced) timer.unref?.();
  };

  // The link has already dropped frames whose checksums are wrong; `trust` says why this one's are believed.
  link.onFrame((frame, receivedAt, trust) => {
    const inbound = flow.match(frame);
    if (!inbound) return;
    options.trace?.(`< ${describeFrame(frame)} [checksum ${trust}]`);
    const segment = inbound.segment;
    const length = segment.payload.length;
    const ackMayWait = segment.has(TcpFlags.FIN) || (length > 0 && machine.receiveMss !== undefined && length < machine.receiveMss);
    step(() => machine.receive(receivedAt, segment), false, ackMayWait);
  });

  const begin = () => step(() => machine.start(clock.now()));
  if (options.startAtEndOfTurn && clock.endOfTurn) clock.endOfTurn(begin);
  else begin();

  return {
    done,
    wake() {
      if (settled || wakeQueued) return;
      wakeQueued = true;
      queueMicrotask(() => {
        wakeQueued = false;
        step(() => machine.poll(clock.now()));
      });
    },
    ref() {
      referenced = true;
      timer?.ref?.();
    },
    unref() {
      referenced = false;
      timer?.unref?.();
    },
    get running() {
      return !settled;
    },
  };
}

/** Runs `machine` over `link` until it finishes (the handshake probe's whole life). */
export function drive(link: FrameLink, flow: TcpFlow, machine: SansIoTcp, options: DriveOptions = {}): Promise<void> {
  return startDriving(link, flow, machine, options).done;
}
