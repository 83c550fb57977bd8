/**
 * A frame channel on a real interface through libpcap (node_pcap's native binding).
 *
 * We load the binding directly instead of `require('pcap')`: the package's entry point also loads its slow
 * JavaScript decoders (~8 ms), and vipcheck decodes frames itself (core/wire). Facts this file relies on
 * (node-stack.md):
 * - `buffer_timeout: 0` turns on immediate mode; the default 1000 ms delays delivery by up to a second.
 * - the binding fills ONE shared buffer for every packet and bytes past `caplen` are stale: copy before use.
 * - the packet callback runs inside the dispatch loop; an exception there kills the process, so the handler
 *   is guarded.
 * - close() does not release the poll handle until another packet arrives; callers exit explicitly.
 * - measured here: with the BPF keyword `inbound` the first frame after the session opens is lost (an ARP
 *   reply 40 us after our request never arrived, the second one did), so we do not use it. Frames this
 *   session injects are not captured back; frames this host's kernel sends are, and are dropped below by
 *   their Ethernet source, which keeps the FrameLink contract (nothing we sent comes back).
 */
import {createRequire} from 'node:module';
import {performance} from 'node:perf_hooks';
import type {MacAddress} from '../wire/address.js';
import {LinkError, type FrameHandler, type FrameLink} from './link.js';

interface PcapBindingSession {
  open_live(
    device: string,
    filter: string,
    bufferSize: number,
    snapLength: number,
    outfile: string,
    packetReady: () => void,
    monitor: boolean,
    bufferTimeout: number,
    warning: (text: string) => void,
    promiscuous: boolean,
  ): string;
  dispatch(buffer: Buffer, header: Buffer): number;
  start_polling(): void;
  close(): void;
  inject(frame: Buffer): void;
  read_callback?: () => void;
}

interface PcapBinding {
  PcapSession: new () => PcapBindingSession;
}

export interface PcapLinkOptions {
  readonly interfaceName: string;
  readonly mac: MacAddress;
  /** BPF program text; build it with bpf.ts from validated values only. */
  readonly filter: string;
  /** Needed only to see unicast frames between other hosts (passive ARP audit). */
  readonly promiscuous?: boolean;
  /** Kernel capture buffer; large transfers want more. */
  readonly bufferBytes?: number;
}

/** GRO hands the capture segments far above the MSS (up to 64 KiB): snap like tcpdump does. */
const SNAP_LENGTH = 262_144;
const HEADER_CAPLEN_OFFSET = 8;

let binding: PcapBinding | undefined;

function loadBinding(): PcapBinding {
  if (binding) return binding;
  // The check runs from a CommonJS bundle (dist/fast-path.cjs), where `require` exists and import.meta does not;
  // the ES module build (tests, the lab) has only import.meta.
  const load = typeof require === 'function' ? require : createRequire(import.meta.url);
  try {
    binding = load('pcap/build/Release/pcap_binding.node') as PcapBinding;
  } catch (error) {
    throw new LinkError(
      `the pcap native addon is not built (${(error as Error).message.split('\n')[0]}); ` +
        'install libpcap-dev and run npm ci with install scripts allowed for pcap',
    );
  }
  return binding;
}

export class PcapLink implements FrameLink {
  readonly name: string;
  readonly mac: MacAddress;
  private readonly session: PcapBindingSession;
  private readonly macBytes: Buffer;
  private handler: FrameHandler | undefined;
  private closed = false;
  /** First error thrown by the handler; kept so the caller can report it instead of crashing inside pcap. */
  handlerError: unknown;

  constructor(options: PcapLinkOptions) {
    this.name = options.interfaceName;
    this.mac = options.mac;
    this.macBytes = options.mac.bytes;
    const {PcapSession} = loadBinding();
    this.session = new PcapSession();
    const buffer = Buffer.alloc(SNAP_LENGTH);
    const header = Buffer.alloc(16);
    let linkType: string;
    try {
      linkType = this.session.open_live(
        options.interfaceName,
        options.filter,
        options.bufferBytes ?? 4 * 1024 * 1024,
        SNAP_LENGTH,
        '',
        () => this.deliver(buffer, header),
        false,
        0,
        () => {},
        options.promiscuous ?? false,
      );
    } catch (error) {
      throw new LinkError(describeOpenError(options.interfaceName, (error as Error).message));
    }
    if (linkType !== 'LINKTYPE_ETHERNET') {
      this.session.close();
      throw new LinkError(`interface ${options.interfaceName} is not Ethernet (${linkType})`);
    }
    this.session.read_callback = () => {
      if (!this.closed) this.session.dispatch(buffer, header);
    };
    this.session.start_polling();
    // Frames may already be queued before the first poll event: read once right away.
    process.nextTick(() => this.session.read_callback?.());
  }

  private deliver(buffer: Buffer, header: Buffer): void {
    if (this.closed || !this.handler) return;
    const caplen = Math.min(header.readUInt32LE(HEADER_CAPLEN_OFFSET), buffer.length);
    if (caplen >= 12 && this.macBytes.equals(buffer.subarray(6, 12))) return;
    const frame = Buffer.from(buffer.subarray(0, caplen));
    try {
      this.handler(frame, performance.now());
    } catch (error) {
      this.handlerError ??= error;
    }
  }

  send(frame: Uint8Array): void {
    if (this.closed) throw new LinkError(`link ${this.name} is closed`);
    try {
      this.session.inject(Buffer.isBuffer(frame) ? frame : Buffer.from(frame));
    } catch (error) {
      throw new LinkError(`cannot send on ${this.name}: ${(error as Error).message}`);
    }
  }

  onFrame(handler: FrameHandler): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.session.close();
  }
}

function describeOpenError(iface: string, message: string): string {
  if (/permission|not permitted|EPERM/i.test(message)) {
    return (
      `no permission to capture on ${iface}: run as root (e.g. via sudo) or give the service CAP_NET_RAW ` +
      `(systemd AmbientCapabilities=CAP_NET_RAW)`
    );
  }
  if (/No such device|doesn't exist/i.test(message)) return `interface ${iface} does not exist`;
  return `cannot capture on ${iface}: ${message.split('\n')[0]}`;
}
