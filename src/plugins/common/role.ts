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

/** Reads a role file: MASTER/BACKUP in any case with surrounding whitespace, or first byte '1' = master. */
export function parseRoleFile(content: Buffer, path: string): 'master' | 'backup' {
  const text = content.toString('latin1').trim().toUpperCase();
  if (text === 'MASTER') return 'master';
  if (text === 'BACKUP') return 'backup';
  if (content.length === 0) throw new EnvironmentError(`role file ${path} is empty`);
  return content[0] === 0x31 ? 'master' : 'backup';
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
