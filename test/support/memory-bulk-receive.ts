/**
 * A bulk receive offload for the in-memory wire, by the contract of core/bulk-receive.ts, so that the engine and
 * its driver can be tested with one in deterministic virtual time, under seeded loss. It follows the rules of
 * native/bulk_receive.c (which the namespace lab tests for real): take the next in-order segment of an armed flow
 * when it has at least the full-sized payload, its ACK field and window are as armed and it fits the window;
 * acknowledge once more than one full segment is unacknowledged, with the armed edge; pause the flow at the first
 * segment that does not qualify, after handing over what was taken; hand the rest over once the current batch of
 * deliveries is over.
 */
import type {BulkHandoff, BulkReceiveFields} from '../../src/core/bulk-receive.js';
import {FrameIntegrity} from '../../src/core/link/frame-integrity.js';
import type {BulkReceiveOffload, BulkReceiveSlot, FrameHandler, FrameLink} from '../../src/core/link/link.js';
import type {MemoryLink} from '../../src/core/link/memory-link.js';
import {EthernetFrame, buildEthernet} from '../../src/core/wire/ethernet.js';
import {IpProtocol, buildIpPacket, parseIpPacket} from '../../src/core/wire/ip.js';
import {seqAdd, seqLe, seqSub} from '../../src/core/wire/seq.js';
import {TcpFlags, TcpSegment, buildTcp} from '../../src/core/wire/tcp.js';

interface Slot {
  active: boolean;
  released: boolean;
  fields: {-readonly [K in keyof BulkReceiveFields]: BulkReceiveFields[K]};
  template: Buffer;
  /** The flow's ports as the ACK template has them (ours first). */
  localPort: number;
  remotePort: number;
  unacknowledged: number;
  taken: Buffer[];
  firstSeq: number;
  frames: number;
  acks: number;
  onData: (handoff: BulkHandoff) => void;
}

/** Wraps a MemoryLink: frames pass through, except those the offload takes. */
export class MemoryBulkReceiveLink implements FrameLink {
  readonly name: string;
  readonly mac;
  readonly integrity: FrameIntegrity;
  readonly bulkReceive: BulkReceiveOffload;
  private handler: FrameHandler | undefined;
  private readonly slots = new Set<Slot>();
  private handOffQueued = false;
  readonly counters = {frames: 0, acks: 0, refused: 0};

  constructor(private readonly inner: MemoryLink) {
    this.name = inner.name;
    this.mac = inner.mac;
    this.integrity = inner.integrity;
    inner.onFrame((frame, at, trust) => this.incoming(frame, at, trust));
    const counters = this.counters;
    this.bulkReceive = {counters, lastRefusal: undefined, open: (onData) => this.open(onData)};
  }

  send(frame: Uint8Array): void {
    this.inner.send(frame);
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler;
  }

  close(): void {
    this.inner.close();
  }

  private open(onData: (handoff: BulkHandoff) => void): BulkReceiveSlot {
    const slot: Slot = {active: false, released: false, fields: undefined!, template: Buffer.alloc(0), localPort: 0, remotePort: 0, unacknowledged: 0, taken: [], firstSeq: 0, frames: 0, acks: 0, onData};
    return {
      arm: (ackFrame, fields) => {
        if (slot.released) return false;
        if (slot.taken.length > 0) throw new Error('armed while holding data (the contract says this cannot happen)');
        slot.fields = {...fields};
        slot.template = Buffer.from(ackFrame);
        const ours = TcpSegment.parse(templateTcp(slot.template));
        if (!ours.ok) throw new Error('unusable ACK template');
        slot.localPort = ours.value.sourcePort;
        slot.remotePort = ours.value.destinationPort;
        slot.unacknowledged = seqSub(fields.rcvNxt, fields.lastAckSent);
        slot.active = true;
        this.slots.add(slot);
        return true;
      },
      pause: () => void (slot.active = false),
      release: () => {
        slot.released = true;
        slot.active = false;
        this.slots.delete(slot);
      },
    };
  }

  private incoming(frame: Buffer, at: number, trust: Parameters<FrameHandler>[2]): void {
    if (this.take(frame)) return;
    this.handOff();
    this.handler?.(frame, at, trust);
  }

