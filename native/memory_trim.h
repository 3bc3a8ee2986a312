#ifndef EDGEGUARD_MEMORY_TRIM_H
#define EDGEGUARD_MEMORY_TRIM_H
#include <node_api.h>

// Adds pageOut() and mallocTrim() to the addon's exports.
void memory_trim_register(napi_env env, napi_value exports);

#endif
