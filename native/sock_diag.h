#ifndef EDGEGUARD_SOCK_DIAG_H
#define EDGEGUARD_SOCK_DIAG_H
#include <node_api.h>

// Adds sockDiagDump() to the addon's exports.
void sock_diag_register(napi_env env, napi_value exports);

#endif
