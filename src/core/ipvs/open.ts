/**
 * The IpvsControl to use on this machine: netlink when the kernel lets this process use it, else (EPERM: no
 * CAP_NET_ADMIN) the read-only /proc/net/ip_vs, said in one line through `notice`.
 */
import {existsSync} from 'node:fs';
import {release} from 'node:os';
import {EnvironmentError} from '../errors.js';
import type {IpvsControl} from './model.js';
import {IPVS_NOT_LOADED, IpvsPermissionError, NetlinkIpvsControl, type NetlinkIpvsOptions} from './netlink-control.js';
import {kernelHz, PROC_IP_VS, ProcIpvsControl} from './proc.js';

export interface OpenIpvsOptions extends NetlinkIpvsOptions {
  /** Told once when the read-only fallback is used. */
  readonly notice?: (line: string) => void;
  /** Refuse the fallback (the caller must write). */
  readonly requireWrite?: boolean;
}

export async function openIpvsControl(options: OpenIpvsOptions = {}): Promise<IpvsControl> {
  try {
    return await NetlinkIpvsControl.open(options);
  } catch (error) {
    if (!(error instanceof IpvsPermissionError) || options.requireWrite) throw error;
    if (!existsSync(PROC_IP_VS)) throw new EnvironmentError(IPVS_NOT_LOADED);
    options.notice?.(`${error.message}: reading ${PROC_IP_VS} instead (read-only; no tunnel types, ports or thresholds)`);
    return new ProcIpvsControl(kernelHz(release()));
  }
}
