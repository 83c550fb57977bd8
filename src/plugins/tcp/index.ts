/**
 * `vipcheck tcp`: does the real server accept a TCP connection addressed to VIP:port, delivered to its MAC?
 * This module is imported on every run and by oclif's help, so it only declares; the probe itself is loaded
 * lazily from ./probe.js.
 */
import {OUTPUT_FLAGS, ROLE_FLAGS, TARGET_FLAGS, type FlagValues} from '../../plugin-api/flag-spec.js';
import type {CheckPlugin} from '../../plugin-api/plugin.js';
import {roleOptions, targetOptions, thresholdOptions} from '../common/target.js';
import {CONVERSATION_FLAGS, conversationOptions} from './conversation-options.js';
import type {TcpCheckOptions} from './options.js';
import {lazyModule} from '../common/lazy-module.js';

const runModule = lazyModule(() => import('./probe.js'));

export const tcpPlugin: CheckPlugin<TcpCheckOptions> = {
  id: 'tcp',
  title: 'TCP',
  summary: 'Check that a real server accepts TCP connections for VIP:port through the LVS-DR path.',
  description:
    'Sends a SYN to VIP:port inside an Ethernet frame addressed to the real server MAC (resolved by ARP), ' +
    'exactly as IPVS forwards client traffic in direct-routing mode. A SYN-ACK proves the real server holds the ' +
    'VIP and listens; RST means the VIP is there but the port is closed; silence means the real server drops ' +
    'VIP traffic (VIP missing on its loopback) or is down.',
  examples: [
    "<%= config.bin %> tcp --vip 198.51.100.100 -H 198.51.100.11 -p 22 --expect SSH-2.0",
    "<%= config.bin %> tcp --vip 198.51.100.100 -H 198.51.100.11 -p 6379 --send 'PING\\r\\n' --expect +PONG --quit 'QUIT\\r\\n'",
    '<%= config.bin %> tcp --vip 198.51.100.100 --rs 198.51.100.11 --port 80',
    '<%= config.bin %> tcp --vip 198.51.100.100 -H 198.51.100.11 -p 443 -w 0.05 -c 0.2 --role-file /run/lvs/role',
    '<%= config.bin %> tcp --vip 198.51.100.100 -H 198.51.100.11 -p 80 --exit-codes keepalived',
  ],
  flags: [
    ...TARGET_FLAGS,
    ...ROLE_FLAGS,
    {name: 'clean-close', type: 'boolean', description: 'Complete the handshake and close with FIN instead of aborting with RST.'},
    ...CONVERSATION_FLAGS,
    ...OUTPUT_FLAGS,
  ],
  prepare(values: FlagValues): TcpCheckOptions {
    return {
      target: targetOptions(values),
      role: roleOptions(values),
      thresholds: thresholdOptions(values),
      cleanClose: values['clean-close'] === true,
      ...conversationOptions(values),
    };
  },
  async run(options, context) {
    const {runTcpCheck} = await runModule();
    return runTcpCheck(options, context);
  },
};
