/**
 * DNS messages for the dns check, built and parsed with dns-packet: the query (a random id, one question), the
 * checks that a reply answers it (RFC 5452 section 9.1: id, QR, and the same question; the name compared
 * without regard to case, RFC 4343), the answers as text for --expect, and the 2-byte length framing of
 * DNS over TCP (RFC 1035 section 4.2.2, RFC 7766).
 *
 * dns-packet throws on malformed bytes; decodeReply turns that into a failure, so nothing a server sends throws.
 */
import dnsPacket from 'dns-packet';
import type {Answer, DecodedPacket, Question} from 'dns-packet';
import {IpAddress} from '../../core/wire/address.js';
import {fail, ok, type Parsed} from '../../core/wire/parsed.js';
import {bareName, type QueryType} from './vocabulary.js';

export interface DnsQuery {
  readonly id: number;
  readonly question: Question & {class: 'IN'};
  readonly recursionDesired: boolean;
}

export interface DnsReply {
  readonly rcode: string;
  readonly truncated: boolean;
  readonly authoritative: boolean;
  readonly answers: readonly Answer[];
}

export function encodeQuery(query: DnsQuery): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: query.id,
    flags: query.recursionDesired ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [query.question],
  });
}

/** The reply to `query` in `bytes`, or why `bytes` is not one (malformed, another id, another question). */
export function decodeReply(bytes: Buffer, query: DnsQuery): Parsed<DnsReply> {
  let packet: DecodedPacket & {rcode?: string};
  try {
    packet = dnsPacket.decode(bytes);
  } catch (error) {
    return fail(`malformed DNS message: ${(error as Error).message}`);
  }
  if (packet.id !== query.id) return fail(`DNS id ${packet.id}, not ours (${query.id})`);
  if (!packet.flag_qr) return fail('a DNS query, not a response');
  const [question, ...more] = packet.questions ?? [];
  const asked = query.question;
  if (!question || more.length > 0 || !sameName(question.name, asked.name) || question.type !== asked.type || (question.class ?? 'IN') !== asked.class) {
    return fail(`the response's question (${(packet.questions ?? []).map((q) => `${q.name} ${q.type}`).join(', ') || 'none'}) is not ours`);
  }
  return ok({rcode: packet.rcode ?? 'NOERROR', truncated: packet.flag_tc, authoritative: packet.flag_aa, answers: packet.answers ?? []});
}

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

/** The ways an --expect value may name a record's data: an address, a name, TXT strings, "pref exchange". */
export function answerTexts(answer: Answer): string[] {
  const data: unknown = (answer as {data?: unknown}).data;
  switch (answer.type) {
    case 'A':
    case 'AAAA':
      return [IpAddress.parse(String(data))?.toString() ?? String(data)];
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return [bareName(String(data))];
    case 'TXT': {
      const strings = (Array.isArray(data) ? data : [data]).map((s) => (Buffer.isBuffer(s) ? s.toString('latin1') : String(s)));
      return [strings.join(''), ...strings];
    }
    case 'MX': {
      const mx = data as {preference: number; exchange: string};
      return [bareName(mx.exchange), `${mx.preference} ${bareName(mx.exchange)}`];
    }
    case 'SRV': {
      const srv = data as {priority: number; weight: number; port: number; target: string};
      return [bareName(srv.target), `${srv.priority} ${srv.weight} ${srv.port} ${bareName(srv.target)}`];
    }
    case 'SOA':
      return [bareName((data as {mname: string}).mname)];
    case 'CAA': {
      const caa = data as {tag: string; value: string};
      return [caa.value, `${caa.tag} ${caa.value}`];
    }
    default:
      return [];
  }
}

/** DNS over TCP: the message behind its 2-byte length. */
export function frameForTcp(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** The first whole message in what a TCP connection delivered so far, or undefined while it is incomplete. */
export function messageFromTcp(received: Buffer): Buffer | undefined {
  if (received.length < 2) return undefined;
  const length = received.readUInt16BE(0);
  return received.length >= 2 + length ? received.subarray(2, 2 + length) : undefined;
}
