/*
 * The kernel sensor's user-space half: loads native/bpf/sensor.bpf.o with libbpf, attaches its
 * tracepoint programs and hands the ring buffer's records to JavaScript in batches (one Buffer of
 * concatenated records per call, decoded by src/sources/host/kernel/sensor-records.ts).
 *
 * A separate addon (build/Release/edgeguard_sensor.node): it links libbpf, which a host may lack.
 * JS API:
 *   sensorOpen(options, onBatch(Buffer)) -> handle; throws an Error naming the failing step
 *   sensorStats(handle) -> {records, bytes, batches, kernelDrops:number[], droppedRecords, threadCpuNs,
 *                           attached:string[], skipped:string[], ringBufferBytes}
 *   sensorClose(handle)
 * options: {objectPath, ringBufferBytes, process, network, files, excludePid,
 *           prefixes:[{path, watch}], names:[{name, watch}], maxBatchBytes, flushMs, maxQueuedBatches}
 *
 * One consumer thread polls the ring buffer; the JS thread is never blocked by it.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <node_api.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/sensor_events.h"
#include "napi_util.h"

#define MAX_LINKS 32
#define MAX_NAMES 32
#define LOG_TAIL 1536
#define TRACEFS "/sys/kernel/tracing"

struct eg_config {
  uint32_t process, network, files, exclude_tree;
};

struct prefix_key {
  uint32_t prefixlen;
  uint8_t data[EG_PREFIX_MAX];
};

typedef struct {
  uint8_t* data;
  size_t len, cap;
  size_t records;
} ks_batch;

typedef struct {
  struct bpf_object* obj;
  struct ring_buffer* rb;
  struct bpf_link* links[MAX_LINKS];
  int nlinks;
  char attached[MAX_NAMES][48];
  int nattached;
  char skipped[MAX_NAMES][48];
  int nskipped;
  int drops_fd;
  uint32_t ring_bytes;
  pthread_t thread;
  int started;
  atomic_int stop;
  int closed;
  int refs;
  napi_threadsafe_function tsfn;
  size_t max_batch_bytes;
  int flush_ms;
  int max_queued;
  atomic_int queued;
  ks_batch* batch;
  int64_t flush_at;
  atomic_llong records, bytes, batches, dropped_records, thread_cpu_ns_final;
  clockid_t clock;
} ks_handle;

/* ---------- libbpf's messages: the tail is kept for the error that explains a failed load ---------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_tail[LOG_TAIL];

static int capture_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (getenv("EDGEGUARD_BPF_LOG")) { /* the whole libbpf log, verifier included */
    va_list copy;
    va_copy(copy, args);
    vfprintf(stderr, fmt, copy);
    va_end(copy);
  }
  char line[512];
  vsnprintf(line, sizeof line, fmt, args);
  if (level == LIBBPF_DEBUG) return 0;
  pthread_mutex_lock(&log_lock);
  size_t have = strlen(log_tail), add = strlen(line);
  if (add >= LOG_TAIL) {
    memcpy(log_tail, line + add - (LOG_TAIL - 1), LOG_TAIL - 1);
    log_tail[LOG_TAIL - 1] = '\0';
  } else {
    if (have + add >= LOG_TAIL) {
      size_t drop = have + add - (LOG_TAIL - 1);
      memmove(log_tail, log_tail + drop, have - drop + 1);
      have -= drop;
    }
    memcpy(log_tail + have, line, add + 1);
  }
  pthread_mutex_unlock(&log_lock);
  return 0;
}

static void log_reset(void) {
  pthread_mutex_lock(&log_lock);
  log_tail[0] = '\0';
  pthread_mutex_unlock(&log_lock);
}

/* The last libbpf line that says something (verifier dumps end in the reason). */
static void log_last_line(char* out, size_t size) {
  pthread_mutex_lock(&log_lock);
  char copy[LOG_TAIL];
  memcpy(copy, log_tail, sizeof copy);
  pthread_mutex_unlock(&log_lock);
  size_t n = strlen(copy);
  while (n > 0 && (copy[n - 1] == '\n' || copy[n - 1] == ' ')) copy[--n] = '\0';
  char* line = strrchr(copy, '\n');
  snprintf(out, size, "%s", line ? line + 1 : copy);
}

/* ---------- helpers ---------- */

