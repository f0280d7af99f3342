#!/usr/bin/env bash
# Boots a built image as a user would use it: its own kernel, initramfs and root file system under
# qemu-system-aarch64 -M virt (no Pi needed), with hikari-gw.yaml and authorized_keys put on its FAT
# partition. A probe unit written into a throwaway copy reports on the console, then powers off:
# systemd `running` with no failed unit, hikari-gw active (Type=notify: READY received) with its
# STATUS and first journal lines, a watchdog pet, sshd answering, the root grown to the disk.
#   firmware/test-boot.sh [IMAGE]      (default: the newest firmware/out/*.img); bounded: 15 min
# With a WAN (test/lab/boot-ngn.ts sets these: the booted image on the lab's NGN emulator):
#   HGW_BOOT_WAN_NETNS, HGW_BOOT_WAN_TAP, HGW_BOOT_WAN_MAC  qemu runs in that namespace, its
#     virtio NIC on that tap device with that MAC, named eth0 inside (net.ifnames=0, as on the Pi)
#   HGW_BOOT_CONFIG   the hikari-gw.yaml put on the boot partition (default: one without WAN/trunk)
#   HGW_BOOT_STATUS   the STATUS= the service must reach (default "trunk disabled"; waited for)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
img=${1:-$(ls -t "$here"/out/*.img 2>/dev/null | head -n 1)}
[ -f "$img" ] || { echo "test-boot: no image (run npm run image first)" >&2; exit 2; }
limit=${HGW_BOOT_TIMEOUT_S:-900}
for t in qemu-system-aarch64:qemu-system-arm mcopy:mtools debugfs:e2fsprogs sfdisk:fdisk ssh-keygen:openssh-client; do
  command -v "${t%%:*}" >/dev/null || { echo "test-boot: ${t%%:*} missing (apt-get install ${t#*:})" >&2; exit 2; }
done
work=$(mktemp -d /tmp/hgw-boot.XXXXXX)
qpid=""
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

disk=$work/disk.img
cp --sparse=always "$img" "$disk"
truncate -s +512M "$disk" # the first boot grows the root partition into this
start() { sfdisk -J "$disk" | python3 -c "import json,sys; print(json.load(sys.stdin)['partitiontable']['partitions'][$1]['start'])"; }
fat_off=$(( $(start 0) * 512 ))
root_start=$(start 1)
root_sectors=$(sfdisk -J "$disk" | python3 -c "import json,sys; print(json.load(sys.stdin)['partitiontable']['partitions'][1]['size'])")

# The boot partition, as a user edits it.
# raspi-firmware keeps them under their versioned names, as config.txt names them.
kernel=$(mdir -b -i "$disk@@$fat_off" :: | sed -n 's|^::/\(vmlinuz-.*\)$|\1|p' | sort -V | tail -n 1)
initrd=$(mdir -b -i "$disk@@$fat_off" :: | sed -n 's|^::/\(initrd.img-.*\)$|\1|p' | sort -V | tail -n 1)
[ -n "$kernel" ] && [ -n "$initrd" ] || { echo "test-boot: no vmlinuz-*/initrd.img-* on the boot partition" >&2; exit 1; }
# The root the Pi's firmware hands the kernel (cmdline.txt), used for this boot too: a device path
# such as /dev/mmcblk0p2 depends on the board (a Pi 4's SD card can be mmcblk1) and exists nowhere here.
rootarg=$(mtype -i "$disk@@$fat_off" ::cmdline.txt | tr -d '\r' | grep -o '\broot=[^ ]*' || true)
case $rootarg in
  root=LABEL=* | root=PARTUUID=* | root=UUID=*) echo "ok   - cmdline.txt: $rootarg" ;;
  *) echo "FAIL - cmdline.txt names the root by a device path or not at all ('${rootarg:-none}'): a Pi 4 or a USB boot would not find it" >&2; exit 1 ;;
