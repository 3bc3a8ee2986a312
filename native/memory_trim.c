// Returning start-up-only memory to the device (src/agent/memory-settle.ts decides when and which ranges):
// madvise(MADV_PAGEOUT) on ranges of clean, read-only file mappings (the kernel drops the pages; they
// are read back from the file when touched again, content never changes) and glibc's malloc_trim(0).
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "memory_trim.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21 /* Linux 5.4 */
#endif

/* A maps file holds a few hundred mappings; more is a caller's mistake. */
#define MAX_RANGES 4096

/*
 * pageOut([start0, length0, start1, length1, ...]) -> [errno0, errno1, ...] (0: advised).
 * All ranges in one call: the calling code's own pages are paged out too and come back once, on return.
 * Only MADV_PAGEOUT is ever passed: whatever a range holds, its content stays what it was.
 */
static napi_value js_page_out(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  bool is_array = false;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "pageOut: expected an array [start, length, ...]");
    return NULL;
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv[0], &n);
  if (n % 2 != 0 || n / 2 > MAX_RANGES) {
    napi_throw_range_error(env, NULL, "pageOut: expected start/length pairs (at most 4096)");
    return NULL;
  }
  uint32_t ranges = n / 2;
  uint64_t* values = malloc(sizeof(uint64_t) * (n ? n : 1));
  int* results = malloc(sizeof(int) * (ranges ? ranges : 1));
  if (!values || !results) {
    free(values);
    free(results);
    napi_throw_error(env, NULL, "pageOut: out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    double d = -1;
    napi_get_element(env, argv[0], i, &v);
    if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 || d != (double)(uint64_t)d) {
      free(values);
      free(results);
      napi_throw_range_error(env, NULL, "pageOut: starts and lengths must be integers >= 0");
      return NULL;
    }
    values[i] = (uint64_t)d;
  }
  for (uint32_t r = 0; r < ranges; r++) {
    void* start = (void*)(uintptr_t)values[2 * r];
    size_t length = (size_t)values[2 * r + 1];
    results[r] = madvise(start, length, MADV_PAGEOUT) == 0 ? 0 : errno;
  }
  free(values);
  napi_value out;
  napi_create_array_with_length(env, ranges, &out);
  for (uint32_t r = 0; r < ranges; r++) {
    napi_value e;
    napi_create_int32(env, results[r], &e);
    napi_set_element(env, out, r, e);
  }
  free(results);
  return out;
}

/* mallocTrim() -> true (memory was returned), false (nothing to return), null (not glibc: no malloc_trim). */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  napi_value out;
#ifdef __GLIBC__
  napi_get_boolean(env, malloc_trim(0) != 0, &out);
#else
  napi_get_null(env, &out);
#endif
  return out;
}

void memory_trim_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pageOut", NULL, js_page_out, NULL, NULL, NULL, napi_default, NULL},
      {"mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
