{
  "targets": [
    {
      "target_name": "edgeguard_native",
      "sources": ["native/proc_connector.c", "native/sock_diag.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
