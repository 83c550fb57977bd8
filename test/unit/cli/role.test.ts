import assert from 'node:assert/strict';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {decidePath, parseRoleFile} from '../../../src/plugins/common/role.js';
import {EnvironmentError} from '../../../src/core/errors.js';
import {IpAddress} from '../../../src/core/wire/address.js';

const vip = IpAddress.parse('198.51.100.100')!;

describe('role file and path decision', () => {
  it('reads MASTER/BACKUP in any case with whitespace, and the old checkers\' first byte', () => {
    const cases: Array<[string, 'master' | 'backup']> = [
      ['MASTER', 'master'],
      ['  master\n', 'master'],
      ['Backup\n', 'backup'],
      ['1', 'master'],
      ['1\n', 'master'],
      ['0', 'backup'],
      ['FAULT', 'backup'],
      ['10', 'master'],
    ];
    for (const [text, role] of cases) assert.equal(parseRoleFile(Buffer.from(text), 'f'), role, JSON.stringify(text));
  });

  it('treats an empty or unreadable role file as UNKNOWN with the reason', () => {
    assert.throws(() => parseRoleFile(Buffer.alloc(0), '/run/role'), (e: unknown) => e instanceof EnvironmentError && /empty/.test(e.message));
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
