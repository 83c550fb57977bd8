// Where scripts/install-vm-lab left the guest kernel: Debian's linux-image package unpacked (never installed)
// under $VIPCHECK_VM_CACHE (default /var/cache/vipcheck-vm)/kernels/<version>, with depmod already run, and
// the version in use named by $VIPCHECK_VM_CACHE/kernel-version.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_VM_CACHE = '/var/cache/vipcheck-vm';
const INSTALL_HINT = 'run scripts/install-vm-lab as root';

/** The VM lab cannot run here; the message is one line and says what to do. */
export class VmLabUnavailable extends Error {
  override readonly name = 'VmLabUnavailable';
}

export function vmCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.VIPCHECK_VM_CACHE || DEFAULT_VM_CACHE;
}

export interface GuestKernel {
  /** `uname -r` inside the guest, e.g. 6.1.0-57-amd64. */
  readonly version: string;
  /** The unpacked package: boot/vmlinuz-<version> and lib/modules/<version>/ (what `modprobe -d` wants). */
  readonly root: string;
  readonly vmlinuz: string;
  readonly modulesDir: string;
}

export function findGuestKernel(cacheDir: string = vmCacheDir()): GuestKernel {
  const versionFile = join(cacheDir, 'kernel-version');
  if (!existsSync(versionFile)) throw new VmLabUnavailable(`no guest kernel in ${cacheDir} (${INSTALL_HINT})`);
  const version = readFileSync(versionFile, 'utf8').trim();
  if (!/^[0-9][A-Za-z0-9.+_-]*$/.test(version)) throw new VmLabUnavailable(`${versionFile} does not name a kernel version (${INSTALL_HINT})`);
  const root = join(cacheDir, 'kernels', version);
  if (!existsSync(join(root, '.complete'))) throw new VmLabUnavailable(`guest kernel ${version} in ${root} is incomplete (${INSTALL_HINT})`);
  return { version, root, vmlinuz: join(root, 'boot', `vmlinuz-${version}`), modulesDir: join(root, 'lib', 'modules', version) };
}
