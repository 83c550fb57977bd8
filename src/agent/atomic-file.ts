/**
 * Replaces a file whole, so that a reader sees either the old content or the new, never a part: the text goes
 * into a temporary file in the same directory (a rename is atomic only within one file system), is synced, and
 * is renamed over the old file; then the directory is synced, since the rename is durable only once its entry
 * is on disk. keepalived's FILE_CHECK files and the IPVS state file both rely on this.
 *
 * The temporary name is hidden (a leading dot) and carries our PID, so two agents never share one. It is
 * opened with O_EXCL, never through a file or symlink already there; one left by a crashed process that had
 * our PID (the PID came round again) is removed and the open tried once more, or every later write would fail.
 * Callers serialise the writes of one path (FileCheckWriter, the weight manager's queue): two at once would
 * share that temporary name.
 */
import {mkdir, open, rename, unlink} from 'node:fs/promises';
import {basename, dirname, join} from 'node:path';

export async function replaceFileAtomically(path: string, text: string, mode = 0o644): Promise<void> {
  const directory = dirname(path);
  await mkdir(directory, {recursive: true, mode: 0o755});
  const temporary = join(directory, `.${basename(path)}.${process.pid}.tmp`);
  const handle = await openExclusive(temporary, mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
  const entry = await open(directory, 'r');
  try {
    await entry.sync();
  } finally {
    await entry.close();
  }
}

async function openExclusive(path: string, mode: number) {
  try {
    return await open(path, 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    await unlink(path);
    return await open(path, 'wx', mode);
  }
}
