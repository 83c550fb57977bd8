/**
 * Flags are declared once, as data. The same declarations drive the fast-path parser (util.parseArgs, used for
 * every check run because each check is a new process and oclif costs ~100 ms to load) and the oclif command
 * classes (help text, manifest, `vipcheck help`). So both entry points accept exactly the same arguments.
 */
export interface FlagSpec {
  readonly name: string;
  readonly char?: string;
  /** `count` is a repeatable boolean whose value is how often it was given (`-vvv` = 3). */
  readonly type: 'string' | 'boolean' | 'count';
  readonly multiple?: boolean;
  readonly description: string;
  readonly helpValue?: string;
  readonly options?: readonly string[];
  readonly default?: string;
  readonly required?: boolean;
}

/** Where the check goes: the VIP through a real server (all VIP-path checks). */
export const TARGET_FLAGS: readonly FlagSpec[] = [
  {name: 'vip', type: 'string', required: true, helpValue: 'ADDRESS', description: 'Virtual IP address of the service (IPv4 or IPv6).'},
  {name: 'rs', char: 'H', type: 'string', required: true, helpValue: 'ADDRESS', description: "Real server's own address (RIP); its MAC is resolved on the egress interface."},
  {name: 'port', char: 'p', type: 'string', required: true, helpValue: 'PORT', description: 'Service port (in DR the real server port always equals the virtual port).'},
  {name: 'interface', char: 'I', type: 'string', helpValue: 'IFACE', description: 'Egress interface (default: from the routing table towards the real server).'},
  {name: 'source', type: 'string', helpValue: 'ADDRESS', description: 'Source address of the probe (default: our address on the real server subnet).'},
  {name: 'mac', type: 'string', helpValue: 'MAC', description: "Real server's MAC address; skips ARP resolution."},
];

/** Which path to take: master directors use the VIP path, backups a kernel connect to RIP:port. */
export const ROLE_FLAGS: readonly FlagSpec[] = [
  {name: 'role-file', type: 'string', helpValue: 'PATH', description: "File holding this director's role: MASTER/BACKUP (any case) or the old checkers' single digit, 1 = master; anything else is UNKNOWN."},
  {name: 'role', type: 'string', options: ['master', 'backup', 'auto'], description: 'master: VIP path; backup: kernel connect to RIP:port; auto: master when the VIP is local here.'},
];

/** Output contract shared by every check (monitoring.md). */
export const OUTPUT_FLAGS: readonly FlagSpec[] = [
  {name: 'timeout', char: 't', type: 'string', default: '8', helpValue: 'SECONDS', description: 'Deadline for the whole check in seconds, process start included (decimals allowed); the default fits inside the 10 s of check_nrpe.'},
  {name: 'warning', char: 'w', type: 'string', helpValue: 'RANGE', description: 'Warning threshold on response time in seconds, Nagios range syntax [@][start:][end].'},
  {name: 'critical', char: 'c', type: 'string', helpValue: 'RANGE', description: 'Critical threshold on response time in seconds, Nagios range syntax.'},
  {name: 'exit-codes', type: 'string', options: ['nagios', 'keepalived'], default: 'nagios', description: 'nagios: 0-3; keepalived: OK/WARNING exit 0, else 1 (never use nagios codes with misc_dynamic).'},
  {name: 'json', type: 'boolean', description: 'Print the result as JSON.'},
  {name: 'verbose', char: 'v', type: 'count', description: 'More output; repeat: -v detail, -vv configuration, -vvv packet trace.'},
];

/** An audit's state comes from its findings, not from a response time: the output flags without -w/-c. */
export const AUDIT_OUTPUT_FLAGS: readonly FlagSpec[] = OUTPUT_FLAGS.filter((f) => f.name !== 'warning' && f.name !== 'critical');

export type FlagValue = string | boolean | number | string[] | undefined;
export type FlagValues = Readonly<Record<string, FlagValue>>;
