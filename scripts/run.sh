#!/usr/bin/env bash
# `npm start`: from a fresh checkout, installs what is missing, builds, and runs the agent. With no IoT
# Edge variables it runs standalone and prints each security message it would send as one JSON line.
set -u
cd "$(dirname "$0")/.."
say() { echo "run.sh: $*" >&2; }

source scripts/use-node.sh
bash scripts/ensure-node-modules.sh || exit 1

# The native proc-connector addon needs a C compiler; without it ProcessEvents falls back to /proc polling.
# The eBPF kernel sensor also needs clang and libbpf-dev; without them it is not built and the sources fall back.
if ! command -v g++ >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1 || [ ! -f /usr/include/bpf/libbpf.h ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing build-essential python3 clang llvm libbpf-dev libelf-dev zlib1g-dev (for the native addons)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends build-essential python3 clang llvm libbpf-dev libelf-dev zlib1g-dev >/dev/null 2>&1 || say "apt-get failed"
  fi
fi
npm run build:native --silent >/tmp/edgeguard-native-build.log 2>&1 \
  || say "native addon not built (see /tmp/edgeguard-native-build.log): process events will use /proc polling"
npx tsc -p tsconfig.json >&2 || { say "TypeScript build failed"; exit 1; }
# The same V8 flags as the image's ENTRYPOINT (memory: see README "Footprint").
exec node --max-semi-space-size=1 --no-opt --no-maglev --no-sparkplug --optimize-for-size dist/src/main.js "$@"