esac
mcopy -i "$disk@@$fat_off" "::$kernel" "$work/vmlinuz"
mcopy -i "$disk@@$fat_off" "::$initrd" "$work/initrd.img"
if [ -n "${HGW_BOOT_CONFIG:-}" ]; then
  cp "$HGW_BOOT_CONFIG" "$work/hikari-gw.yaml"
else
  cat >"$work/hikari-gw.yaml" <<'YAML'
# written by firmware/test-boot.sh, as a user would on the boot partition
wan: { interface: none }
trunk: { enabled: false }
lan: { listen: 127.0.0.1, port: 5060 }
extensions:
  - { number: "801", password: "boot-test-801", name: Probe }
mqtt: { server: none }
log: { level: info }
YAML
fi
status=${HGW_BOOT_STATUS:-trunk disabled}
ssh-keygen -q -t ed25519 -N "" -C boot-test -f "$work/key"
mcopy -o -i "$disk@@$fat_off" "$work/hikari-gw.yaml" ::hikari-gw.yaml
mcopy -o -i "$disk@@$fat_off" "$work/key.pub" ::authorized_keys

# The probe, written into the copy's root file system (no mount: debugfs). The serial getty is
# masked in the copy: once it starts it hangs up the console the probe writes to.
cat >"$work/probe.sh" <<'PROBE'
#!/bin/sh
p() { sed "s/^/PROBE: $1/"; }
echo "PROBE: begin" | p ""
echo "system $(timeout 400 systemctl is-system-running --wait)" | p ""
systemctl --failed --no-legend --plain | p "failed "
# The trunk's state comes after READY (lease, then REGISTER): wait for it, bounded.
i=0
while [ $i -lt 60 ] && ! systemctl show -p StatusText --value hikari-gw | grep -q "^@STATUS@"; do sleep 2; i=$((i + 1)); done
# The gateway's memory once it is idle at that status, as on a Pi (issue 16: idle RSS <= 60 MB):
# when the status came (seconds since the kernel started: under TCG emulation start-up is slow),
# then /proc at +20 s and +60 s after it (V8 gives start-up's young generation back some seconds
# after the last full GC; nothing pokes the gateway before the +60 s sample).
up() { cut -d' ' -f1 /proc/uptime; }
st=$(up)
pid=$(systemctl show -p MainPID --value hikari-gw)
us() { systemctl show -p "$1" --value hikari-gw | awk '{ printf "%.1f", $1 / 1e6 }'; }
echo "node $(/usr/local/bin/node --version)" | p "mem "
echo "pid=$pid launched=$(us ExecMainStartTimestampMonotonic)s ready=$(us ActiveEnterTimestampMonotonic)s status=${st}s (since boot)" | p "mem "
kv() { grep -E "^($1):" "$2" | awk '{ sub(":", "", $1); printf "%s=%s ", $1, $2 }'; }
mem() {
  j=0
  while [ $j -lt 200 ] && awk -v u="$(up)" -v t="$st" -v d="$1" 'BEGIN { exit !(u < t + d) }'; do sleep 1; j=$((j + 1)); done
  if [ "$pid" -gt 0 ] && [ -r "/proc/$pid/status" ]; then
    echo "+${1}s uptime=$(up) $(kv 'VmRSS|RssAnon|RssFile|RssShmem|VmHWM|Threads' "/proc/$pid/status")$(kv 'Pss|Private_Dirty' "/proc/$pid/smaps_rollup")$(kv 'MemTotal|MemAvailable' /proc/meminfo)(kB)" | p "mem "
  else
    echo "+${1}s no main process ($pid)" | p "mem "
  fi
}
# Type=notify: `active` only after READY=1; StatusText is the gateway's STATUS=.
systemctl show -p ActiveState -p SubState -p StatusText -p NRestarts -p User hikari-gw | p "hikari-gw "
journalctl -b -o cat --no-pager -u hikari-gw-bootconfig -u hikari-gw-growroot | p "journal "
journalctl -b -o cat --no-pager -u hikari-gw | head -n 20 | p "journal hikari-gw: "
mem 20 # also past the first watchdog pet (WatchdogSec=30: the gateway pets at 15 s)
# Who holds which address, and which links networkd manages (the WAN port must be unmanaged).
ip -br addr | p "net "
networkctl list --no-pager --no-legend | p "networkd "
journalctl -b -o cat --no-pager -u hikari-gw | tail -n 8 | p "journal tail hikari-gw: "
systemctl show -p WatchdogTimestampMonotonic hikari-gw | p "hikari-gw "
ls -l /etc/hikari-gw/config.yaml /root/.ssh/authorized_keys | p "files "
timeout 20 ssh-keyscan -T 5 127.0.0.1 2>/dev/null | cut -c1-60 | p "sshd "
findmnt -no SOURCE,SIZE / | p "root "
df -h / | tail -n 1 | p "df "
uname -r | p "kernel "
mem 60
# After the samples: asking the gateway costs it (and the box) a little work.
js=$(/usr/local/bin/hikari-gw status --json --config /etc/hikari-gw/config.yaml | tr -d '\n ')
echo "$js" | head -c 300 | p "status "
echo | p "status-end"
# The gateway's own view (process.memoryUsage(): V8's heap, buffers).
echo "$(echo "$js" | grep -oE '"(rss|heap_used|heap_total|external|array_buffers)_bytes":[0-9]+' | tr -d '"' | tr '\n' ' ')" | p "mem node's own after +60s: "
echo "end" | p ""
systemctl poweroff
PROBE
cat >"$work/probe.service" <<'UNIT'
[Unit]
Description=firmware/test-boot.sh probe
[Service]
Type=simple
ExecStart=/bin/sh /usr/local/sbin/hgw-probe
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyAMA0
[Install]
WantedBy=multi-user.target
UNIT
sed -i "s|@STATUS@|$status|" "$work/probe.sh"
dd if="$disk" of="$work/root.img" bs=512 skip="$root_start" count="$root_sectors" status=none
debugfs -w "$work/root.img" >/dev/null 2>"$work/debugfs.err" <<DEBUGFS
write $work/probe.sh /usr/local/sbin/hgw-probe
write $work/probe.service /etc/systemd/system/hgw-probe.service
symlink /etc/systemd/system/multi-user.target.wants/hgw-probe.service /etc/systemd/system/hgw-probe.service
symlink /etc/systemd/system/serial-getty@ttyAMA0.service /dev/null
DEBUGFS
dd if="$work/root.img" of="$disk" bs=512 seek="$root_start" conv=notrunc,sparse status=none
rm -f "$work/root.img"

