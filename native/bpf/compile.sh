#!/bin/sh
# Compiles the kernel sensor's BPF program (CO-RE: one object for every kernel with BTF).
# Called by binding.gyp. clang with the BPF target and libbpf's headers are Debian packages
# (clang, libbpf-dev; scripts/setup-test-env.sh and the Dockerfiles install them).
set -eu
src=$1
out=$2
# Without clang or libbpf's headers the sensor is not built (sensor-target-type.sh skips its addon
# too) and the rest of the native build goes on.
if [ -n "${EDGEGUARD_NO_KERNEL_SENSOR:-}" ] || ! command -v clang >/dev/null 2>&1 || [ ! -f /usr/include/bpf/bpf_helpers.h ]; then
  echo "compile.sh: clang or libbpf-dev missing: the kernel sensor is not built (apt-get install clang libbpf-dev)" >&2
  exit 0
fi
mkdir -p "$(dirname "$out")"
# -g keeps the BTF that CO-RE relocations need; nothing of the build machine's kernel is used.
clang -g -O2 -target bpf -Wall -Werror -I "$(dirname "$src")" -c "$src" -o "$out.tmp"
# Strip DWARF (size), keep BTF/BTF.ext.
if command -v llvm-strip >/dev/null 2>&1; then llvm-strip -g "$out.tmp"; fi
mv "$out.tmp" "$out"
