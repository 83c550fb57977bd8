// The guest's initramfs: busybox-static, the modules needed to mount the host root over virtio-9p, and the init
// script (guest-init.ts). Built once with cpio and cached under <cache>/initramfs/, keyed by a hash of every
// input (init script, busybox binary, kernel version, module files), so a change to any of them rebuilds it.

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runOk, runSync } from '../proc.js';
import { GUEST_INIT } from './guest-init.js';
import { type GuestKernel, VmLabUnavailable } from './kernel.js';

/** What the init loads before it can mount 9p; modprobe resolves their dependencies and order. */
export const INITRAMFS_MODULES = ['virtio_pci', '9pnet_virtio', '9p'] as const;
export const BUSYBOX = '/bin/busybox';
/** Bump when the layout of the archive changes in a way the inputs do not show. */
const FORMAT = 1;

export interface ModuleFile {
  name: string;
  path: string;
}

/**
 * Parses `modprobe --show-depends` output ("insmod /path/x.ko [params]" per dependency, dependencies first;
 * "builtin x" for built-in ones) into module files, keeping the first occurrence of each.
 */
export function parseShowDepends(outputs: readonly string[]): ModuleFile[] {
  const seen = new Set<string>();
  const files: ModuleFile[] = [];
  for (const output of outputs) {
    for (const line of output.split('\n')) {
      const m = /^insmod (\S+\.ko)\b/.exec(line.trim());
      if (!m?.[1] || seen.has(m[1])) continue;
      seen.add(m[1]);
      files.push({ name: basename(m[1], '.ko'), path: m[1] });
    }
  }
  return files;
}

export function initramfsModules(kernel: GuestKernel): ModuleFile[] {
  const outputs = INITRAMFS_MODULES.map((m) => {
    const r = runSync(['modprobe', '-d', kernel.root, '-S', kernel.version, '--show-depends', m]);
    if (r.code !== 0) throw new VmLabUnavailable(`kernel ${kernel.version} has no module ${m}: ${r.stderr.trim()}`);
    return r.stdout;
  });
  return parseShowDepends(outputs);
}

function fileStamp(path: string): string {
  const st = statSync(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

/** Hex key of the initramfs for these inputs. */
export function initramfsKey(kernel: GuestKernel, modules: readonly ModuleFile[], init: string = GUEST_INIT): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ FORMAT, version: kernel.version, busybox: fileStamp(BUSYBOX), modules: modules.map((m) => fileStamp(m.path)), init }));
  return h.digest('hex').slice(0, 16);
}

/**
 * Returns the path of the initramfs for this kernel, building it first when it is missing or an input changed.
 * Older archives in the same directory are removed. Safe against a concurrent build (write, then rename).
 */
export async function ensureInitramfs(kernel: GuestKernel, cacheDir: string): Promise<{ path: string; built: boolean }> {
  if (!existsSync(BUSYBOX)) throw new VmLabUnavailable(`${BUSYBOX} is missing (run scripts/install-vm-lab as root)`);
  const modules = initramfsModules(kernel);
  const dir = join(cacheDir, 'initramfs');
  const key = initramfsKey(kernel, modules);
  const path = join(dir, `initramfs-${key}.cpio.gz`);
  if (existsSync(path)) return { path, built: false };
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new VmLabUnavailable(`cannot create ${dir}: ${(err as Error).message}`);
  }
  const staging = join(dir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot', 'modules']) mkdirSync(join(staging, d), { recursive: true });
    copyFileSync(BUSYBOX, join(staging, 'bin', 'busybox'));
    chmodSync(join(staging, 'bin', 'busybox'), 0o755);
    for (const m of modules) copyFileSync(m.path, join(staging, 'modules', `${m.name}.ko`));
    writeFileSync(join(staging, 'modules.order'), modules.map((m) => m.name).join('\n') + '\n');
    writeFileSync(join(staging, 'init'), GUEST_INIT, { mode: 0o755 });
    const list = listTree(staging).join('\0') + '\0';
    // newc is the format the kernel unpacks; -R 0:0 makes every file root's, whoever builds it.
    const archive = join(staging, '..', `${basename(staging)}.cpio`);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await runOk(['cpio', '--null', '-o', '-H', 'newc', '-R', '0:0', '--quiet', '-D', staging, '-O', archive], { input: list, timeoutMs: 60_000 });
      writeFileSync(tmp, gzipSync(readFileSync(archive)));
      renameSync(tmp, path);
    } finally {
      rmSync(archive, { force: true });
      rmSync(tmp, { force: true });
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  for (const old of readdirSync(dir)) if (/^initramfs-[0-9a-f]+\.cpio\.gz$/.test(old) && old !== basename(path)) rmSync(join(dir, old), { force: true });
  return { path, built: true };
}

/** Relative paths of everything under root, directories before their contents. */
function listTree(root: string, rel = '.'): string[] {
  const out = [rel];
  const abs = join(root, rel);
  if (statSync(abs).isDirectory()) for (const e of readdirSync(abs).sort()) out.push(...listTree(root, join(rel, e)));
  return out;
}