console=$work/console.log
# A 1 GB board (Pi 3, the smallest Pi 4): V8 and the kernel size themselves from this.
mem_mb=1024
t0=$(date +%s)
# No network device unless a lab namespace's tap is given: the probe checks sshd on 127.0.0.1,
# and nothing can leave the machine (a tap exists only inside the lab namespace).
net=(-nic none)
netns=()
if [ -n "${HGW_BOOT_WAN_NETNS:-}" ]; then
  net=(-netdev "tap,id=wan,ifname=$HGW_BOOT_WAN_TAP,script=no,downscript=no" -device "virtio-net-pci,netdev=wan,mac=$HGW_BOOT_WAN_MAC,romfile=")
  netns=(ip netns exec "$HGW_BOOT_WAN_NETNS")
fi
nice -n 10 timeout "$limit" "${netns[@]}" qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m "$mem_mb" \
  -nographic -no-reboot "${net[@]}" \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "$rootarg rw rootwait console=ttyAMA0 net.ifnames=0 systemd.show_status=auto" \
  -drive "file=$disk,format=raw,if=none,id=hd" -device virtio-blk-pci,drive=hd \
  </dev/null >"$console" 2>&1 &
qpid=$!
wait "$qpid" || true
qpid=""
secs=$(( $(date +%s) - t0 ))
grep -a "PROBE:" "$console" | tr -d '\r' | tee "$work/probe.txt" || true
cp "$console" "${HGW_BOOT_CONSOLE:-/tmp/hgw-boot-console.log}"

