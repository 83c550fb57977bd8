// A netlink transport that answers like the kernel did in a captured ipvsadm session: each request gets the
// replies that followed the captured request of the same command (and, for GET_DEST, the same service), with
// the request's sequence number and port id. Other requests are recorded and acknowledged, or answered with
// the errno that `refuse` names.
import {decodeService, IPVS_CMD_ATTR_SERVICE} from '../../../src/core/ipvs/netlink-codec.js';
import {describeServiceKey} from '../../../src/core/ipvs/model.js';
import type {NetlinkTransportFactory} from '../../../src/core/netlink/connection.js';
import {encodeMessage, GENL_ID_CTRL, NLM_F_DUMP, NLMSG_ERROR, parseGeneric, parseMessages, type NetlinkMessage} from '../../../src/core/netlink/message.js';
import {readTrace} from './strace-fixture.js';

interface CapturedExchange {
  readonly key: string;
  readonly replies: readonly Buffer[];
}

/** `3` for nlctrl GETFAMILY, `8 TCP 198.51.100.100:80` for a GET_DEST... */
export function requestKey(message: NetlinkMessage): string {
  if (message.type === GENL_ID_CTRL) return 'ctrl';
  const generic = parseGeneric(message.payload);
  if (!generic.ok) return 'malformed';
  const nested = generic.value.attributes.nested(IPVS_CMD_ATTR_SERVICE);
  const service = nested?.ok ? decodeServiceKeyOnly(nested.value) : '';
  return `${generic.value.command}${service ? ` ${service}` : ''}`;
}

function decodeServiceKeyOnly(attributes: Parameters<typeof decodeService>[0]): string {
  // A key alone has no scheduler, flags or timeout: decode it with defaults filled in by a full decode's rules.
  const decoded = decodeService(attributes);
  if (decoded.ok) return describeServiceKey(decoded.value.key);
  const af = attributes.u16(1);
  const fwmark = attributes.u32(5);
  if (fwmark) return `FWM ${fwmark} (IPv${af === 10 ? 6 : 4})`;
  const port = attributes.be16(4);
  const address = attributes.raw(3);
  const protocol = attributes.u16(2) === 6 ? 'TCP' : attributes.u16(2) === 17 ? 'UDP' : 'SCTP';
  if (!address || port === undefined) return '?';
  const text = af === 10 ? `[${ipv6(address)}]` : [...address.subarray(0, 4)].join('.');
  return `${protocol} ${text}:${port}`;
}

function ipv6(bytes: Buffer): string {
  // Only for keys of the test's own table: compare in the same canonical form describeServiceKey prints.
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export function capturedExchanges(traceName: string): CapturedExchange[] {
  const exchanges: Array<{key: string; replies: Buffer[]}> = [];
  for (const datagram of readTrace(traceName)) {
    if (datagram.direction === 'sent') {
      const parsed = parseMessages(datagram.bytes);
      if (parsed.ok && parsed.value[0]) exchanges.push({key: requestKey(parsed.value[0]), replies: []});
    } else exchanges.at(-1)?.replies.push(datagram.bytes);
  }
  return exchanges;
}

/** The datagram with every message's sequence and port id replaced. */
function readdress(datagram: Buffer, sequence: number, portId: number): Buffer {
  const copy = Buffer.from(datagram);
  let offset = 0;
  while (offset + 16 <= copy.length) {
    const length = copy.readUInt32LE(offset);
    copy.writeUInt32LE(sequence, offset + 8);
    copy.writeUInt32LE(portId, offset + 12);
    if (length < 16) break;
    offset += (length + 3) & ~3;
  }
  return copy;
}

export interface ReplayKernel {
  readonly factory: NetlinkTransportFactory;
  /** Requests no capture answered (writes), in order. */
  readonly written: NetlinkMessage[];
  /** The key of every request, in order. */
  readonly requests: string[];
  /** Answer every request whose key starts with this with an errno instead. */
  refuse(keyPrefix: string, errno: number): void;
  /** Answer with these bytes instead. */
  answer(keyPrefix: string, datagrams: readonly Buffer[]): void;
  /** Never answer requests with this key prefix. */
  ignore(keyPrefix: string): void;
}

const PORT_ID = 4242;

function endsWithAck(replies: readonly Buffer[]): boolean {
  const last = replies.at(-1);
  const messages = last ? parseMessages(last) : undefined;
  return messages?.ok === true && messages.value.at(-1)?.type === NLMSG_ERROR;
}

export function replayKernel(...traceNames: string[]): ReplayKernel {
  const exchanges = traceNames.flatMap(capturedExchanges);
  const written: NetlinkMessage[] = [];
  const requests: string[] = [];
  const refusals = new Map<string, number>();
  const answers = new Map<string, readonly Buffer[]>();
  const ignored = new Set<string>();
  const matching = <T>(map: ReadonlyMap<string, T>, key: string): T | undefined => [...map].find(([prefix]) => key.startsWith(prefix))?.[1];
  const errorReply = (request: NetlinkMessage, errno: number): Buffer => {
    const payload = Buffer.alloc(4 + 16);
    payload.writeInt32LE(-errno, 0);
    encodeMessage(request, Buffer.alloc(0)).copy(payload, 4);
    return encodeMessage({type: NLMSG_ERROR, flags: 0x100, sequence: request.sequence, portId: request.portId}, payload);
  };
  const factory: NetlinkTransportFactory = (onDatagram) => ({
    portId: PORT_ID,
    send(bytes) {
      const parsed = parseMessages(bytes);
      if (!parsed.ok || !parsed.value[0]) throw new Error('the test kernel got a malformed request');
      const request = parsed.value[0];
      const key = requestKey(request);
      requests.push(key);
      let replies: readonly Buffer[];
      if ([...ignored].some((prefix) => key.startsWith(prefix))) return;
      const errno = matching(refusals, key);
      const answer = matching(answers, key);
      if (errno !== undefined) replies = [errorReply(request, errno)];
      else if (answer !== undefined) replies = answer;
      else {
        const captured = exchanges.find((exchange) => exchange.key === key);
        // ipvsadm's libnl stops reading after GET_INFO's reply; the kernel acknowledges it too (NLM_F_ACK).
        if (captured) replies = (request.flags & NLM_F_DUMP) === 0 && !endsWithAck(captured.replies) ? [...captured.replies, errorReply(request, 0)] : captured.replies;
        else {
          written.push(request);
          replies = [errorReply(request, 0)];
        }
      }
      // Asynchronously, as the socket's poll callback delivers them.
      setImmediate(() => {
        for (const reply of replies) onDatagram(readdress(reply, request.sequence, request.portId));
      });
    },
    close() {},
  });
  return {
    factory,
    written,
    requests,
    refuse: (prefix, errno) => refusals.set(prefix, errno),
    answer: (prefix, datagrams) => answers.set(prefix, datagrams),
    ignore: (prefix) => ignored.add(prefix),
  };
}
