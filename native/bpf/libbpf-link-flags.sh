#!/bin/sh
# Linker flags for the kernel sensor addon. Debian's libbpf.a and libelf.a are not
# position-independent, so they cannot go into a shared object: the addon links the shared
# libraries (runtime packages libbpf1, libelf1, zlib1g). The sensor is an addon of its own
# (edgeguard_sensor.node) so a host without libbpf loses only the sensor, not the proc connector.
echo "-lbpf -lelf -lz"
