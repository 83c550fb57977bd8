/**
 * The ipvs-audit catalogue: configurations of the IPVS table that the kernel accepts and that silently break real
 * traffic. A pure function of the table and the director's facts, so every finding is unit-tested without a kernel.
 *
 *   I1 CRITICAL  a DR or TUN real server's port differs from the service port (the packet keeps the VIP's port)
 *   I2 CRITICAL  a DR real server is not on-link (DR rewrites only the MAC: the frame would go to a router)
 *   I3 CRITICAL  a service without real servers
 *   I4 CRITICAL  a service whose real servers all have weight 0
 *   I5 WARNING   a persistent service with weight-0 real servers while expire_quiescent_template=0
 *   I6 WARNING   expire_nodest_conn=0 while real servers are removed on failure (--on-down remove)
 *   I7 CRITICAL  a TUN real server whose tunnel type this kernel cannot do (GUE before Linux 5.2, GRE before 5.3)
 *
 * I7 judges the kernel release only: IPVS builds the GUE and GRE headers itself (ip_vs.ko depends on nf_conntrack,
 * libcrc32c and nf_defrag_ipv6 only, modinfo of Debian's 6.1), so the director needs no fou or ip_gre; those
 * decapsulate on the real server.
 *   I8 CRITICAL  the VIP of a DR service is not a local address of this director
 */
import {State, stateName, worst} from '../../core/result/state.js';
import {describeServiceKey, type IpvsDestination, type IpvsServiceEntry, type IpvsServiceKey, type IpvsTable} from '../../core/ipvs/model.js';
import {formatHostPort, type IpAddress} from '../../core/wire/address.js';

export const IPVS_FINDING_IDS = ['I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7', 'I8'] as const;
export type IpvsFindingId = (typeof IPVS_FINDING_IDS)[number];
const WARNINGS: ReadonlySet<IpvsFindingId> = new Set<IpvsFindingId>(['I5', 'I6']);

export interface IpvsFinding {
  readonly id: IpvsFindingId;
  readonly severity: State.Critical | State.Warning;
  readonly message: string;
  /** The offending entry as ipvsadm names it: `TCP 198.51.100.100:80 -> 198.51.100.11:10`, or a sysctl. */
  readonly entry: string;
  /** The command that fixes it, on the director. */
  readonly fix: string;
}

export interface IpvsAuditFacts {
  /** net.ipv4.vs.* values; undefined when unreadable. */
  readonly sysctl: {readonly expireQuiescentTemplate: number | undefined; readonly expireNodestConn: number | undefined};
  /** `6.1.0-57-amd64` */
  readonly kernelRelease: string;
  isLocalAddress(address: IpAddress): boolean;
  /** The main table's route to it has no gateway; undefined when no route. */
  onLink(address: IpAddress): boolean | undefined;
}

export interface IpvsAuditOptions {
  /** What the operator's checker does to a failed real server: weight 0 (drain) or delete it (remove). */
  readonly onDown: 'drain' | 'remove';
}

/** What `ipvsadm` takes to name a service: `-t 198.51.100.100:80`, `-f 7 -6`. */
export function ipvsadmService(key: IpvsServiceKey): string {
  if (key.kind === 'fwmark') return `-f ${key.fwmark}${key.family === 6 ? ' -6' : ''}`;
  const flag = key.protocol === 'tcp' ? '-t' : key.protocol === 'udp' ? '-u' : '--sctp-service';
  return `${flag} ${formatHostPort(key.address, key.port)}`;
}


const FORWARDING_FLAG: Readonly<Record<IpvsDestination['forwarding'], string>> = {dr: '-g', tun: '-i', nat: '-m', local: '-g', bypass: '-g'};

/** `-r RIP:PORT -g -w 3 --tun-type gue --tun-port 6080`: the real server as ipvsadm adds it, with these overrides. */
function ipvsadmDestination(d: IpvsDestination, override: {port?: number; weight?: number} = {}): string {
  const tunnel = d.forwarding === 'tun' ? ` --tun-type ${d.tunnelType}${d.tunnelType === 'gue' ? ` --tun-port ${d.tunnelPort}` : ''}` : '';
  const thresholds = `${d.upperThreshold ? ` -x ${d.upperThreshold}` : ''}${d.lowerThreshold ? ` -y ${d.lowerThreshold}` : ''}`;
  return `-r ${formatHostPort(d.address, override.port ?? d.port)} ${FORWARDING_FLAG[d.forwarding]} -w ${override.weight ?? d.weight}${thresholds}${tunnel}`;
}

/** Linux release `a.b` at least `major.minor`. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return true; // unknown form: do not accuse the kernel
  const [a, b] = [Number(match[1]), Number(match[2])];
  return a > major || (a === major && b >= minor);
}

/** The first release that encapsulates each type (tunnel types came with 5.2: GUE; GRE followed in 5.3). */
const TUNNEL_SINCE = {gue: {major: 5, minor: 2}, gre: {major: 5, minor: 3}} as const;

