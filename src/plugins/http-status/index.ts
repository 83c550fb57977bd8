/**
 * `vipcheck http-status`: the cheapest HTTP health check through the VIP path (lvscare's semantics): request a
 * path, read the status line and headers, close. OK when the status is accepted (default 200-399).
 */
import {OUTPUT_FLAGS, ROLE_FLAGS, TARGET_FLAGS, type FlagValues} from '../../plugin-api/flag-spec.js';
import type {CheckPlugin} from '../../plugin-api/plugin.js';
import {REQUEST_FLAGS, TLS_FLAGS} from '../http/flags.js';
import {httpCheckOptions, type HttpCheckOptions} from '../http/options.js';
import {lazyModule} from '../common/lazy-module.js';

const runModule = lazyModule(() => import('../http/run.js'));

export const httpStatusPlugin: CheckPlugin<HttpCheckOptions> = {
  id: 'http-status',
  title: 'HTTP-STATUS',
  summary: 'Check the HTTP status a real server returns for a request through the LVS-DR path.',
  description:
    'Holds a TCP conversation with VIP:port through the real server MAC (userspace TCP over hand-built frames), ' +
    "sends one request with Node's own HTTP client (HTTPS with --tls), and judges the status line: OK when it is " +
    'in --status (default 200-399), CRITICAL otherwise or when the server does not answer.',
  examples: [
    '<%= config.bin %> http-status --vip 198.51.100.100 --rs 198.51.100.11 --port 80 --path /healthz',
    '<%= config.bin %> http-status --vip 198.51.100.100 -H 198.51.100.11 -p 443 --tls --host www.example.com --status 200,204',
  ],
  flags: [
    ...TARGET_FLAGS,
    ...ROLE_FLAGS,
    ...REQUEST_FLAGS.map((f) => (f.name === 'method' ? {...f, options: ['GET', 'HEAD'], description: 'GET or HEAD.'} : f)),
    {name: 'status', char: 'e', type: 'string', default: '200-399', helpValue: 'LIST', description: 'Accepted status codes and ranges, e.g. 200-299,301.'},
    ...TLS_FLAGS,
    ...OUTPUT_FLAGS,
  ],
  prepare(values: FlagValues): HttpCheckOptions {
    return httpCheckOptions(values, false, ['GET', 'HEAD']);
  },
  async run(options, context) {
    const {runHttpCheck} = await runModule();
    return runHttpCheck(options, context, 'HTTP-STATUS');
  },
};
