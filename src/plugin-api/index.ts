/**
 * vipcheck's public plugin API, published as `vipcheck/plugin-api` (docs/plugins.md). Everything a check plugin
 * needs: the contract (CheckPlugin, RunContext), flags declared as data and their converters, results, states,
 * ranges and perfdata, the errors that classify a failure, and openConnector: a net.Socket-like Duplex through
 * the VIP path (or a kernel socket to RIP:port on a backup director).
 *
 * This module must stay cheap to evaluate: vipcheck hands it to every third-party plugin it loads, on the fast
 * path too. So openConnector loads the userspace TCP engine only when a check calls it.
 */
export type {CheckPlugin, RunContext} from './plugin.js';
export type {VipNetwork, FlowLink, FlowLinkRequest, NeighborRequest} from './vip-network.js';
export {TARGET_FLAGS, ROLE_FLAGS, OUTPUT_FLAGS, type FlagSpec, type FlagValue, type FlagValues} from './flag-spec.js';
export {stringFlag, ipFlag, requiredIpFlag, portFlag, macFlag, secondsFlag, rangeFlag, interfaceFlag} from './convert.js';
export {runCheck, errorResult, overdueResult, formatSeconds, DEADLINE_GRACE_MS} from './run-check.js';
export {UsageError, EnvironmentError, ServiceDownError, errorKind, ERROR_KIND, type ErrorKind} from '../core/errors.js';
export {State, stateName, worst} from '../core/result/state.js';
export {Range} from '../core/result/range.js';
export {formatPerfDatum, formatPerfdata, formatNumber, type PerfDatum, type Uom} from '../core/result/perfdata.js';
export {
  secondsPerfDatum,
  evaluateThresholds,
  type CheckResult,
  type ProbePath,
  type Thresholds,
  type VerboseLine,
} from '../core/result/check-result.js';
export {targetOptions, roleOptions, thresholdOptions, type TargetOptions} from '../plugins/common/target.js';
export type {Role, RoleOptions} from '../plugins/common/role.js';
export type {ConnectorOptions, OpenedConnector} from '../plugins/common/vip-connector.js';
export type {IpAddress, MacAddress} from '../core/wire/address.js';

/**
 * A connection factory to the service on the path the role chooses: through the VIP path (vipcheck's own TCP to
 * VIP:port at the real server's MAC) on a master director or a monitoring host, a kernel socket to RIP:port on a
 * backup. `connect()` returns a Duplex that Node's http, tls or any socket protocol code can use.
 * Everything it opens is released through the context's cleanups.
 */
export const openConnector: typeof import('../plugins/common/connection.js').openConnector = async (...args) =>
  (await import('../plugins/common/connection.js')).openConnector(...args);

/** The API object vipcheck passes to a plugin module's default export (the same bindings as this module's). */
export type PluginApi = typeof import('./index.js');

/**
 * What a plugin module exports as default: given vipcheck's own API (so the plugin shares the running
 * vipcheck's classes and loads nothing twice), it returns the check.
 */
export type CheckPluginFactory = (api: PluginApi) => import('./plugin.js').CheckPlugin<any> | Promise<import('./plugin.js').CheckPlugin<any>>;
