{
  "targets": [
    {
      "target_name": "edgeguard_native",
      "sources": ["native/proc_connector.c", "native/sock_diag.c", "native/memory_trim.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "edgeguard_sensor",
      "type": "<!(sh native/bpf/sensor-target-type.sh)",
      "sources": ["native/kernel_sensor.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["<!@(sh native/bpf/libbpf-link-flags.sh)"],
      "dependencies": ["edgeguard_sensor_bpf"]
    },
    {
      "target_name": "edgeguard_sensor_bpf",
      "type": "none",
      "actions": [
        {
          "action_name": "compile_sensor_bpf",
          "inputs": ["native/bpf/sensor.bpf.c", "native/bpf/sensor_events.h", "native/bpf/vmlinux-min.h", "native/bpf/compile.sh"],
          "outputs": ["<(PRODUCT_DIR)/edgeguard_sensor.bpf.o"],
          "action": ["sh", "native/bpf/compile.sh", "native/bpf/sensor.bpf.c", "<(PRODUCT_DIR)/edgeguard_sensor.bpf.o"]
        }
      ]
    }
  ]
}