static napi_value throw_step(napi_env env, const char* step, int err) {
  char detail[400];
  log_last_line(detail, sizeof detail);
  if (!detail[0]) return throw_errno(env, step, err);
  char msg[700];
  snprintf(msg, sizeof msg, "%s: %s (libbpf: %s)", step, strerror(err), detail);
  return throw_with_errno(env, err, msg);
}

/* A map's fd, or -1 (errno ENOENT) when the object has no such map (an object from another build). */
static int map_fd(struct bpf_object* obj, const char* name) {
  struct bpf_map* m = bpf_object__find_map_by_name(obj, name);
  if (!m) {
    errno = ENOENT;
    return -1;
  }
  return bpf_map__fd(m);
}

/* ---------- batches to JavaScript ---------- */

static void free_batch(ks_batch* b) {
  if (!b) return;
  free(b->data);
  free(b);
}

static void call_js(napi_env env, napi_value js_cb, void* context, void* data) {
  ks_handle* h = context;
  ks_batch* b = data;
  atomic_fetch_sub(&h->queued, 1);
  if (env == NULL || js_cb == NULL) {
    free_batch(b);
    return;
  }
  napi_value buf;
  if (napi_create_external_buffer(env, b->len, b->data, free_buffer_data, NULL, &buf) != napi_ok) {
    free_batch(b);
    return;
  }
  b->data = NULL; /* owned by the Buffer now */
  free_batch(b);
  napi_value undefined, result;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 1, &buf, &result);
}

static void flush(ks_handle* h) {
  ks_batch* b = h->batch;
  h->batch = NULL;
  if (!b || b->len == 0) {
    free_batch(b);
    return;
  }
  if (hand_over_batch(h->tsfn, b, &h->queued, h->max_queued)) {
    atomic_fetch_add(&h->batches, 1);
    return;
  }
  atomic_fetch_add(&h->dropped_records, (long long)b->records);
  free_batch(b);
}

static int on_sample(void* ctx, void* data, size_t size) {
  ks_handle* h = ctx;
  if (size < sizeof(struct eg_header)) return 0;
  if (!h->batch) {
    h->batch = calloc(1, sizeof *h->batch);
    if (h->batch) {
      h->batch->cap = h->max_batch_bytes;
      h->batch->data = malloc(h->batch->cap);
      if (!h->batch->data) {
        free(h->batch);
        h->batch = NULL;
      }
    }
    if (!h->batch) {
      atomic_fetch_add(&h->dropped_records, 1);
      return 0;
    }
    h->flush_at = now_ms() + h->flush_ms;
  }
  if (h->batch->len + size > h->batch->cap) {
    flush(h);
    return on_sample(ctx, data, size);
  }
  memcpy(h->batch->data + h->batch->len, data, size);
  h->batch->len += size;
  h->batch->records++;
  atomic_fetch_add(&h->records, 1);
  atomic_fetch_add(&h->bytes, (long long)size);
  return 0;
}

static void* consumer_main(void* arg) {
  ks_handle* h = arg;
  while (!atomic_load(&h->stop)) {
    int timeout = h->batch ? (int)(h->flush_at - now_ms()) : 100;
    if (timeout < 0) timeout = 0;
    int rc = ring_buffer__poll(h->rb, timeout);
    if (rc < 0 && rc != -EINTR) break;
    if (h->batch && now_ms() >= h->flush_at) flush(h);
  }
  ring_buffer__consume(h->rb);
  flush(h);
  atomic_store(&h->thread_cpu_ns_final, thread_cpu_ns());
  return NULL;
}

/* ---------- lifecycle ---------- */

static void teardown(ks_handle* h) {
  if (h->started) {
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    h->started = 0;
  }
  if (h->rb) ring_buffer__free(h->rb);
  h->rb = NULL;
  for (int i = 0; i < h->nlinks; i++) bpf_link__destroy(h->links[i]);
  h->nlinks = 0;
  if (h->obj) bpf_object__close(h->obj);
  h->obj = NULL;
}

static void stop_handle(ks_handle* h) {
  if (h->closed) return;
  h->closed = 1;
  teardown(h);
  if (h->tsfn) napi_release_threadsafe_function(h->tsfn, napi_tsfn_release);
}

static void drop_ref(ks_handle* h) {
  if (--h->refs == 0) free(h);
}

