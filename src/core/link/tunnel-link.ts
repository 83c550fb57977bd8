/**
 * Tunnel mode's frame link: the probe's engine builds Ethernet frames to VIP:port as for DR; this link strips
 * the Ethernet header and hands the inner IP packet to a TunnelSender, which encapsulates it as IPVS's director
 * does (wire/tunnel.ts) and gives it to the kernel to route to the real server. Replies do not come back through
 * the tunnel: the real server sends them from the VIP straight to us, so receiving stays with the capture link
 * of the interface they arrive on.
 *
 * The outer packet is the kernel's to route (the real server need not be on-link: a gateway, its neighbour
 * resolution and the outer source address are the kernel's choice, as for the director's own IPVS):
 * - IPIP and GRE: a raw IP socket of protocol 4/41/47 (npm `raw-socket`), the kernel adds the outer header;
 * - GUE: an ordinary UDP socket to RIP:tun-port, with a source port fixed for the socket's life (IPVS hashes
 *   the flow into it; one probe is one flow, so one port is what the real server sees from IPVS too).
 */
import {createSocket, type Socket as UdpSocket} from 'node:dgram';
import {nodeRequire} from '../node-require.js';
import type {IpAddress, IpFamily} from '../wire/address.js';
import {EthernetFrame, EtherType} from '../wire/ethernet.js';
import {Ipv6Packet} from '../wire/ipv6.js';
import {encapsulate, outerIpProtocol, type TunnelType} from '../wire/tunnel.js';
import {LinkError, type FrameHandler, type FrameLink} from './link.js';

export interface TunnelEndpoint {
  readonly type: TunnelType;
  /** The real server's own address: the outer destination. */
  readonly remote: IpAddress;
  /** GUE: the real server's fou port. */
  readonly port?: number;
}

/** Sends inner packets of one family to any real server, encapsulated one way. */
export interface TunnelSender {
  readonly key: string;
  send(remote: IpAddress, inner: Buffer): void;
  /** The last error the kernel reported for a send (asynchronously: unreachable, no route), if any. */
  readonly lastError: string | undefined;
  close(): void;
}

/** One sender per encapsulation, outer family, inner family and GUE port: what a cache keys senders by. */
export function tunnelSenderKey(endpoint: TunnelEndpoint, innerFamily: IpFamily): string {
  return `${endpoint.type}|${endpoint.remote.family}|${innerFamily}|${endpoint.port ?? 0}`;
}

interface RawSocket {
  send(buffer: Buffer, offset: number, length: number, address: string, after: (error: Error | null) => void): void;
  pauseRecv(): void;
  on(event: 'error', listener: (error: Error) => void): void;
  close(): void;
}

interface RawSocketModule {
  createSocket(options: {protocol: number; addressFamily: number}): RawSocket;
  AddressFamily: {IPv4: number; IPv6: number};
}

/** Loaded on first use: DR runs never need it. */
function rawSocketModule(): RawSocketModule {
  try {
    return nodeRequire()('raw-socket') as RawSocketModule;
  } catch (error) {
    throw new LinkError(`the raw-socket package is not usable (${(error as Error).message.split('\n')[0]}): reinstall vipcheck's dependencies (npm ci) with python3, make and g++`);
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

export function openTunnelSender(endpoint: TunnelEndpoint, innerFamily: IpFamily): TunnelSender {
  const key = tunnelSenderKey(endpoint, innerFamily);
  return endpoint.type === 'gue' ? udpSender(key, endpoint, innerFamily) : rawSender(key, endpoint.type, endpoint.remote.family, innerFamily);
}

function rawSender(key: string, type: TunnelType, outerFamily: IpFamily, innerFamily: IpFamily): TunnelSender {
  const raw = rawSocketModule();
  const protocol = outerIpProtocol(type, innerFamily);
  let socket: RawSocket;
  try {
    socket = raw.createSocket({protocol, addressFamily: outerFamily === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6});
  } catch (error) {
    throw new LinkError(`cannot open a raw IPv${outerFamily} socket for protocol ${protocol} (${describeError(error)}): tunnel mode needs CAP_NET_RAW`);
  }
  // The socket also receives every packet of its protocol addressed to this host; nothing here wants them.
  socket.pauseRecv();
  let lastError: string | undefined;
  socket.on('error', (error) => (lastError = describeError(error)));
  return {
    key,
    get lastError() {
      return lastError;
    },
    send(remote, inner) {
      const payload = encapsulate(type, innerFamily, inner);
      socket.send(payload, 0, payload.length, remote.toString(), (error) => {
        if (error) lastError = describeError(error);
      });
    },
    close: () => socket.close(),
  };
}

function udpSender(key: string, endpoint: TunnelEndpoint, innerFamily: IpFamily): TunnelSender {
  const port = endpoint.port;
  if (port === undefined) throw new LinkError('GUE needs the real server\'s fou port');
  const socket: UdpSocket = createSocket(endpoint.remote.family === 4 ? 'udp4' : 'udp6');
  let lastError: string | undefined;
  socket.on('error', (error) => (lastError = describeError(error)));
  // Replies never come on this socket; unref so an idle one never holds the process up.
  socket.unref();
  return {
    key,
    get lastError() {
      return lastError;
    },
    send(remote, inner) {
      socket.send(encapsulate('gue', innerFamily, inner), port, remote.toString(), (error) => {
        if (error) lastError = describeError(error);
      });
    },
    close: () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

/** Receives on `capture`; sends every frame's IP packet through `sender` to `remote`. */
export class EncapsulatingLink implements FrameLink {
  constructor(
    private readonly capture: FrameLink,
    private readonly sender: TunnelSender,
    private readonly remote: IpAddress,
  ) {}

  get name(): string {
    return this.capture.name;
  }

  get mac() {
    return this.capture.mac;
  }

  get integrity() {
    return this.capture.integrity;
  }

  send(frame: Uint8Array): void {
    const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const parsed = EthernetFrame.parse(bytes);
    if (!parsed.ok) throw new LinkError(`cannot encapsulate: ${parsed.error}`);
    const etherType = parsed.value.etherType;
    // Our engines build only IP frames towards the VIP; ARP and NDP have no meaning inside a tunnel.
    if (etherType !== EtherType.IPv4 && etherType !== EtherType.IPv6) return;
    const packet = bytes.subarray(parsed.value.headerLength);
    // A short frame carries Ethernet padding (60-byte minimum) after the packet: it must not enter the tunnel.
    const length = packet.length < Ipv6Packet.HEADER_LENGTH ? Infinity : etherType === EtherType.IPv4 ? packet.readUInt16BE(2) : Ipv6Packet.HEADER_LENGTH + packet.readUInt16BE(4);
    if (length > packet.length) throw new LinkError(`cannot encapsulate: a ${packet.length}-byte frame payload holds no whole IP packet`);
    this.sender.send(this.remote, packet.subarray(0, length));
  }

  onFrame(handler: FrameHandler): void {
    this.capture.onFrame(handler);
  }

  close(): void {
    this.capture.close();
  }
}
