#!/usr/bin/env bash
# Installs, as root on Debian, every package EdgeGuard's build, tests and benchmarks use, then starts a
# local dockerd (scripts/docker-env.sh). Not root, or no apt: says loudly what is missing and goes on;
# the tests that need a missing piece skip with a message of their own.
# Idempotent and non-interactive (CI has no standard input).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
LOG=${EDGEGUARD_SETUP_LOG:-/tmp/edgeguard-setup.log}

# package -> a command (or file) proving it is there
PACKAGES=(
  "build-essential:gcc"
  "python3:python3"
  "openssl:openssl"
  "iproute2:ss"
  "nftables:nft"
  "iptables:iptables-save"
  "util-linux:utmpdump"
  "netcat-openbsd:nc"
  "procps:ps"
  "kmod:lsmod"
  "curl:curl"
  # The eBPF kernel sensor: build (clang with the BPF target, libbpf headers and library), tests (capsh
  # drops capabilities for the fallback test, bpftool inspects), logins from journald (journal files
  # written by systemd-journal-remote, read with journalctl).
  "clang:clang"
  "llvm:llvm-strip"
  "libbpf-dev:/usr/include/bpf/libbpf.h"
  "libelf-dev:/usr/include/libelf.h"
  "zlib1g-dev:/usr/include/zlib.h"
  "bpftool:bpftool"
  "libcap2-bin:capsh"
  "systemd:journalctl"
  "systemd-journal-remote:/lib/systemd/systemd-journal-remote"
)

say() { echo "setup-test-env: $*" >&2; }

missing=()
for entry in "${PACKAGES[@]}"; do
  pkg=${entry%%:*}; probe=${entry#*:}
  case $probe in
    /*) [ -e "$probe" ] || missing+=("$pkg") ;;
    *) command -v "$probe" >/dev/null 2>&1 || [ -x "/usr/sbin/$probe" ] || [ -x "/sbin/$probe" ] || missing+=("$pkg") ;;
  esac
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$LOG" 2>&1 \
      || say "!!! apt-get install failed (see $LOG): tests needing ${missing[*]} will skip"
  else
    say "!!! not root or no apt-get: cannot install ${missing[*]}; tests needing them will skip"
  fi
fi

# The kernel sensor attaches tracepoints through tracefs; some machines boot without it mounted.
if [ "$(id -u)" = 0 ] && [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/events ]; then
  mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || say "!!! tracefs not mounted at /sys/kernel/tracing: kernel sensor tests will skip"
fi

bash "$HERE/docker-env.sh" start || say "!!! no Docker engine: Docker tests will skip"
exit 0