static void finalize_handle(napi_env env, void* data, void* hint) {
  ks_handle* h = data;
  stop_handle(h);
  drop_ref(h);
}

static void tsfn_finalize(napi_env env, void* data, void* hint) {
  drop_ref(data);
}

/* "tracepoint/<category>/<name>" -> whether tracefs has it. */
static int tracepoint_exists(const char* section) {
  const char* p = strchr(section, '/');
  if (!p) return 1;
  char path[PATH_MAX];
  snprintf(path, sizeof path, TRACEFS "/events/%s/id", p + 1);
  return access(path, R_OK) == 0;
}

static int category_enabled(const char* name, const struct eg_config* cfg) {
  if (strstr(name, "connect") || strstr(name, "bind") || strstr(name, "listen") || strstr(name, "accept")) return cfg->network;
  if (strcmp(name, "on_exec") == 0 || strcmp(name, "on_exit") == 0 || strcmp(name, "on_fork") == 0) return 1;
  return cfg->files;
}

/* options[key], an array, into the BPF map of the same name: put() writes one entry; 0 or an errno. */
static int fill_map(napi_env env, napi_value options, ks_handle* h, const char* key, int (*put)(napi_env env, napi_value item, int fd)) {
  bool has = false;
  if (napi_has_named_property(env, options, key, &has) != napi_ok || !has) return 0;
  napi_value arr;
  uint32_t n = 0;
  napi_get_named_property(env, options, key, &arr);
  if (napi_get_array_length(env, arr, &n) != napi_ok) return EINVAL;
  int fd = map_fd(h->obj, key);
  if (fd < 0) return errno;
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    napi_get_element(env, arr, i, &item);
    int err = put(env, item, fd);
    if (err != 0) return err;
  }
  return 0;
}

/* prefixes: {path, watch} -> the `prefixes` LPM map (paths watched below a prefix). */
static int put_prefix(napi_env env, napi_value item, int fd) {
  char path[EG_PREFIX_MAX + 1];
  if (get_string_option(env, item, "path", path, sizeof path) != 1) return EINVAL;
  uint32_t watch = (uint32_t)get_int_option(env, item, "watch", EG_WATCH_WRITE);
  struct prefix_key key;
  memset(&key, 0, sizeof key);
  size_t len = strlen(path);
  memcpy(key.data, path, len);
  key.prefixlen = (uint32_t)len * 8;
  return bpf_map_update_elem(fd, &key, &watch, BPF_ANY) != 0 ? errno : 0;
}

/* names: {name, watch} -> the `names` map (file names watched wherever they are, and the read-watched names). */
static int put_name(napi_env env, napi_value item, int fd) {
  char name[32];
  memset(name, 0, sizeof name);
  if (get_string_option(env, item, "name", name, sizeof name) != 1) return EINVAL;
  uint8_t watch = (uint8_t)get_int_option(env, item, "watch", EG_WATCH_READ);
  return bpf_map_update_elem(fd, name, &watch, BPF_ANY) != 0 ? errno : 0;
}

