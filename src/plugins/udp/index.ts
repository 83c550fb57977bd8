/**
 * `vipcheck udp`: does the real server answer a UDP request addressed to VIP:port, delivered to its MAC?
 * Declarations only (imported on every run and by oclif's help); the exchange is loaded lazily from ./run.js.
 */
import {UsageError} from '../../core/errors.js';
import {OUTPUT_FLAGS, TARGET_FLAGS, type FlagValues} from '../../plugin-api/flag-spec.js';
import type {CheckPlugin} from '../../plugin-api/plugin.js';
import {targetOptions, thresholdOptions} from '../common/target.js';
import {CONVERSATION_FLAGS, conversationOptions} from '../tcp/conversation-options.js';
import type {UdpCheckOptions} from './run.js';
import {lazyModule} from '../common/lazy-module.js';

const runModule = lazyModule(() => import('./run.js'));

/** tcp's --send/--expect flags, less those that only make sense on a stream (--quit). */
const DATAGRAM_FLAGS = CONVERSATION_FLAGS.filter((f) => f.name !== 'quit').map((f) =>
  f.name === 'send' ? {...f, required: true, description: 'Send this datagram (escapes \\r \\n \\t \\\\).'} : f,
);

export const udpPlugin: CheckPlugin<UdpCheckOptions> = {
  id: 'udp',
  title: 'UDP',
  summary: 'Check that a real server answers a UDP request for VIP:port through the LVS-DR path.',
  description:
    'Sends one datagram to VIP:port inside an Ethernet frame addressed to the real server MAC, as IPVS forwards ' +
    'client traffic in direct-routing mode, and retransmits it (0.25 s, then doubling up to 2 s) until a reply or ' +
    'the deadline. A reply is judged like tcp --expect; ICMP port unreachable from the VIP means the real server ' +
    'holds the VIP but nothing listens (CRITICAL, refused); silence means the VIP is missing, the server is down, ' +
    'or the service ignores the request (CRITICAL).',
  examples: [
    "<%= config.bin %> udp --vip 198.51.100.100 -H 198.51.100.11 -p 7 --send 'ping\\n' --expect ping",
    "<%= config.bin %> udp --vip 198.51.100.100 -H 198.51.100.11 -p 11211 --send 'stats\\r\\n' --expect-regex '^STAT pid'",
  ],
  flags: [...TARGET_FLAGS, ...DATAGRAM_FLAGS, ...OUTPUT_FLAGS],
  prepare(values: FlagValues): UdpCheckOptions {
    const {conversation} = conversationOptions(values);
    if (!conversation?.send) throw new UsageError('--send is required: a UDP service answers only a request');
    return {target: targetOptions(values), thresholds: thresholdOptions(values), spec: conversation};
  },
  async run(options, context) {
    const {runUdpCheck} = await runModule();
    return runUdpCheck(options, context);
  },
};
