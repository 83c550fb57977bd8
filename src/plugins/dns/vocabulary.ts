/**
 * What the dns check's flags may name (query types, response codes) and how an --expect value compares. Apart
 * from message.ts, so the declarations imported on every run of every check do not load dns-packet.
 */
import type {RecordType} from 'dns-packet';
import {IpAddress} from '../../core/wire/address.js';

/** The types --type accepts: those whose records --expect can compare as text. */
export const QUERY_TYPES = ['A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV', 'TXT', 'CAA'] as const satisfies readonly RecordType[];
export type QueryType = (typeof QUERY_TYPES)[number];

/** RFC 1035 / RFC 6895 response codes by name, as dns-packet spells them. */
export const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'] as const;

/** How an --expect value compares: addresses in canonical form, names without the final dot and case. */
export function normalizeExpected(type: QueryType, value: string): string {
  if (type === 'A' || type === 'AAAA') return IpAddress.parse(value)?.toString() ?? value;
  return type === 'TXT' || type === 'CAA' ? value : bareName(value);
}

export function bareName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}
