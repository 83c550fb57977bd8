/**
 * Which path a check takes. A master director (VIP local) checks through the VIP path; a backup director has no
 * VIP, so the real server's SYN-ACK reaches its kernel, which answers RST and would kill a userspace
 * conversation: backups fall back to an ordinary kernel connect to RIP:port (the original checkers' choice 3,
 * lvs-dr.md). Without a role the VIP path is used: a monitoring host on the segment is a valid vantage point.
 */
import {readFileSync} from 'node:fs';
import {EnvironmentError, UsageError} from '../../core/errors.js';
import type {ProbePath} from '../../core/result/check-result.js';
import type {IpAddress} from '../../core/wire/address.js';

export type Role = 'master' | 'backup' | 'auto';

export interface RoleOptions {
  readonly role?: Role;
  readonly roleFile?: string;
}

export interface PathDecision {
  readonly path: ProbePath;
  /** Why this path, for the output ("role file /run/lvs.role says BACKUP"). */
  readonly reason: string;
}

/** How much of an unusable role file the UNKNOWN line quotes: enough to recognise it, little enough to stay one line. */
const MAX_QUOTED_CHARS = 40;

/**
 * Reads a role file: MASTER or BACKUP in any case with surrounding whitespace, or the old checkers' digit, whose
 * rule was "first byte 1 = master, anything else = backup"; that rule now applies only when the whole content
 * (whitespace aside) is one digit. Anything else (FAULT, 10, a truncated write, binary junk) is UNKNOWN: taking
 * garbage for "backup" would silently swap the VIP-path test for a RIP check that cannot see a missing VIP.
 */
export function parseRoleFile(content: Buffer, path: string): 'master' | 'backup' {
  const text = content.toString('latin1').trim();
  const word = text.toUpperCase();
  if (word === 'MASTER') return 'master';
  if (word === 'BACKUP') return 'backup';
  if (/^[0-9]$/.test(text)) return text === '1' ? 'master' : 'backup';
  if (text === '') throw new EnvironmentError(`role file ${path} is empty${content.length > 0 ? ' (only whitespace)' : ''}`);
  throw new EnvironmentError(`role file ${path} holds ${quoteContent(text)}, expected MASTER, BACKUP or the old checkers' single digit (1 = master, 0 = backup)`);
}

/** The content as one printable line: control and non-ASCII bytes as \xNN, cut after MAX_QUOTED_CHARS. */
function quoteContent(text: string): string {
  const cut = text.length > MAX_QUOTED_CHARS;
  const printable = text
    .slice(0, MAX_QUOTED_CHARS)
    .replace(/[^\x20-\x7e]|\\/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `'${printable}'${cut ? ` (first ${MAX_QUOTED_CHARS} of ${text.length} characters)` : ''}`;
}

export function readRoleFile(path: string): 'master' | 'backup' {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new EnvironmentError(`cannot read role file ${path}: ${code}`);
  }
  return parseRoleFile(content, path);
}

export function validateRoleOptions(role: string | undefined, roleFile: string | undefined): RoleOptions {
  if (role !== undefined && roleFile !== undefined) throw new UsageError('give either --role or --role-file, not both');
  return {
    ...(role === undefined ? {} : {role: role as Role}),
    ...(roleFile === undefined ? {} : {roleFile}),
  };
}

export function decidePath(options: RoleOptions, vip: IpAddress, vipIsLocal: (ip: IpAddress) => boolean): PathDecision {
  if (options.roleFile !== undefined) {
    const role = readRoleFile(options.roleFile);
    return {
      path: role === 'master' ? 'vip' : 'rip',
      reason: `role file ${options.roleFile} says ${role}`,
    };
  }
  switch (options.role) {
    case 'master':
      return {path: 'vip', reason: 'role master'};
    case 'backup':
      return {path: 'rip', reason: 'role backup'};
    case 'auto':
      return vipIsLocal(vip)
        ? {path: 'vip', reason: `role auto: ${vip} is local (master)`}
        : {path: 'rip', reason: `role auto: ${vip} is not local (backup)`};
    default:
      return {path: 'vip', reason: 'no role given'};
  }
}