/* inodes: {ino, dev, watch} -> the `inodes` map (dev in the kernel's encoding, MAJOR << 20 | MINOR). */
static int put_inode(napi_env env, napi_value item, int fd) {
  napi_value v;
  struct {
    uint64_t ino;
    uint32_t dev, pad;
  } key = {0, 0, 0};
  double ino = 0, dev = 0;
  if (napi_get_named_property(env, item, "ino", &v) != napi_ok || napi_get_value_double(env, v, &ino) != napi_ok) return EINVAL;
  if (napi_get_named_property(env, item, "dev", &v) != napi_ok || napi_get_value_double(env, v, &dev) != napi_ok) return EINVAL;
  if (ino < 0 || dev < 0 || dev > 4294967295.0) return EINVAL;
  key.ino = (uint64_t)ino;
  key.dev = (uint32_t)dev;
  uint32_t watch = (uint32_t)get_int_option(env, item, "watch", EG_WATCH_READ);
  return bpf_map_update_elem(fd, &key, &watch, BPF_ANY) != 0 ? errno : 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "sensorOpen(options, onBatch) needs two arguments");
    return NULL;
  }
  char object_path[PATH_MAX];
  if (get_string_option(env, argv[0], "objectPath", object_path, sizeof object_path) != 1) {
    napi_throw_type_error(env, NULL, "objectPath must be a string");
    return NULL;
  }
  struct eg_config cfg = {
      .process = (uint32_t)get_int_option(env, argv[0], "process", 1),
      .network = (uint32_t)get_int_option(env, argv[0], "network", 1),
      .files = (uint32_t)get_int_option(env, argv[0], "files", 1),
  };
  int exclude_pid = get_int_option(env, argv[0], "excludePid", 0);
  cfg.exclude_tree = exclude_pid > 0;
  uint32_t ring = (uint32_t)get_int_option(env, argv[0], "ringBufferBytes", 1 << 20);
  long page = sysconf(_SC_PAGESIZE);
  if (ring < (uint32_t)page) ring = (uint32_t)page;
  while (ring & (ring - 1)) ring &= ring - 1; /* a power of two, rounded down */

  ks_handle* h = calloc(1, sizeof *h);
  if (!h) return throw_step(env, "out of memory", ENOMEM);
  h->refs = 1;
  h->max_batch_bytes = (size_t)get_int_option(env, argv[0], "maxBatchBytes", 256 * 1024);
  if (h->max_batch_bytes < 32 * 1024) h->max_batch_bytes = 32 * 1024;
  h->flush_ms = get_int_option(env, argv[0], "flushMs", 20);
  if (h->flush_ms < 0) h->flush_ms = 0;
  h->max_queued = get_int_option(env, argv[0], "maxQueuedBatches", 64);
  if (h->max_queued < 1) h->max_queued = 1;
  h->ring_bytes = ring;

  const char* step = "";
  int err = 0;
  libbpf_set_print(capture_print);
  log_reset();

  if (access(TRACEFS "/events", R_OK) != 0) {
    err = errno;
    step = "tracefs not readable at " TRACEFS " (mount it, or bind-mount the host's into the container)";
    goto fail;
  }
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    err = errno;
    step = "kernel BTF not readable at /sys/kernel/btf/vmlinux (kernel without CONFIG_DEBUG_INFO_BTF?)";
    goto fail;
  }
  h->obj = bpf_object__open_file(object_path, NULL);
  if (!h->obj) {
    err = errno;
    step = "open BPF object";
    goto fail;
  }
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, h->obj) {
    const char* name = bpf_program__name(prog);
    int wanted = category_enabled(name, &cfg);
    int present = tracepoint_exists(bpf_program__section_name(prog));
    if (!wanted || !present) {
      bpf_program__set_autoload(prog, false);
      if (wanted && h->nskipped < MAX_NAMES) snprintf(h->skipped[h->nskipped++], 48, "%s", name);
    }
  }
  struct bpf_map* events = bpf_object__find_map_by_name(h->obj, "events");
  if (!events || !bpf_object__find_map_by_name(h->obj, "config") || !bpf_object__find_map_by_name(h->obj, "drops") ||
      !bpf_object__find_map_by_name(h->obj, "excluded")) {
    err = ENOENT;
    step = "BPF object lacks the sensor's maps (not EdgeGuard's sensor object?)";
    goto fail;
  }
  if (bpf_map__set_max_entries(events, ring) != 0) {
    err = EINVAL;
    step = "size the ring buffer";
    goto fail;
  }
  if (bpf_object__load(h->obj) != 0) {
    err = errno ? errno : EINVAL;
    step = "load BPF programs (needs CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN, and kernel BTF)";
    goto fail;
  }
  uint32_t zero = 0;
  if (bpf_map_update_elem(map_fd(h->obj, "config"), &zero, &cfg, BPF_ANY) != 0) {
    err = errno;
    step = "configure the sensor";
    goto fail;
  }
  if (exclude_pid > 0) {
    uint32_t pid = (uint32_t)exclude_pid;
    uint8_t one = 1;
    bpf_map_update_elem(map_fd(h->obj, "excluded"), &pid, &one, BPF_ANY);
  }
  if ((err = fill_map(env, argv[0], h, "prefixes", put_prefix)) != 0) {
    step = "sensitive path prefixes (each at most 128 bytes)";
    goto fail;
  }
  if ((err = fill_map(env, argv[0], h, "names", put_name)) != 0) {
    step = "watched file names (each at most 30 bytes)";
    goto fail;
  }
  if ((err = fill_map(env, argv[0], h, "inodes", put_inode)) != 0) {
    step = "watched file inodes";
    goto fail;
  }
  h->drops_fd = map_fd(h->obj, "drops");
  bpf_object__for_each_program(prog, h->obj) {
    if (!bpf_program__autoload(prog)) continue;
    if (h->nlinks >= MAX_LINKS) break;
    struct bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      err = errno;
      step = "attach tracepoint";
      goto fail;
    }
    h->links[h->nlinks++] = link;
    if (h->nattached < MAX_NAMES) snprintf(h->attached[h->nattached++], 48, "%s", bpf_program__name(prog));
  }
  h->rb = ring_buffer__new(bpf_map__fd(events), on_sample, h, NULL);
  if (!h->rb) {
    err = errno;
    step = "open the ring buffer";
    goto fail;
  }

  if (create_batch_function(env, argv[1], "edgeguard-kernel-sensor", h, tsfn_finalize, call_js, &h->tsfn) != napi_ok) {
    err = EINVAL;
    step = "create threadsafe function (is onBatch a function?)";
    goto fail;
  }
  h->refs++; /* the threadsafe function's */
  if (pthread_create(&h->thread, NULL, consumer_main, h) != 0) {
    err = errno ? errno : EAGAIN;
    step = "start the consumer thread";
    goto fail;
  }
  h->started = 1;
  pthread_getcpuclockid(h->thread, &h->clock);

  napi_value external; /* takes over our reference: finalize_handle drops it */
  if (napi_create_external(env, h, finalize_handle, NULL, &external) != napi_ok) {
    stop_handle(h);
    drop_ref(h);
    napi_throw_error(env, NULL, "could not create the handle object");
    return NULL;
  }
  return external;