fail=0
check() { if grep -aqE "$1" "$work/probe.txt"; then echo "ok   - $2"; else echo "FAIL - $2"; fail=1; fi; }
check '^PROBE: system running$' "systemd reached running"
if grep -aq '^PROBE: failed ' "$work/probe.txt"; then echo "FAIL - failed units"; fail=1; else echo "ok   - no failed unit"; fi
check '^PROBE: hikari-gw ActiveState=active$' "hikari-gw.service active (READY=1 received)"
check "^PROBE: hikari-gw StatusText=$status" "hikari-gw STATUS= reached systemd ($status)"
check '^PROBE: hikari-gw User=hikari-gw$' "hikari-gw runs as its own user"
check '^PROBE: hikari-gw WatchdogTimestampMonotonic=[1-9]' "watchdog petted"
check '^PROBE: journal hikari-gw: .*hikari-gw ready' "the gateway's log is in the journal"
check 'hikari-gw.yaml copied to /etc/hikari-gw/config.yaml: valid' "config taken from the FAT partition"
check '^PROBE: status .*"extensions"' "hikari-gw status answers over the control socket"
check '^PROBE: sshd 127.0.0.1 ssh-ed25519' "sshd answers (host key made on first boot)"
check '^PROBE: files .*authorized_keys' "SSH key taken from the FAT partition"
check 'growroot: ' "root partition grown on first boot"
check '^PROBE: end$' "probe finished"
# The gateway's memory at its status: reported, not judged (the lines must be there).
check '^PROBE: mem node v[0-9]' "node version reported"
check '^PROBE: mem \+20s uptime=.* VmRSS=[0-9]+ .*Pss=[0-9]+ .*MemAvailable=[0-9]+' "gateway memory sampled 20 s after its status"
check '^PROBE: mem \+60s uptime=.* VmRSS=[0-9]+ .*Pss=[0-9]+ .*MemAvailable=[0-9]+' "gateway memory sampled 60 s after its status"
# One line: "PROBE: mem +20s uptime=… VmRSS=… (kB)" → MB.
sample() {
  grep -a "^PROBE: mem +$1s " "$work/probe.txt" | head -n 1 | awk -v at="$1" -v what="$2" '{
    for (i = 4; i <= NF; i++) if (split($i, kv, "=") == 2) v[kv[1]] = kv[2] / 1024
    if (!("VmRSS" in v)) exit
    if (what == "vm") printf "VM MemTotal %.0f MB, MemAvailable %.0f MB at +%s s", v["MemTotal"], v["MemAvailable"], at
    else printf "+%s s VmRSS %.1f MB (RssAnon %.1f, RssFile %.1f), Pss %.1f, Private_Dirty %.1f, VmHWM %.1f", at, v["VmRSS"], v["RssAnon"], v["RssFile"], v["Pss"], v["Private_Dirty"], v["VmHWM"]
  }'
}
node_v=$(grep -a '^PROBE: mem node ' "$work/probe.txt" | head -n 1 | cut -d' ' -f4) || true
times=$(grep -a '^PROBE: mem pid=' "$work/probe.txt" | head -n 1 | sed -E 's/.* launched=([0-9.]+)s ready=([0-9.]+)s status=([0-9.]+)s.*/gateway launched \1 s, READY \2 s, status \3 s after boot/') || true
echo "test-boot: memory: node ${node_v:-?}, -m ${mem_mb} MB; ${times:-no times}; $(sample 20 gw || true); $(sample 60 gw || true); $(sample 60 vm || true)"
echo "test-boot: $(basename "$img"): booted and probed in ${secs}s (console: ${HGW_BOOT_CONSOLE:-/tmp/hgw-boot-console.log})"
exit $fail