  /** Whether an armed flow took the frame's segment (see the rules at the top). */
  private take(frame: Buffer): boolean {
    if (this.slots.size === 0) return false;
    const eth = EthernetFrame.parse(frame);
    if (!eth.ok) return false;
    const ip = parseIpPacket(eth.value.etherType, eth.value.payload);
    if (!ip.ok || ip.value.protocol !== IpProtocol.TCP) return false;
    const parsed = TcpSegment.parse(ip.value.payload);
    if (!parsed.ok) return false;
    const segment = parsed.value;
    for (const slot of this.slots) {
      if (slot.localPort !== segment.destinationPort || slot.remotePort !== segment.sourcePort) continue;
      if (!slot.active) return false;
      const f = slot.fields;
      const ts = segment.options.timestamp;
      const qualifies =
        (segment.flags === TcpFlags.ACK || segment.flags === (TcpFlags.ACK | TcpFlags.PSH)) &&
        (f.timestamps ? ts !== undefined && seqSub(ts.value, f.tsRecent) >= 0 : ts === undefined) &&
        segment.options.sackBlocks === undefined &&
        segment.payload.length >= f.minPayload &&
        segment.sequenceNumber === f.rcvNxt &&
        segment.acknowledgmentNumber === f.peerAck &&
        segment.window === f.peerWindow &&
        seqLe(seqAdd(f.rcvNxt, segment.payload.length), f.acceptUntil);
      if (!qualifies) {
        slot.active = false;
        return false;
      }
      if (slot.taken.length === 0) slot.firstSeq = f.rcvNxt;
      slot.taken.push(Buffer.from(segment.payload));
      if (f.timestamps && seqLe(segment.sequenceNumber, f.lastAckSent)) f.tsRecent = ts!.value;
      f.rcvNxt = seqAdd(f.rcvNxt, segment.payload.length);
      slot.unacknowledged += segment.payload.length;
      slot.frames++;
      this.counters.frames++;
      if (slot.unacknowledged > f.minPayload) this.acknowledge(slot);
      if (!this.handOffQueued) {
        this.handOffQueued = true;
        queueMicrotask(() => this.handOff());
      }
      return true;
    }
    return false;
  }

  private acknowledge(slot: Slot): void {
    const f = slot.fields;
    const eth = EthernetFrame.parse(slot.template);
    const ip = eth.ok ? parseIpPacket(eth.value.etherType, eth.value.payload) : undefined;
    const tcp = ip?.ok ? TcpSegment.parse(ip.value.payload) : undefined;
    if (!eth.ok || !ip?.ok || !tcp?.ok) throw new Error('unusable ACK template');
    const t = tcp.value;
    const window = Math.min(0xffff, seqSub(f.edge, f.rcvNxt) >>> f.scale);
    const options = f.timestamps ? {timestamp: {value: f.tsval, echo: f.tsRecent}} : {};
    const segment = buildTcp(
      {sourcePort: t.sourcePort, destinationPort: t.destinationPort, sequenceNumber: t.sequenceNumber, acknowledgmentNumber: f.rcvNxt, flags: TcpFlags.ACK, window, options},
      Buffer.alloc(0),
      ip.value.source,
      ip.value.destination,
    );
    const packet = buildIpPacket({family: ip.value.family, source: ip.value.source, destination: ip.value.destination, protocol: IpProtocol.TCP, hopLimit: 64, identification: 0, dontFragment: true}, segment);
    this.inner.send(buildEthernet({destination: eth.value.destination, source: eth.value.source, etherType: eth.value.etherType}, packet));
    f.lastAckSent = f.rcvNxt;
    slot.unacknowledged = 0;
    slot.acks++;
    this.counters.acks++;
  }

  /** Everything taken leaves at once, before any handler runs, as in the addon. */
  private handOff(): void {
    this.handOffQueued = false;
    const ready = [...this.slots].filter((slot) => slot.taken.length > 0);
    const handoffs = ready.map((slot) => {
      const handoff: BulkHandoff = {
        chunks: slot.taken,
        firstSeq: slot.firstSeq,
        lastAckSent: slot.fields.lastAckSent,
        tsRecent: slot.fields.tsRecent,
        frames: slot.frames,
        acks: slot.acks,
      };
      slot.taken = [];
      slot.frames = 0;
      slot.acks = 0;
      return [slot, handoff] as const;
    });
    for (const [slot, handoff] of handoffs) slot.onData(handoff);
  }
}

function templateTcp(frame: Buffer): Buffer {
  const eth = EthernetFrame.parse(frame);
  const ip = eth.ok ? parseIpPacket(eth.value.etherType, eth.value.payload) : undefined;
  if (!ip?.ok) throw new Error('unusable ACK template');
  return ip.value.payload;
}
