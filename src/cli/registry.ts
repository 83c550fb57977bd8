/**
 * Check plugins by command name, loaded lazily so a run imports only its own check. bin/run.cjs uses this to
 * run checks without loading oclif; the oclif command classes wrap the same plugins.
 */
import type {CheckPlugin} from '../plugin-api/plugin.js';

export const checkPlugins: Readonly<Record<string, () => Promise<CheckPlugin<any>>>> = {
  tcp: async () => (await import('../plugins/tcp/index.js')).tcpPlugin,
  'arp-audit': async () => (await import('../plugins/arp-audit/index.js')).arpAuditPlugin,
  'ipvs-audit': async () => (await import('../plugins/ipvs-audit/index.js')).ipvsAuditPlugin,
  http: async () => (await import('../plugins/http/index.js')).httpPlugin,
  'http-status': async () => (await import('../plugins/http-status/index.js')).httpStatusPlugin,
  udp: async () => (await import('../plugins/udp/index.js')).udpPlugin,
  dns: async () => (await import('../plugins/dns/index.js')).dnsPlugin,
};

/** Arguments that belong to oclif (help, version), not to a check run. */
export function wantsOclif(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--help' || a === '-h' || a === '--version');
}
