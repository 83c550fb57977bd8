// A real IPVS director for the VM lab (the host kernel has no ip_vs): keepalived's configuration for one DR
// virtual service, the command line that keeps keepalived in the foreground, and a parser of `ipvsadm -Ln` to
// see what keepalived did to the kernel's table.

export interface IpvsRealServer {
  address: string;
  port: number;
  /** Route (DR), Tunnel, Masq, Local. */
  forward: string;
  weight: number;
  activeConn: number;
  inactiveConn: number;
}

export interface IpvsService {
  protocol: 'TCP' | 'UDP' | 'SCTP' | 'FWM';
  address: string;
  port: number;
  scheduler: string;
  realServers: IpvsRealServer[];
}

/** Splits "198.51.100.100:80" or "[2001:db8::1]:80" into address and port. */
function splitHostPort(text: string): { address: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m?.[1] || !m[2]) throw new Error(`ipvsadm: not an address:port: ${JSON.stringify(text)}`);
  return { address: m[1], port: Number(m[2]) };
}

/** Parses `ipvsadm -L -n` (numeric) output. Headers are skipped; an unexpected line is an error, not ignored. */
export function parseIpvsadmList(output: string): IpvsService[] {
  const services: IpvsService[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('IP Virtual Server') || line.startsWith('Prot ') || line.startsWith('-> RemoteAddress')) continue;
    const rs = /^-> (\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (rs) {
      const service = services.at(-1);
      if (!service) throw new Error(`ipvsadm: real server before any service: ${JSON.stringify(line)}`);
      service.realServers.push({
        ...splitHostPort(rs[1] ?? ''),
        forward: rs[2] ?? '',
        weight: Number(rs[3]),
        activeConn: Number(rs[4]),
        inactiveConn: Number(rs[5]),
      });
      continue;
    }
    const vs = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)/.exec(line);
    if (vs) {
      services.push({ protocol: vs[1] as IpvsService['protocol'], ...splitHostPort(vs[2] ?? ''), scheduler: vs[3] ?? '', realServers: [] });
      continue;
    }
    throw new Error(`ipvsadm: unexpected line ${JSON.stringify(line)}`);
  }
  return services;
}

export type KeepalivedCheck =
  /** keepalived's own connect() to RIP:port: what does not see a missing VIP. */
  | { kind: 'TCP_CHECK'; connectTimeoutS: number; retry: number; delayBeforeRetryS: number }
  /** A program per real server; exit 0 = up, 1 = down (without misc_dynamic). */
  | { kind: 'MISC_CHECK'; command: (realServer: string) => string; timeoutS: number }
  /**
   * A file per real server, written by someone else (`vipcheck agent`'s file-check): a top-level track_file with
   * weight 0 (content 0 = up, anything else = down) and a FILE_CHECK on it. keepalived re-reads the file on
   * inotify of its directory, which must exist when keepalived starts; initFile (default 1, down) is what
   * keepalived writes when the file is missing then, and it never overwrites an existing one.
   */
  | { kind: 'FILE_CHECK'; file: (realServer: string) => string; initFile?: number };

/** The track_file name keepalived.conf uses for a real server's FILE_CHECK file. */
export function trackFileName(realServer: string): string {
  return `vipcheck_${realServer.replace(/[^0-9A-Za-z]/g, '_')}`;
}

export interface KeepalivedVirtualServer {
  vip: string;
  port: number;
  realServers: readonly string[];
  check: KeepalivedCheck;
  /** Seconds between checks of one real server. */
  delayLoopS: number;
  /** keepalived's alpha mode: every real server starts down and joins the table only after a passing check. */
  alpha?: boolean;
  lbAlgo?: 'rr' | 'wrr';
}

/** keepalived.conf for one DR virtual service and no VRRP (run with --check only). */
export function keepalivedConfig(vs: KeepalivedVirtualServer): string {
  const checkBlock = (rs: string): string[] => {
    const c = vs.check;
    if (c.kind === 'TCP_CHECK') {
      return ['TCP_CHECK {', `    connect_timeout ${c.connectTimeoutS}`, `    retry ${c.retry}`, `    delay_before_retry ${c.delayBeforeRetryS}`, '}'];
    }
    if (c.kind === 'FILE_CHECK') return ['FILE_CHECK {', `    track_file ${trackFileName(rs)}`, '}'];
    const command = c.command(rs);
    // keepalived's parser has no escape for a double quote inside a quoted string.
    if (command.includes('"') || command.includes('\n')) throw new Error(`MISC_CHECK command must not contain a double quote or newline: ${command}`);
    return ['MISC_CHECK {', `    misc_path "${command}"`, `    misc_timeout ${c.timeoutS}`, '}'];
  };
  const check = vs.check;
  const lines =
    check.kind === 'FILE_CHECK'
      ? // No program runs: no script security. A track_file must be declared before a FILE_CHECK names it.
        vs.realServers.flatMap((rs) => {
          const file = check.file(rs);
          if (!file.startsWith('/') || /["\s]/.test(file)) throw new Error(`FILE_CHECK file must be an absolute path without quotes or spaces: ${file}`);
          const init = check.initFile ?? 1;
          if (!Number.isInteger(init)) throw new Error(`FILE_CHECK initFile must be an integer, got ${init}`);
          return [`track_file ${trackFileName(rs)} {`, `    file "${file}"`, '    weight 0', `    init_file ${init}`, '}', ''];
        })
      : [
          'global_defs {',
          // MISC_CHECK programs run as root only with script security on and an explicit script_user.
          '    enable_script_security',
          '    script_user root',
          '}',
          '',
        ];
  lines.push(
    `virtual_server ${vs.vip} ${vs.port} {`,
    `    delay_loop ${vs.delayLoopS}`,
    `    lb_algo ${vs.lbAlgo ?? 'rr'}`,
    '    lb_kind DR',
    '    protocol TCP',
    // The first check of each real server at once, not after a random delay of up to delay_loop: the lab
    // measures how long keepalived takes to react, and a random start would only add noise.
    '    warmup 0',
    ...(vs.alpha ? ['    alpha'] : []),
  );
  for (const rs of vs.realServers) {
    lines.push(`    real_server ${rs} ${vs.port} {`, '        weight 1', ...checkBlock(rs).map((l) => `        ${l}`), '    }');
  }
  lines.push('}', '');
  return lines.join('\n');
}

/**
 * keepalived in the foreground, health checkers only (no VRRP, no BFD), logging to stderr, with its pid files
 * in runDir. It does not respawn a crashed checker process: the lab wants to see that, not hide it.
 */
export function keepalivedArgv(configPath: string, runDir: string): string[] {
  return [
    'keepalived',
    '--dont-fork',
    '--check',
    '--log-console',
    '--log-detail',
    '--no-syslog',
    '--dont-respawn',
    `--use-file=${configPath}`,
    `--pid=${runDir}/keepalived.pid`,
    `--checkers_pid=${runDir}/checkers.pid`,
    `--vrrp_pid=${runDir}/vrrp.pid`,
    `--bfd_pid=${runDir}/bfd.pid`,
  ];
}
