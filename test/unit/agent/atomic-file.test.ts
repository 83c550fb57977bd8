/**
 * replaceFileAtomically (src/agent/atomic-file.ts), shared by keepalived's FILE_CHECK files and the IPVS state
 * file: it creates the directory, replaces the content whole, leaves no temporary file behind, and still writes
 * when a crashed process with our PID left its temporary file (or a symlink) under the same name. A failed
 * rename removes the temporary file and reports the error.
 */
import assert from 'node:assert/strict';
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {replaceFileAtomically} from '../../../src/agent/atomic-file.js';

describe('replaceFileAtomically', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vipcheck-atomic-'))));
  afterEach(() => rmSync(dir, {recursive: true, force: true}));

  it('creates the directory, replaces the content whole and leaves only the file', async () => {
    const path = join(dir, 'deep', 'web.state');
    await replaceFileAtomically(path, '1\n');
    assert.equal(readFileSync(path, 'utf8'), '1\n');
    await replaceFileAtomically(path, '0\n');
    assert.equal(readFileSync(path, 'utf8'), '0\n');
    assert.deepEqual(readdirSync(join(dir, 'deep')), ['web.state']);
  });

  it('writes past a temporary file a crashed process with our PID left, and past a symlink there', async () => {
    const path = join(dir, 'web.state');
    const temporary = join(dir, `.web.state.${process.pid}.tmp`);
    writeFileSync(temporary, 'stale');
    await replaceFileAtomically(path, '0\n');
    assert.equal(readFileSync(path, 'utf8'), '0\n');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    symlinkSync(victim, temporary);
    await replaceFileAtomically(path, '1\n');
    assert.equal(readFileSync(path, 'utf8'), '1\n');
    assert.equal(readFileSync(victim, 'utf8'), 'keep', 'the symlink was not followed');
    assert.deepEqual(readdirSync(dir).sort(), ['victim', 'web.state']);
  });

  it('removes its temporary file when the rename fails, and reports the error', async () => {
    const path = join(dir, 'occupied');
    mkdirSync(join(path, 'child'), {recursive: true}); // a non-empty directory cannot be renamed over
    await assert.rejects(replaceFileAtomically(path, '0\n'), /EISDIR|ENOTEMPTY|EEXIST/);
    assert.deepEqual(readdirSync(dir), ['occupied']);
  });
});
