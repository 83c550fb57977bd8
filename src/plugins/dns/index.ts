/**
 * `vipcheck dns`: does the real server answer a DNS query addressed to VIP:port, delivered to its MAC, with the
 * expected response code and records? Declarations only; the query runs from ./run.js, loaded lazily.
 */
import {UsageError} from '../../core/errors.js';
import {OUTPUT_FLAGS, TARGET_FLAGS, type FlagValues} from '../../plugin-api/flag-spec.js';
import {stringFlag} from '../../plugin-api/convert.js';
import type {CheckPlugin} from '../../plugin-api/plugin.js';
import {targetOptions, thresholdOptions} from '../common/target.js';
import {QUERY_TYPES, RCODES, normalizeExpected, type QueryType} from './vocabulary.js';
import type {DnsCheckOptions} from './options.js';
import {lazyModule} from '../common/lazy-module.js';

const runModule = lazyModule(() => import('./run.js'));

const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

export const dnsPlugin: CheckPlugin<DnsCheckOptions> = {
  id: 'dns',
  title: 'DNS',
  summary: 'Check that a real server answers a DNS query for VIP:port through the LVS-DR path.',
  description:
    'Sends one DNS query (random id) over UDP to VIP:port inside an Ethernet frame addressed to the real server ' +
    'MAC, as IPVS forwards client traffic in direct-routing mode, retransmitting it until a reply or the deadline; ' +
    'a truncated reply is asked again over TCP through the same path. OK when the reply answers our question with ' +
    'the expected response code (--rcode) and holds every --expect value; ICMP port unreachable from the VIP is ' +
    'CRITICAL (refused), silence is CRITICAL.',
  examples: [
    '<%= config.bin %> dns --vip 198.51.100.53 -H 198.51.100.11 --query www.example.com --expect 198.51.100.80',
    '<%= config.bin %> dns --vip 2001:db8::53 -H 2001:db8::11 --query www.example.com --type AAAA',
    '<%= config.bin %> dns --vip 198.51.100.53 -H 198.51.100.11 --query nonexistent.example.com --rcode NXDOMAIN',
  ],
  flags: [
    ...TARGET_FLAGS.map((f) => (f.name === 'port' ? {...f, required: false, default: '53', description: 'Service port (default 53).'} : f)),
    {name: 'query', char: 'q', type: 'string', required: true, helpValue: 'NAME', description: 'The name to look up.'},
    {name: 'type', type: 'string', options: QUERY_TYPES, default: 'A', description: 'The record type to ask for.'},
    {name: 'expect', char: 'e', type: 'string', multiple: true, helpValue: 'VALUE', description: 'A record the answer must hold (address, name, TXT text; repeatable: every one must be there).'},
    {name: 'rcode', type: 'string', options: RCODES, default: 'NOERROR', description: 'The response code expected.'},
    {name: 'no-recurse', type: 'boolean', description: 'Clear the RD bit (ask an authoritative server only for what it holds).'},
    ...OUTPUT_FLAGS,
  ],
  prepare(values: FlagValues): DnsCheckOptions {
    const type = (stringFlag(values, 'type') ?? 'A') as QueryType;
    const expectRaw = values['expect'];
    return {
      target: targetOptions(values),
      thresholds: thresholdOptions(values),
      name: queryName(stringFlag(values, 'query') ?? ''),
      type,
      expect: (Array.isArray(expectRaw) ? expectRaw : []).map((e) => normalizeExpected(type, e)),
      rcode: stringFlag(values, 'rcode') ?? 'NOERROR',
      recursionDesired: values['no-recurse'] !== true,
    };
  },
  async run(options, context) {
    const {runDnsCheck} = await runModule();
    return runDnsCheck(options, context);
  },
};

/** A name DNS can carry (RFC 1035 2.3.4): at most 253 characters, labels of 1 to 63. */
function queryName(text: string): string {
  const name = text.replace(/\.$/, '');
  if (name === '') throw new UsageError('--query: give a name to look up');
  if (name.length > MAX_NAME_LENGTH) throw new UsageError(`--query: '${name.slice(0, 40)}...' is longer than ${MAX_NAME_LENGTH} characters`);
  for (const label of name.split('.')) {
    if (label.length === 0) throw new UsageError(`--query: '${text}' has an empty label`);
    if (label.length > MAX_LABEL_LENGTH) throw new UsageError(`--query: a label of '${text}' is longer than ${MAX_LABEL_LENGTH} characters`);
    if (/[\s\\]/.test(label)) throw new UsageError(`--query: '${text}' holds whitespace or a backslash`);
  }
  return name;
}
