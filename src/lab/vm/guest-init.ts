// The guest's PID 1: a busybox shell script in the initramfs (initramfs.ts packs it as /init).
//
// It mounts the host's root (9p, read-only) on /newroot, gives it writable tmpfs where programs expect to write,
// mounts the writable share of this run, then runs the scenario chrooted into the host root, so the guest runs
// the host's own node, python3, keepalived and ipvsadm, and vipcheck's checkout at the same path as on the host.
// PID 1 itself stays in the initramfs: whatever the scenario does, it records the exit status and powers off.
//
// The host side (qemu.ts) writes into the share before boot:
//   guest.env    shell assignments: VM_MODULE_ROOT (the unpacked kernel package), VM_MODULES (loaded before the
//                scenario), VM_MODE (batch | shell), VM_SCENARIO_SECONDS (the scenario's deadline),
//                VM_KEEP_PATHS (host paths the guest must see even where it mounts a tmpfs)
//   scenario.sh  the scenario, run by /bin/sh as root
// and reads back after the guest has ended:
//   output.log   the scenario's stdout and stderr;  exit-status  its exit status;  any files the scenario wrote.
// Console lines starting with MARKER let the host time the boot and the scenario.

/** Prefix of the init's console lines; the host parses `MARKER scenario-start` and friends. */
export const MARKER = 'vipcheck-vm:';
/** Where the writable share appears inside the guest (in the host root's /run, which is a tmpfs there). */
export const GUEST_SHARE = '/run/vipcheck-vm/share';
/** A modprobe that finds the unpacked kernel package's modules; the kernel's request_module() uses it too. */
export const GUEST_MODPROBE = '/run/vipcheck-vm/bin/modprobe';
/** 9p mount tags of the two shares. */
export const HOSTROOT_TAG = 'hostroot';
export const SHARE_TAG = 'vmshare';

export const GUEST_PATH = '/run/vipcheck-vm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const GUEST_INIT = String.raw`#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "${MARKER} $*"; }
fail() { say "init failed: $*"; poweroff -f; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
say "initramfs"
# Modules for virtio and 9p, in dependency order (modules.order, written by initramfs.ts from modprobe).
for m in $(cat /modules.order); do insmod "/modules/$m.ko" || fail "insmod $m"; done

mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose ${HOSTROOT_TAG} /newroot || fail "mount of the host root"
# A second view of the host root that the tmpfs mounts below do not cover (a bind mount is not recursive).
mkdir -p /hostroot
mount --bind /newroot /hostroot || fail "bind of the host root"
# Writable places on the read-only root; symlinks (/var/run -> /run on Debian) are left alone.
for d in tmp run var/tmp var/lib/keepalived root; do
  if [ -d "/newroot/$d" ] && [ ! -L "/newroot/$d" ]; then mount -t tmpfs -o mode=1777 tmpfs "/newroot/$d" || fail "tmpfs on /$d"; fi
done
chmod 0755 /newroot/run /newroot/root 2>/dev/null
share=/newroot${GUEST_SHARE}
mkdir -p "$share" /newroot/run/vipcheck-vm/bin
# The writable share without cache: every write reaches the host at once, even if the guest dies right after.
mount -t 9p -o trans=virtio,version=9p2000.L ${SHARE_TAG} "$share" || fail "mount of the share"
. "$share/guest.env" || fail "reading guest.env"
# Paths the scenario needs from the host (the checkout, node's installation) that a tmpfs above now hides, e.g.
# a CI clone under /tmp: bound back from the uncovered view.
for p in $VM_KEEP_PATHS; do
  case "$p" in
    /tmp/*|/run/*|/var/tmp/*|/var/lib/keepalived/*|/root/*)
      mkdir -p "/newroot$p" && mount --bind "/hostroot$p" "/newroot$p" || fail "bind of $p" ;;
  esac
done

mkdir -p /newroot/dev
mount --move /dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount --move /sys /newroot/sys
mount --move /proc /newroot/proc

# modprobe of the host's kmod, pointed at the guest kernel's modules (the host root has none for this kernel).
printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$VM_MODULE_ROOT" > /newroot${GUEST_MODPROBE}
chmod 0755 /newroot${GUEST_MODPROBE}
# The kernel's own module requests (ip link add ... type dummy) run the helper relative to the initramfs root, not
# the chroot, while keepalived reads the same setting inside the chroot: the path exists in both, here chrooting.
mkdir -p "$(dirname ${GUEST_MODPROBE})"
printf '#!/bin/busybox sh\nexec /bin/busybox chroot /newroot %s "$@"\n' ${GUEST_MODPROBE} > ${GUEST_MODPROBE}
chmod 0755 ${GUEST_MODPROBE}
echo ${GUEST_MODPROBE} > /newroot/proc/sys/kernel/modprobe

wrap=
inroot() {
  $wrap chroot /newroot /usr/bin/env -i PATH=${GUEST_PATH} HOME=/root TERM=linux LANG=C.UTF-8 \
    VIPCHECK_VM_SHARE=${GUEST_SHARE} "$@"
}
if [ -n "$VM_MODULES" ]; then
  inroot ${GUEST_MODPROBE} -a $VM_MODULES || fail "modprobe $VM_MODULES"
fi
hostname vipcheck-vm

say "scenario-start"
# The guest's own deadline: it ends even if the host process that started it is gone.
wrap="timeout -s KILL $VM_SCENARIO_SECONDS"
inroot /bin/sh ${GUEST_SHARE}/scenario.sh > "$share/output.log" 2>&1 </newroot/dev/null
status=$?
wrap=
echo "$status" > "$share/exit-status"
say "scenario-end $status"
if [ "$VM_MODE" = shell ]; then
  say "shell (exit it to power the guest off)"
  # Not a login shell: /etc/profile would drop the modprobe wrapper from PATH.
  inroot /bin/sh -c 'cd /root && exec setsid -c /bin/bash -i </dev/ttyS0 >/dev/ttyS0 2>&1'
fi
sync
umount "$share"
say "poweroff"
poweroff -f
`;
