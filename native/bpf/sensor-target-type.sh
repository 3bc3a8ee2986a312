#!/bin/sh
# binding.gyp: the kernel sensor addon is built only where its build needs are there (clang with the
# BPF target, libbpf's headers and library); elsewhere it is skipped ("none") and the proc-connector
# addon still builds: EdgeGuard then falls back from the sensor, saying why.
if [ -z "${EDGEGUARD_NO_KERNEL_SENSOR:-}" ] && command -v clang >/dev/null 2>&1 && [ -f /usr/include/bpf/libbpf.h ] && { [ -e "/usr/lib/$(gcc -dumpmachine 2>/dev/null)/libbpf.so" ] || [ -e /usr/lib/libbpf.so ] || [ -e /usr/local/lib/libbpf.so ]; }; then
  echo loadable_module
else
  echo "native/bpf: clang or libbpf-dev missing, the kernel sensor addon is not built" >&2
  echo none
fi