fail:
  h->closed = 1;
  teardown(h);
  if (h->tsfn) {
    napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
    drop_ref(h); /* ours; tsfn_finalize drops the other */
  } else {
    free(h);
  }
  return throw_step(env, step, err ? err : EINVAL);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  ks_handle* h = handle_argument(env, info, "expected a handle from sensorOpen()");
  if (h) stop_handle(h);
  return NULL;
}

static napi_value names_array(napi_env env, char (*names)[48], int n) {
  napi_value arr;
  napi_create_array_with_length(env, (size_t)n, &arr);
  for (int i = 0; i < n; i++) {
    napi_value s;
    napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, (uint32_t)i, s);
  }
  return arr;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  ks_handle* h = handle_argument(env, info, "expected a handle from sensorOpen()");
  if (!h) return NULL;
  napi_value o;
  napi_create_object(env, &o);
  set_double(env, o, "records", (double)atomic_load(&h->records));
  set_double(env, o, "bytes", (double)atomic_load(&h->bytes));
  set_double(env, o, "batches", (double)atomic_load(&h->batches));
  set_double(env, o, "droppedRecords", (double)atomic_load(&h->dropped_records));
  set_double(env, o, "ringBufferBytes", (double)h->ring_bytes);
  double cpu = (double)atomic_load(&h->thread_cpu_ns_final);
  struct timespec ts;
  if (!h->closed && h->started && clock_gettime(h->clock, &ts) == 0) cpu = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
  set_double(env, o, "threadCpuNs", cpu);
  napi_value drops;
  napi_create_array_with_length(env, 8, &drops);
  int ncpu = libbpf_num_possible_cpus();
  uint64_t* per_cpu = ncpu > 0 ? calloc((size_t)ncpu, sizeof *per_cpu) : NULL;
  for (uint32_t type = 0; type < 8; type++) {
    double total = 0;
    if (!h->closed && per_cpu && bpf_map_lookup_elem(h->drops_fd, &type, per_cpu) == 0)
      for (int c = 0; c < ncpu; c++) total += (double)per_cpu[c];
    napi_value n;
    napi_create_double(env, total, &n);
    napi_set_element(env, drops, type, n);
  }
  free(per_cpu);
  napi_set_named_property(env, o, "kernelDrops", drops);
  napi_set_named_property(env, o, "attached", names_array(env, h->attached, h->nattached));
  napi_set_named_property(env, o, "skipped", names_array(env, h->skipped, h->nskipped));
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sensorOpen", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"sensorClose", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"sensorStats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
