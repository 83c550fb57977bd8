/**
 * `vipcheck ipvs-audit`: lints this director's IPVS table (netlink, or /proc/net/ip_vs without CAP_NET_ADMIN) and
 * its net.ipv4.vs.* sysctls for configurations that silently break real traffic (judge.ts, docs/ipvs.md).
 * Declarations only; the audit is loaded lazily from ./audit.js.
 */
import {UsageError} from '../../core/errors.js';
import {AUDIT_OUTPUT_FLAGS, type FlagValues} from '../../plugin-api/flag-spec.js';
import type {CheckPlugin} from '../../plugin-api/plugin.js';
import {stringFlag} from '../../plugin-api/convert.js';
import type {IpvsAuditOptions} from './judge.js';
import {lazyModule} from '../common/lazy-module.js';

const runModule = lazyModule(() => import('./audit.js'));

export const ipvsAuditPlugin: CheckPlugin<IpvsAuditOptions> = {
  id: 'ipvs-audit',
  title: 'IPVS-AUDIT',
  summary: "Lint this director's IPVS table for configurations that silently break real traffic.",
  description:
    'Reads the IPVS table (generic netlink; /proc/net/ip_vs, read-only, without CAP_NET_ADMIN) and the net.ipv4.vs ' +
    'sysctls, and names: DR/TUN real servers on another port than the service (I1), DR real servers not on-link ' +
    '(I2), services without real servers (I3) or with every weight 0 (I4), persistent services with drained ' +
    'servers while expire_quiescent_template=0 (I5), expire_nodest_conn=0 with --on-down remove (I6), tunnel types ' +
    'the kernel cannot do (I7), and a DR VIP that is not local (I8). Each finding names the command that fixes it. ' +
    'See docs/ipvs.md.',
  examples: ['<%= config.bin %> ipvs-audit', '<%= config.bin %> ipvs-audit --on-down remove --json'],
  flags: [
    {
      name: 'on-down',
      type: 'string',
      options: ['drain', 'remove'],
      description: "What this director's checker does with a failed real server: weight 0 (drain, the default) or delete it (remove; then expire_nodest_conn=0 is a finding).",
    },
    ...AUDIT_OUTPUT_FLAGS,
  ],
  prepare(values: FlagValues): IpvsAuditOptions {
    const onDown = stringFlag(values, 'on-down') ?? 'drain';
    if (onDown !== 'drain' && onDown !== 'remove') throw new UsageError(`--on-down must be drain or remove, not ${JSON.stringify(onDown)}`);
    return {onDown};
  },
  async run(options, context) {
    const {runIpvsAudit} = await runModule();
    return runIpvsAudit(options, context);
  },
};
