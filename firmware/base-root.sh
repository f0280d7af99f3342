#!/usr/bin/env bash
# Stage 1 of the image: the Debian arm64 root with its kernel, initramfs and Pi boot files, as a
# tarball (mmdebstrap under qemu-user). Slow (~10-20 min on 2 cores), so build.sh caches its
# output by the hash of packages.conf and this file.
# Usage: base-root.sh OUT.tar   (as root; packages.conf already sourced into the environment)
set -euo pipefail
out=$1
: "${SUITE:?}" "${MIRROR:?}" "${SECURITY_MIRROR:?}" "${COMPONENTS:?}" "${PACKAGES:?}" "${INITRAMFS_MODULES:?}"
export INITRAMFS_MODULES

# Every package's install would run update-initramfs (the kernel's postinst, then the
# initramfs-tools trigger again): under qemu-user each run costs minutes. Divert it while
# packages install and build the initramfs once, at the end, with MODULES=list.
divert='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && ln -s /bin/true "$1/usr/sbin/update-initramfs"'
initramfs='set -e
  rm -f "$1/usr/sbin/update-initramfs"
  chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
  printf "MODULES=list\n" > "$1/etc/initramfs-tools/conf.d/hikari-gw"
  printf "%s\n" $INITRAMFS_MODULES >> "$1/etc/initramfs-tools/modules"
  # A headless box needs no contiguous memory for a GPU.
  sed -i "s/^#\?CMA=.*/CMA=0/" "$1/etc/default/raspi-firmware"
  chroot "$1" update-initramfs -c -k all
  # raspi-firmware copied the kernel and initramfs under their versioned names (config.txt names them).
  ls -l "$1/boot/firmware"
  ls "$1"/boot/firmware/vmlinuz-* "$1"/boot/firmware/initrd.img-* "$1/boot/firmware/cmdline.txt" >/dev/null'
cleanup='rm -f "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages "$1"/var/lib/apt/lists/*_Translation-*'

# --format=tar: build.sh writes to OUT.tar.tmp and renames it once complete; mmdebstrap's "auto"
# format goes by the name's extension and would make a directory of it.
mmdebstrap --variant=minbase --format=tar --architectures=arm64 --components="$COMPONENTS" \
  --include="${PACKAGES// /,}" \
  --essential-hook="$divert" \
  --customize-hook="$initramfs" \
  --customize-hook="$cleanup" \
  "$SUITE" "$out" \
  "deb $MIRROR $SUITE ${COMPONENTS//,/ }" \
  "deb $MIRROR $SUITE-updates ${COMPONENTS//,/ }" \
  "deb $SECURITY_MIRROR $SUITE-security ${COMPONENTS//,/ }"
