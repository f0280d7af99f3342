#!/usr/bin/env bash
# Install hikari-gw onto an existing Raspberry Pi OS / Debian (arm64) over SSH, or remove it.
#   deploy/install.sh [--uninstall] [--ssh-option OPT]... [USER@]HOST
# Installs /opt/hikari-gw (this checkout, built here, raw-socket compiled for arm64), the pinned
# Node 24 as /usr/local/bin/node (the unit finds it there first), the `hikari-gw` command
# (/usr/local/bin, as on the image), the hikari-gw user, the systemd unit, the image's
# /usr/lib/sysctl.d/60-hikari-gw.conf (net.ipv4.ip_forward=1, which the relay's kernel path,
# media.offload: auto, needs; applied at once, /etc/sysctl.d overrides it as on any Debian), and
# /etc/hikari-gw/config.yaml from deploy/config.example.yaml ONLY if no config exists
# (an existing config is never touched). The service is enabled, and started once its config
# passes check-config. --uninstall stops and removes the service, /opt/hikari-gw, the command,
# the sysctl file (forwarding stays on until the next boot) and the Node it installed; the
# config, /var/lib/hikari-gw and the user that owns them stay. The remote user must be root or
# have sudo. Tested against a real sshd: test/lab/install-ssh.lab.test.ts.
# Needs here: what firmware/build.sh needs for the app (npm, g++-aarch64-linux-gnu, make, python3).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
uninstall=0
ssh_opts=()
while [ $# -gt 1 ]; do
  case $1 in
    --uninstall) uninstall=1; shift ;;
    --ssh-option) ssh_opts+=(-o "$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] && [[ $1 != -* ]] || { echo "usage: $0 [--uninstall] [--ssh-option OPT]... [USER@]HOST" >&2; exit 2; }
host=$1
remote() { ssh "${ssh_opts[@]}" -- "$host" "$1"; }

# Runs on the target as root (through sudo when the login is not root).
remote_script='
set -eu
[ "$(id -u)" = 0 ] || { echo "install.sh: need root on the target" >&2; exit 1; }
mode=$1
if [ "$mode" = uninstall ]; then
  systemctl disable --now hikari-gw.service 2>/dev/null || true
  rm -f /etc/systemd/system/hikari-gw.service
  systemctl daemon-reload
  rm -rf /opt/hikari-gw /opt/hikari-gw.new /usr/local/bin/hikari-gw
  if [ -f /usr/local/lib/hikari-gw/node-installed ]; then rm -f /usr/local/bin/node; fi
  rm -rf /usr/local/lib/hikari-gw
  # The user stays: the kept config (group) and state (owner) are its files.
  rm -f /usr/lib/sysusers.d/hikari-gw.conf
  # Forwarding is left as it is now (another service may rely on it); without the file it is
  # off from the next boot unless something else sets it.
  rm -f /usr/lib/sysctl.d/60-hikari-gw.conf
  echo "hikari-gw removed; kept /etc/hikari-gw (config), /var/lib/hikari-gw (state) and the hikari-gw user (userdel hikari-gw to remove it)"
  exit 0
fi
[ "$(uname -m)" = aarch64 ] || { echo "install.sh: the target is $(uname -m); only arm64 (aarch64) is built" >&2; exit 1; }
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
tar -C "$tmp" -xzf -
command -v nft >/dev/null && command -v ip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables iproute2; }
install -D -m 0644 "$tmp/hikari-gw.sysusers" /usr/lib/sysusers.d/hikari-gw.conf
systemd-sysusers /usr/lib/sysusers.d/hikari-gw.conf
install -D -m 0644 "$tmp/hikari-gw.sysctl" /usr/lib/sysctl.d/60-hikari-gw.conf
# Applied now by name, as systemd-sysctl does at boot: an admin'"'"'s /etc/sysctl.d/60-hikari-gw.conf
# takes precedence over ours.
if [ -x /usr/lib/systemd/systemd-sysctl ]; then /usr/lib/systemd/systemd-sysctl 60-hikari-gw.conf; else sysctl -q -p /usr/lib/sysctl.d/60-hikari-gw.conf; fi \
  || echo "install.sh: could not apply /usr/lib/sysctl.d/60-hikari-gw.conf now; it applies at the next boot"