export function auditIpvsTable(table: IpvsTable, facts: IpvsAuditFacts, options: IpvsAuditOptions): IpvsFinding[] {
  const findings: IpvsFinding[] = [];
  const add = (id: IpvsFindingId, message: string, entry: string, fix: string): void => {
    findings.push({id, severity: WARNINGS.has(id) ? State.Warning : State.Critical, message, entry, fix});
  };
  for (const entry of table.services) auditService(entry, facts, add);
  if (options.onDown === 'remove' && facts.sysctl.expireNodestConn === 0 && table.services.length > 0) {
    add(
      'I6',
      'net.ipv4.vs.expire_nodest_conn=0 while real servers are removed on failure: connections to a removed server hang until they time out',
      'net.ipv4.vs.expire_nodest_conn=0',
      'sysctl -w net.ipv4.vs.expire_nodest_conn=1',
    );
  }
  return sortIpvsFindings(findings);
}

type Add = (id: IpvsFindingId, message: string, entry: string, fix: string) => void;

function auditService({service, destinations}: IpvsServiceEntry, facts: IpvsAuditFacts, add: Add): void {
  const key = service.key;
  const name = describeServiceKey(key);
  const svc = ipvsadmService(key);
  if (destinations.length === 0) {
    add('I3', `${name} has no real servers: every connection to it is refused or dropped`, name, `ipvsadm -a ${svc} -r RIP -g -w 1   (or remove it: ipvsadm -D ${svc})`);
  } else if (destinations.every((d) => d.weight === 0)) {
    const first = destinations[0]!;
    add('I4', `${name}: all ${destinations.length} real servers have weight 0, so no new connection is scheduled`, name, `ipvsadm -e ${svc} ${ipvsadmDestination(first, {weight: 1})}`);
  }
  const persistent = (service.flags & 0x1) !== 0;
  const quiescent = destinations.filter((d) => d.weight === 0);
  if (persistent && quiescent.length > 0 && facts.sysctl.expireQuiescentTemplate === 0) {
    add(
      'I5',
      `${name} is persistent (${service.timeout} s) and ${quiescent.map((d) => formatHostPort(d.address, d.port)).join(', ')} has weight 0 while net.ipv4.vs.expire_quiescent_template=0: clients stay stuck to the drained server`,
      `${name} -> ${formatHostPort(quiescent[0]!.address, quiescent[0]!.port)}`,
      'sysctl -w net.ipv4.vs.expire_quiescent_template=1',
    );
  }
  for (const d of destinations) {
    const entry = `${name} -> ${formatHostPort(d.address, d.port)}`;
    const directOrTunnel = d.forwarding === 'dr' || d.forwarding === 'tun';
    // A port-0 service (all ports, or an fwmark one) forwards every port unchanged: nothing to compare.
    if (directOrTunnel && key.kind === 'address' && key.port !== 0 && d.port !== key.port) {
      const kind = d.forwarding === 'dr' ? 'DR' : 'TUN';
      add('I1', `${entry}: ${kind} cannot change the port, packets reach the real server on port ${key.port}, not ${d.port}`, entry, `ipvsadm -d ${svc} -r ${formatHostPort(d.address, d.port)} && ipvsadm -a ${svc} ${ipvsadmDestination(d, {port: key.port})}`);
    }
    if (d.forwarding === 'dr' && facts.onLink(d.address) !== true) {
      const why = facts.onLink(d.address) === undefined ? 'there is no route to it' : 'the route to it goes through a gateway';
      add('I2', `${entry}: a DR real server must be on a directly connected network, and ${why}`, entry, `ip address add <an address in ${d.address}'s subnet> dev <the interface on its segment>   (or tunnel: ipvsadm -e ${svc} ${ipvsadmDestination({...d, forwarding: 'tun'})})`);
    }
    if (d.forwarding === 'tun' && d.tunnelType !== 'ipip') {
      const since = TUNNEL_SINCE[d.tunnelType];
      if (!kernelAtLeast(facts.kernelRelease, since.major, since.minor)) {
        add(
          'I7',
          `${entry}: tunnel type ${d.tunnelType.toUpperCase()} needs Linux ${since.major}.${since.minor} or later (this is ${facts.kernelRelease})`,
          entry,
          `ipvsadm -e ${svc} ${ipvsadmDestination({...d, tunnelType: 'ipip'})}`,
        );
      }
    }
  }
  if (key.kind === 'address' && destinations.some((d) => d.forwarding === 'dr') && !facts.isLocalAddress(key.address)) {
    add('I8', `${name}: the VIP ${key.address} is not a local address of this director, so it never receives the clients' packets`, name, `ip address add ${key.address}/${key.address.family === 4 ? 32 : 128} dev <the interface on the clients' segment>`);
  }
}

/** Most severe first, then in catalogue order. */
export function sortIpvsFindings(findings: readonly IpvsFinding[]): IpvsFinding[] {
  const rank = (f: IpvsFinding): number => (f.severity === State.Critical ? 0 : 100) + IPVS_FINDING_IDS.indexOf(f.id);
  return [...findings].sort((a, b) => rank(a) - rank(b));
}

export function ipvsFindingsState(findings: readonly IpvsFinding[]): State {
  return worst(...findings.map((f) => f.severity));
}

export function ipvsFindingLine(f: IpvsFinding): string {
  return `${f.id} ${stateName(f.severity)}: ${f.message}; fix: ${f.fix}`;
}
