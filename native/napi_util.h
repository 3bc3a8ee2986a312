#ifndef EDGEGUARD_NAPI_UTIL_H
#define EDGEGUARD_NAPI_UTIL_H
/*
 * What the addons (proc_connector.c, sock_diag.c, kernel_sensor.c) share: reading options, throwing
 * errors, the handle argument, and handing a batch from a reader thread to JavaScript.
 */
#include <errno.h>
#include <node_api.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CPU time of the calling thread so far, in nanoseconds. */
static inline long long thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Throws an Error with `message`; its code is "EPERM" when not permitted (EPERM, EACCES), else "E<errno>". */
static inline napi_value throw_with_errno(napi_env env, int err, const char *message) {
  char code[32];
  snprintf(code, sizeof code, "E%d", err);
  napi_throw_error(env, err == EPERM || err == EACCES ? "EPERM" : code, message);
  return NULL;
}

/* Throws "<what>: <strerror(err)>" (see throw_with_errno). */
static inline napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  return throw_with_errno(env, err, message);
}

/* obj[key] as an int (a boolean as 0 or 1); `fallback` when absent or not a number. */
static inline int get_int_option(napi_env env, napi_value obj, const char *key, int fallback) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return fallback;
  napi_value v;
  napi_get_named_property(env, obj, key, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_boolean) {
    bool b;
    napi_get_value_bool(env, v, &b);
    return b ? 1 : 0;
  }
  int32_t out;
  if (napi_get_value_int32(env, v, &out) != napi_ok) return fallback;
  return out;
}

/* obj[key] into `out`: 1 when read, 0 when absent (`out` untouched), -1 when not a string or too long. */
static inline int get_string_option(napi_env env, napi_value obj, const char *key, char *out, size_t size) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  napi_value v;
  size_t len;
  napi_get_named_property(env, obj, key, &v);
  if (napi_get_value_string_utf8(env, v, out, size, &len) != napi_ok) return -1;
  return len >= size - 1 ? -1 : 1;
}

static inline void set_double(napi_env env, napi_value obj, const char *key, double v) {
  napi_value val;
  napi_create_double(env, v, &val);
  napi_set_named_property(env, obj, key, val);
}

/* A finalizer for an external Buffer whose bytes were malloc'd. */
static inline void free_buffer_data(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* The handle (an External) a JS call passes first; NULL with a TypeError thrown when it is not one. */
static inline void *handle_argument(napi_env env, napi_callback_info info, const char *expected) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, expected);
    return NULL;
  }
  return data;
}

/*
 * The threadsafe function through which a reader thread hands batches to `js_fn` (call_js runs on the
 * JS thread). Unreferenced: the readers alone do not keep Node alive; the owning source decides.
 */
static inline napi_status create_batch_function(napi_env env, napi_value js_fn, const char *name, void *context, napi_finalize finalize,
                                                napi_threadsafe_function_call_js call_js, napi_threadsafe_function *out) {
  napi_value resource_name;
  napi_status status = napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  if (status == napi_ok) status = napi_create_threadsafe_function(env, js_fn, NULL, resource_name, 0, 1, context, finalize, context, call_js, out);
  if (status == napi_ok) napi_unref_threadsafe_function(env, *out); /* cannot fail for a function just made */
  return status;
}

/*
 * Queues `batch` for the JS thread unless `max_queued` batches already wait there (JS is not keeping
 * up: the caller drops the batch and counts what was lost, rather than grow without bound). 1 when
 * queued; the JS callback then takes it and decrements *queued. 0 when not: the batch is still the caller's.
 */
static inline int hand_over_batch(napi_threadsafe_function tsfn, void *batch, atomic_int *queued, int max_queued) {
  if (atomic_load(queued) >= max_queued) return 0;
  atomic_fetch_add(queued, 1);
  if (napi_call_threadsafe_function(tsfn, batch, napi_tsfn_nonblocking) == napi_ok) return 1;
  atomic_fetch_sub(queued, 1);
  return 0;
}

#endif
