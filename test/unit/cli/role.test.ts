import assert from 'node:assert/strict';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {decidePath, parseRoleFile} from '../../../src/plugins/common/role.js';
import {EnvironmentError} from '../../../src/core/errors.js';
import {IpAddress} from '../../../src/core/wire/address.js';

const vip = IpAddress.parse('198.51.100.100')!;

describe('role file and path decision', () => {
  it('reads MASTER/BACKUP in any case with whitespace, and the old checkers\' single digit', () => {
    const cases: Array<[string, 'master' | 'backup']> = [
      ['MASTER', 'master'],
      ['  master\n', 'master'],
      ['Backup\n', 'backup'],
      ['1', 'master'],
      ['1\n', 'master'],
      [' 1 \n', 'master'],
      ['0', 'backup'],
      ['0\n', 'backup'],
      // The old rule (first byte 1 = master, anything else = backup) survives for single digits only.
      ['2', 'backup'],
    ];
    for (const [text, role] of cases) assert.equal(parseRoleFile(Buffer.from(text), 'f'), role, JSON.stringify(text));
  });

  it('is UNKNOWN for content that is neither role in either syntax, naming the file and quoting the content', () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('FAULT\n'), /^role file \/run\/lvs\/role holds 'FAULT', expected MASTER, BACKUP or the old checkers' single digit/],
      // Formerly master by its first byte.
      [Buffer.from('10'), /holds '10',/],
      [Buffer.from('1 master'), /holds '1 master',/],
      [Buffer.from('MASTERBACKUP'), /holds 'MASTERBACKUP',/],
      [Buffer.from('mast'), /holds 'mast',/],
      [Buffer.from([0xef, 0xbb, 0xbf, 0x4d, 0x41, 0x53, 0x54, 0x45, 0x52]), /holds '\\xef\\xbb\\xbfMASTER',/],
      [Buffer.from('back\x00up\r\nx'), /holds 'back\\x00up\\x0d\\x0ax',/],
      [Buffer.from('x'.repeat(500)), /holds 'x{40}' \(first 40 of 500 characters\),/],
    ];
    for (const [content, pattern] of cases) {
      assert.throws(
        () => parseRoleFile(content, '/run/lvs/role'),
        (e: unknown) => e instanceof EnvironmentError && pattern.test(e.message) && !/[\r\n]/.test(e.message),
        JSON.stringify(content.toString('latin1')),
      );
    }
  });

  it('treats an empty or unreadable role file as UNKNOWN with the reason', () => {
    assert.throws(() => parseRoleFile(Buffer.alloc(0), '/run/role'), (e: unknown) => e instanceof EnvironmentError && /is empty$/.test(e.message));
    assert.throws(() => parseRoleFile(Buffer.from(' \n'), '/run/role'), (e: unknown) => e instanceof EnvironmentError && /is empty \(only whitespace\)/.test(e.message));
    assert.throws(
      () => decidePath({roleFile: '/nonexistent/vipcheck-role'}, vip, () => true),
      (e: unknown) => e instanceof EnvironmentError && /ENOENT/.test(e.message),
    );
  });

  it('chooses the path from the file, the flag or the VIP being local', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipcheck-role-'));
    const file = join(dir, 'role');
    try {
      writeFileSync(file, 'BACKUP\n');
      assert.equal(decidePath({roleFile: file}, vip, () => true).path, 'rip');
      writeFileSync(file, 'MASTER');
      assert.equal(decidePath({roleFile: file}, vip, () => false).path, 'vip');
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
    assert.equal(decidePath({role: 'backup'}, vip, () => true).path, 'rip');
    assert.equal(decidePath({role: 'auto'}, vip, () => true).path, 'vip');
    assert.equal(decidePath({role: 'auto'}, vip, () => false).path, 'rip');
    assert.equal(decidePath({}, vip, () => false).path, 'vip');
  });
});
