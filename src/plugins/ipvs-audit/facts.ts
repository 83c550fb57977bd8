/** The director's facts ipvs-audit judges: net.ipv4.vs sysctls, the kernel release, local addresses, routes. */
import {readFileSync} from 'node:fs';
import {release} from 'node:os';
import {isLocalAddress} from '../../core/neighbor/interfaces.js';
import {bestRoute, readRoutes} from '../../core/neighbor/route.js';
import type {IpAddress} from '../../core/wire/address.js';
import type {IpvsAuditFacts} from './judge.js';

function readSysctl(procRoot: string, name: string): number | undefined {
  try {
    const value = Number(readFileSync(`${procRoot}/sys/net/ipv4/vs/${name}`, 'utf8').trim());
    return Number.isInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function gatherIpvsAuditFacts(procRoot = '/proc'): IpvsAuditFacts {
  const kernelRelease = release();
  return {
    sysctl: {
      expireQuiescentTemplate: readSysctl(procRoot, 'expire_quiescent_template'),
      expireNodestConn: readSysctl(procRoot, 'expire_nodest_conn'),
    },
    kernelRelease,
    isLocalAddress: (address: IpAddress) => isLocalAddress(address),
    onLink: (address: IpAddress) => {
      const route = bestRoute(readRoutes(address.family), address);
      return route === undefined ? undefined : route.gateway === undefined;
    },
  };
}
