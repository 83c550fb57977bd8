/**
 * `vipcheck http`: check_curl-grade HTTP checks through the LVS-DR path: status, body string/regex, headers,
 * MD5 digest, size, certificate expiry and phase timings, over a userspace TCP conversation with VIP:port at the
 * real server MAC (HTTPS with --tls). Node's own HTTP and TLS do the protocol work.
 */
import {OUTPUT_FLAGS, ROLE_FLAGS, TARGET_FLAGS, type FlagValues} from '../../plugin-api/flag-spec.js';
import type {CheckPlugin} from '../../plugin-api/plugin.js';
import {CONTENT_FLAGS, REQUEST_FLAGS, TLS_FLAGS} from './flags.js';
import {httpCheckOptions, type HttpCheckOptions} from './options.js';
import {lazyModule} from '../common/lazy-module.js';

const runModule = lazyModule(() => import('./run.js'));

export const httpPlugin: CheckPlugin<HttpCheckOptions> = {
  id: 'http',
  title: 'HTTP',
  summary: 'Check an HTTP(S) service on a real server through the LVS-DR path: status, content, headers, timings.',
  description:
    'Holds a TCP conversation with VIP:port through the real server MAC (userspace TCP over hand-built frames) and ' +
    "runs one request with Node's own HTTP client (HTTPS with --tls). Without --status: 2xx and 3xx OK, 4xx " +
    'WARNING, 5xx CRITICAL. Content, header, digest and size expectations each add a finding; the worst decides.',
  examples: [
    '<%= config.bin %> http --vip 198.51.100.100 --rs 198.51.100.11 --port 80 -u /health -s ok',
    '<%= config.bin %> http --vip 198.51.100.100 -H 198.51.100.11 -p 443 -S --host www.example.com --cert-days 21,7 -E',
    "<%= config.bin %> http --vip 198.51.100.100 -H 198.51.100.11 -p 80 --header-match 'content-type: ^text/html' -w 0.2 -c 1",
  ],
  flags: [...TARGET_FLAGS, ...ROLE_FLAGS, ...REQUEST_FLAGS, ...TLS_FLAGS, ...CONTENT_FLAGS, ...OUTPUT_FLAGS],
  prepare(values: FlagValues): HttpCheckOptions {
    return httpCheckOptions(values, true);
  },
  async run(options, context) {
    const {runHttpCheck} = await runModule();
    return runHttpCheck(options, context, 'HTTP');
  },
};