if ! cmp -s "$tmp/node" /usr/local/bin/node; then
  [ -e /usr/local/bin/node ] && [ ! -f /usr/local/lib/hikari-gw/node-installed ] && echo "install.sh: replacing /usr/local/bin/node ($(/usr/local/bin/node --version 2>/dev/null))"
  install -m 0755 "$tmp/node" /usr/local/bin/node.new && mv /usr/local/bin/node.new /usr/local/bin/node
  install -d /usr/local/lib/hikari-gw && touch /usr/local/lib/hikari-gw/node-installed
fi
rm -rf /opt/hikari-gw.new
mv "$tmp/app" /opt/hikari-gw.new
chown -R root:root /opt/hikari-gw.new
rm -rf /opt/hikari-gw.old
[ -d /opt/hikari-gw ] && mv /opt/hikari-gw /opt/hikari-gw.old
mv /opt/hikari-gw.new /opt/hikari-gw
rm -rf /opt/hikari-gw.old
install -m 0755 "$tmp/hikari-gw" /usr/local/bin/hikari-gw
install -m 0644 "$tmp/hikari-gw.service" /etc/systemd/system/hikari-gw.service
install -d -m 0755 /etc/hikari-gw
if [ -e /etc/hikari-gw/config.yaml ]; then
  echo "install.sh: keeping the existing /etc/hikari-gw/config.yaml"
else
  install -m 0640 -o root -g hikari-gw "$tmp/config.example.yaml" /etc/hikari-gw/config.yaml
  echo "install.sh: wrote /etc/hikari-gw/config.yaml from the example: edit it"
fi
systemctl daemon-reload
systemctl enable hikari-gw.service >/dev/null 2>&1
if /usr/local/bin/node /opt/hikari-gw/dist/cli.js check-config --config /etc/hikari-gw/config.yaml >/dev/null; then
  systemctl restart hikari-gw.service
  echo "hikari-gw installed and (re)started: journalctl -u hikari-gw -f"
else
  echo "hikari-gw installed and enabled, NOT started: fix /etc/hikari-gw/config.yaml (above), then systemctl start hikari-gw"
fi
'
# One command line for the remote login shell (bash on Raspberry Pi OS / Debian): the script as a
# quoted word, run as root directly or through sudo, with the mode as $1.
run_remote() {
  remote "s=$(printf %q "$remote_script"); if [ \"\$(id -u)\" = 0 ]; then sh -c \"\$s\" install.sh $1; else sudo sh -c \"\$s\" install.sh $1; fi"
}

if [ $uninstall = 1 ]; then
  run_remote uninstall
  exit 0
fi

# Build the payload here: the pinned Node for arm64 and the app staged for it.
set -a; . "$repo/firmware/packages.conf"; set +a
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tgz=$(cd "$work" && npm pack --silent "$NODE_PACKAGE@$NODE_VERSION")
got="sha512-$(openssl dgst -sha512 -binary "$work/$tgz" | base64 -w0)"
[ "$got" = "$NODE_INTEGRITY" ] || { echo "install.sh: $tgz integrity $got, pinned $NODE_INTEGRITY" >&2; exit 1; }
mkdir -p "$work/node" "$work/payload"
tar -C "$work/node" --strip-components=1 -xzf "$work/$tgz"
"$repo/firmware/stage-app.sh" "$work/payload/app" "$work/node"
cp "$work/node/bin/node" "$work/payload/node"
aarch64-linux-gnu-strip "$work/payload/node" # as on the image: 103 MB instead of 123 MB
cp "$repo/firmware/rootfs/usr/local/bin/hikari-gw" "$work/payload/"
cp "$repo/systemd/hikari-gw.service" "$work/payload/"
cp "$repo/firmware/rootfs/usr/lib/sysusers.d/hikari-gw.conf" "$work/payload/hikari-gw.sysusers"
cp "$repo/firmware/rootfs/usr/lib/sysctl.d/60-hikari-gw.conf" "$work/payload/hikari-gw.sysctl"
cp "$repo/deploy/config.example.yaml" "$work/payload/"
tar -C "$work/payload" -czf - . | run_remote install
