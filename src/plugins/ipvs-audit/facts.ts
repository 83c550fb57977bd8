/** The director's facts ipvs-audit judges: net.ipv4.vs sysctls, the kernel release, local addresses, routes. */
import {readFileSync} from 'node:fs';
import {release} from 'node:os';
import {isLocalAddress} from '../../core/neighbor/interfaces.js';
import {bestRoute, readRoutes, type RouteEntry} from '../../core/neighbor/route.js';
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
  const routes = new Map<4 | 6, RouteEntry[]>();
  const routesOf = (family: 4 | 6): RouteEntry[] => {
    let list = routes.get(family);
    if (list === undefined) routes.set(family, (list = readRoutes(family)));
    return list;
  };
  return {
    sysctl: {
      expireQuiescentTemplate: readSysctl(procRoot, 'expire_quiescent_template'),
      expireNodestConn: readSysctl(procRoot, 'expire_nodest_conn'),
    },
    kernelRelease,
    isLocalAddress: (address: IpAddress) => isLocalAddress(address),
    onLink: (address: IpAddress) => {
      const route = bestRoute(routesOf(address.family), address);
      return route === undefined ? undefined : route.gateway === undefined;
    },
  };
}
