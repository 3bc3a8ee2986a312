/*
 * EdgeGuard native addon: the Linux netlink process connector (CN_IDX_PROC) as an N-API module.
 *
 * Reader threads, one per CPU we may run on (see "one reader per CPU" below), read exec and exit
 * events from the kernel. On each exec the reader reads /proc/<pid>/exe, cmdline and status AT
 * ONCE: that is what makes processes that live a millisecond capturable (the kernel event carries
 * pids only). Records of all readers go into one shared batch, in the order they were read, and are
 * handed to JavaScript through one threadsafe function call per batch, so the JS event loop is never
 * blocked and is not woken once per event.
 *
 * JS API:
 *   open({procRoot, receiveBufferBytes, maxBatch, flushMs, maxQueuedBatches, realtime}, onBatch) -> handle
 *     (throws an Error whose message names the failing step; code "EPERM" when not permitted)
 *   stats(handle) -> {received, execs, exits, overruns, droppedEvents, exeUnreadable, exeUnreadableOtherCpu,
 *                     threadCpuNs, priority, readers, pinnedReaders, execReadDelayHistogram}
 *   close(handle)
 * onBatch(records): records are {type:'exec', pid, ppid, uid, euid, comm, exe?, cmdline?, cmdlineTruncated, ppidAtExit?}
 * (cmdline raw, NUL-separated) and {type:'exit', pid, exitCode (wait status), comm}; -1 means unknown.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "napi_util.h"
#include "netlink_util.h"
#include "sock_diag.h"
#include "memory_trim.h"

#define CMDLINE_MAX 16384
#define STATUS_MAX 4096
#define RECV_BUF 8192
#define ACK_TIMEOUT_MS 1000
#define MAX_READERS 16

/* A reader's buffers, in memory excluded from fork (see fork_proof_alloc). */
typedef struct {
  char recv[RECV_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
  char path[PATH_MAX];
  char cmd[CMDLINE_MAX + 1];
  char status[STATUS_MAX + 1];
} pe_scratch;
#define LATENCY_BUCKETS 6
static const long long LATENCY_LIMITS_US[LATENCY_BUCKETS - 1] = {50, 100, 250, 500, 1000};

enum record_type { REC_EXEC = 1, REC_EXIT = 2 };
enum priority_mode { PRIORITY_NORMAL = 0, PRIORITY_REALTIME = 1 };
static const char *PRIORITY_NAMES[] = {"normal", "realtime"};

typedef struct {
  int type;
  int pid, ppid;
  long long uid, euid;
  int exit_code;
  int parent_at_exit; /* exec: ppid was taken from the exit event; exit: the parent's tgid */
  char comm[20];
  char *exe;       /* malloc'd, NULL when unreadable */
  char *cmdline;   /* malloc'd raw argv (NUL-separated), NULL when unreadable */
  size_t cmdline_len;
  int cmdline_truncated;
} pe_record;

typedef struct {
  pe_record *items;
  size_t count, cap;
} pe_batch;

struct pe_handle;

/* One socket + thread per CPU: the socket's filter passes only events raised on that CPU. */
typedef struct {
  struct pe_handle *h;
  int sock;
  int cpu;       /* the CPU whose events this reader takes, -1 for all CPUs */
  int pinned;    /* the thread runs on `cpu` only (pinning can fail: CPU offline, not allowed) */
  int catch_all; /* also takes events of CPUs without a reader of their own */
  pthread_t thread;
  int started;
  clockid_t clock;
  int realtime; /* set by the thread itself once running */
  pe_scratch *scratch;
} pe_reader;

typedef struct pe_handle {
  pe_reader readers[MAX_READERS];
  int nreaders;
  int stop_fd;
  int proc_fd; /* directory fd of the proc root */
  pid_t self_pid;
  int closed;
  /* Owners of this struct: the threadsafe function and the JS handle; freed when both are finalized. */
  int refs;
  napi_threadsafe_function tsfn;
  size_t max_batch;
  int flush_ms;
  int max_queued_batches;
  int priority_mode;
  int pin_readers;
  sem_t ready;
  /* The shared batch (records in the order they were read) and when it is due, under `lock`. */
  pthread_mutex_t lock;
  pe_batch *batch;
  int64_t flush_at;
  int batch_unknown_ppids; /* exec records in `batch` whose parent is still unknown */
  atomic_llong received, execs, exits, overruns, dropped_events, exe_unreadable, thread_cpu_ns_final;
  atomic_int queued_batches;
  /* Exec events by delay between the kernel raising the event and the reader reading exe (LATENCY_LIMITS_US). */
  atomic_llong latency_hist[LATENCY_BUCKETS];
  atomic_llong exe_unreadable_other_cpu; /* of exe_unreadable: read on another CPU than the exec ran on */
  atomic_llong foreign_messages;         /* datagrams not sent by the kernel (nl_pid != 0), ignored */
} pe_handle;

/* ---------- helpers ---------- */

static ssize_t read_at(int dir_fd, const char *rel, char *buf, size_t size) {
  int fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t total = 0;
  while (total < size) {
    ssize_t n = read(fd, buf + total, size - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return total > 0 ? (ssize_t)total : -1;
    }
    if (n == 0) break;
    total += (size_t)n;
  }
  close(fd);
  return (ssize_t)total;
}

static long long status_field(const char *status, const char *key, int column) {
  const char *p = strstr(status, key);
  if (!p) return -1;
  p += strlen(key);
  for (int i = 0; i <= column; i++) {
    while (*p == ' ' || *p == '\t') p++;
    if (*p < '0' || *p > '9') return -1;
    char *end;
    long long v = strtoll(p, &end, 10);
    if (i == column) return v;
    p = end;
  }
  return -1;
}

static void read_comm(pe_handle *h, int pid, char *out, size_t size) {
  char rel[32];
  snprintf(rel, sizeof rel, "%d/comm", pid);
  ssize_t n = read_at(h->proc_fd, rel, out, size - 1);
  if (n < 0) n = 0;
  out[n] = '\0';
  char *nl = strchr(out, '\n');
  if (nl) *nl = '\0';
}

/*
 * Everything about a process that has just exec'd, read before it can exit. All three reads go into
 * the reader's fork-proof scratch buffers; the heap copies are made only afterwards, because a write
 * to the heap can fault and wait while Node forks (see fork_proof_alloc).
 */
static void read_exec_details(pe_handle *h, pe_scratch *sc, pe_record *r) {
  char rel[48];
  char *path = sc->path, *cmd = sc->cmd, *status = sc->status;

  snprintf(rel, sizeof rel, "%d/exe", r->pid);
  ssize_t exe_len = readlinkat(h->proc_fd, rel, path, sizeof sc->path - 1);
  snprintf(rel, sizeof rel, "%d/cmdline", r->pid);
  ssize_t cmd_len = read_at(h->proc_fd, rel, cmd, sizeof sc->cmd);
  snprintf(rel, sizeof rel, "%d/status", r->pid);
  ssize_t status_len = read_at(h->proc_fd, rel, status, STATUS_MAX);

  if (exe_len >= 0) {
    path[exe_len] = '\0';
    r->exe = strdup(path);
  } else {
    atomic_fetch_add(&h->exe_unreadable, 1);
  }
  if (cmd_len > 0) {
    if (cmd_len > CMDLINE_MAX) {
      cmd_len = CMDLINE_MAX;
      r->cmdline_truncated = 1;
    }
    r->cmdline = malloc((size_t)cmd_len);
    if (r->cmdline) {
      memcpy(r->cmdline, cmd, (size_t)cmd_len);
      r->cmdline_len = (size_t)cmd_len;
    }
  }
  if (status_len > 0) {
    status[status_len] = '\0';
    r->ppid = (int)status_field(status, "\nPPid:", 0);
    r->uid = status_field(status, "\nUid:", 0);
    r->euid = status_field(status, "\nUid:", 1);
    if (strncmp(status, "Name:", 5) == 0) {
      const char *p = status + 5;
      while (*p == ' ' || *p == '\t') p++;
      size_t i = 0;
      while (p[i] && p[i] != '\n' && i < sizeof r->comm - 1) {
        r->comm[i] = p[i];
        i++;
      }
      r->comm[i] = '\0';
    }
  }
}

static void free_batch(pe_batch *b) {
  if (!b) return;
  for (size_t i = 0; i < b->count; i++) {
    free(b->items[i].exe);
    free(b->items[i].cmdline);
  }
  free(b->items);
  free(b);
}

static pe_batch *new_batch(size_t cap) {
  pe_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->items = calloc(cap, sizeof *b->items);
  if (!b->items) {
    free(b);
    return NULL;
  }
  b->cap = cap;
  return b;
}

/* ---------- JS side of a batch ---------- */

static void set_int(napi_env env, napi_value obj, const char *key, long long v) {
  napi_value val;
  napi_create_int64(env, v, &val);
  napi_set_named_property(env, obj, key, val);
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *s, size_t len) {
  napi_value val;
  napi_create_string_utf8(env, s, len, &val);
  napi_set_named_property(env, obj, key, val);
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  pe_handle *h = context;
  pe_batch *b = data;
  atomic_fetch_sub(&h->queued_batches, 1);
  if (env == NULL || js_cb == NULL) {
    free_batch(b);
    return;
  }
  napi_value arr;
  napi_create_array_with_length(env, b->count, &arr);
  for (size_t i = 0; i < b->count; i++) {
    pe_record *r = &b->items[i];
    napi_value o;
    napi_create_object(env, &o);
    set_str(env, o, "type", r->type == REC_EXEC ? "exec" : "exit", NAPI_AUTO_LENGTH);
    set_int(env, o, "pid", r->pid);
    set_str(env, o, "comm", r->comm, NAPI_AUTO_LENGTH);
    if (r->type == REC_EXEC) {
      set_int(env, o, "ppid", r->ppid);
      set_int(env, o, "uid", r->uid);
      set_int(env, o, "euid", r->euid);
      if (r->exe) set_str(env, o, "exe", r->exe, NAPI_AUTO_LENGTH);
      if (r->cmdline) set_str(env, o, "cmdline", r->cmdline, r->cmdline_len);
      if (r->parent_at_exit) {
        napi_value t;
        napi_get_boolean(env, true, &t);
        napi_set_named_property(env, o, "ppidAtExit", t);
      }
      napi_value t;
      napi_get_boolean(env, r->cmdline_truncated != 0, &t);
      napi_set_named_property(env, o, "cmdlineTruncated", t);
    } else {
      set_int(env, o, "exitCode", r->exit_code); /* a wait status: code << 8, or the killing signal */
    }
    napi_set_element(env, arr, (uint32_t)i, o);
  }
  free_batch(b);
  napi_value undefined, result;
  napi_get_undefined(env, &undefined);
  /* The JS callback (process-events.ts) catches its own errors; a throw here would be uncaught. */
  napi_call_function(env, undefined, js_cb, 1, &arr, &result);
}

/* ---------- reader threads ---------- */

/*
 * The reader races each new process to /proc: a /bin/true exits 0.45-0.7 ms after its exec here, and
 * once it has exited its exe link and cmdline are gone (status stays until the parent reaps it).
 *
 * SCHED_FIFO priority 1 (it sleeps in poll otherwise and does a few syscalls per event) lets the
 * reader preempt the new process. Needs CAP_SYS_NICE (and RT runtime in the cgroup); when refused
 * the threads run at normal priority. The kernel's RT throttling still caps them below a full CPU.
 *
 * One reader per CPU: the kernel raises the exec event on the CPU the new process runs on. A
 * single reader is woken on the CPU it last ran on, often the other one; measured here (2 cores,
 * kernel with PREEMPT_NONE, a VM), every miss of the realtime single reader was such a cross-CPU
 * wakeup that came 0.7-3.6 ms late (the other CPU busy in the kernel or its vCPU not running),
 * while same-CPU wakeups took 10-90 us. A reader pinned to the event's CPU, whose socket filter
 * passes only that CPU's events, preempts the new process right where it runs, before it returns
 * to user space from exec.
 */
static void note_priority(pe_reader *r) {
  int policy;
  struct sched_param sp;
  r->realtime = pthread_getschedparam(pthread_self(), &policy, &sp) == 0 && policy == SCHED_FIFO;
}

/*
 * Memory the reader writes while it races a new process (its buffers, the handle's counters and
 * lock): mapped here, touched at once and excluded from fork (MADV_DONTFORK). When Node spawns a
 * child, fork write-protects every page of this process for copy-on-write and holds the address
 * space locked while it copies the page tables (a millisecond or more for Node); a reader writing
 * to such a page waits for the fork to finish while the new process runs. Traced: with Node
 * spawning 4 children at once while they exec, 8-10 of ~270 execs were lost with /proc reads
 * taking 0.5-4.7 ms; 0 of 271 when Node did not fork. Pages excluded from fork are never
 * write-protected. The thread stacks cannot be (glibc walks the thread descriptors in the child),
 * nor the heap copies made after the reads, so this reduces such losses rather than ending them
 * (16 against 24 of ~260 in the same test).
 */
static void *fork_proof_alloc(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  madvise(p, size, MADV_DONTFORK);
  memset(p, 0, size);
  return p;
}

static int create_thread(pe_reader *r, void *(*main_fn)(void *), int realtime, int pin) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (realtime) {
    struct sched_param sp = {.sched_priority = 1};
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
    pthread_attr_setschedparam(&attr, &sp);
  }
  if (pin) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(r->cpu, &set);
    pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  }
  int rc = pthread_create(&r->thread, &attr, main_fn, r);
  pthread_attr_destroy(&attr);
  return rc;
}

/* Starts a reader with its priority and CPU already set, so not even the first event is read late. */
static int start_reader(pe_reader *r, void *(*main_fn)(void *)) {
  int realtime = r->h->priority_mode == PRIORITY_REALTIME;
  int pin = r->cpu >= 0 && r->h->pin_readers;
  int rc = create_thread(r, main_fn, realtime, pin);
  if (rc != 0 && realtime) rc = create_thread(r, main_fn, 0, pin); /* EPERM and the like: normal priority */
  if (rc != 0 && pin) {
    pin = 0; /* the CPU went offline or is not allowed: run unpinned, same events */
    rc = create_thread(r, main_fn, realtime, 0);
    if (rc != 0 && realtime) rc = create_thread(r, main_fn, 0, 0);
  }
  r->pinned = rc == 0 && pin;
  return rc;
}

/* Hands the shared batch to JavaScript; called with h->lock held. */
static void flush_locked(pe_handle *h) {
  pe_batch *b = h->batch;
  h->batch = NULL;
  h->batch_unknown_ppids = 0;
  if (!b || b->count == 0) {
    free_batch(b);
    return;
  }
  if (hand_over_batch(h->tsfn, b, &h->queued_batches, h->max_queued_batches)) return;
  atomic_fetch_add(&h->dropped_events, (long long)b->count);
  free_batch(b);
}

/*
 * A process gone before its exec was read (status too: already reaped) has no known parent; its
 * exit event, usually in the same batch, names the parent at exit time. Called with h->lock held.
 */
static void fill_parent_from_exit(pe_handle *h, const pe_record *exit_rec) {
  pe_batch *b = h->batch;
  if (!b || h->batch_unknown_ppids == 0 || exit_rec->parent_at_exit <= 0) return;
  for (size_t i = b->count; i-- > 0;) {
    pe_record *e = &b->items[i];
    if (e->type != REC_EXEC || e->pid != exit_rec->pid) continue;
    if (e->ppid < 0) {
      e->ppid = exit_rec->parent_at_exit;
      e->parent_at_exit = 1;
      h->batch_unknown_ppids--;
    }
    return;
  }
}

/* Appends a finished record to the shared batch (taking over its strings). */
static void append_record(pe_handle *h, pe_record *r) {
  pthread_mutex_lock(&h->lock);
  if (r->type == REC_EXIT) fill_parent_from_exit(h, r);
  if (!h->batch) h->batch = new_batch(h->max_batch);
  pe_batch *b = h->batch;
  if (!b) {
    atomic_fetch_add(&h->dropped_events, 1);
    free(r->exe);
    free(r->cmdline);
  } else {
    if (b->count == 0) h->flush_at = now_ms() + h->flush_ms;
    b->items[b->count++] = *r;
    if (r->type == REC_EXEC && r->ppid < 0) h->batch_unknown_ppids++;
    if (b->count >= b->cap) flush_locked(h);
  }
  pthread_mutex_unlock(&h->lock);
}

static void handle_message(pe_handle *h, pe_scratch *sc, struct nlmsghdr *nlh) {
  if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(struct proc_event))) return;
  struct cn_msg *cn = NLMSG_DATA(nlh);
  if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) return;
  struct proc_event *ev = (struct proc_event *)cn->data;
  if (ev->what != PROC_EVENT_EXEC && ev->what != PROC_EVENT_EXIT) return;
  atomic_fetch_add(&h->received, 1);

  pe_record r;
  memset(&r, 0, sizeof r);
  r.ppid = -1;
  r.uid = -1;
  r.euid = -1;
  if (ev->what == PROC_EVENT_EXEC) {
    r.type = REC_EXEC;
    r.pid = ev->event_data.exec.process_tgid;
    if (r.pid == h->self_pid) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the event's timestamp_ns is CLOCK_MONOTONIC too */
    long long delay_us = ((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - (long long)ev->timestamp_ns) / 1000;
    int bucket = 0;
    while (bucket < LATENCY_BUCKETS - 1 && delay_us >= LATENCY_LIMITS_US[bucket]) bucket++;
    atomic_fetch_add(&h->latency_hist[bucket], 1);
    read_exec_details(h, sc, &r);
    if (!r.exe && (unsigned)sched_getcpu() != ev->cpu) atomic_fetch_add(&h->exe_unreadable_other_cpu, 1);
    atomic_fetch_add(&h->execs, 1);
  } else {
    if (ev->event_data.exit.process_pid != ev->event_data.exit.process_tgid) return; /* a thread, not a process */
    r.type = REC_EXIT;
    r.pid = ev->event_data.exit.process_tgid;
    r.exit_code = (int)ev->event_data.exit.exit_code;
    r.parent_at_exit = ev->event_data.exit.parent_tgid;
    read_comm(h, r.pid, r.comm, sizeof r.comm);
    atomic_fetch_add(&h->exits, 1);
  }
  append_record(h, &r);
}

static int batch_timeout_ms(pe_handle *h) {
  int timeout = -1;
  pthread_mutex_lock(&h->lock);
  if (h->batch && h->batch->count > 0) {
    int64_t left = h->flush_at - now_ms();
    timeout = left < 0 ? 0 : (int)left;
  }
  pthread_mutex_unlock(&h->lock);
  return timeout;
}

static void flush_if_due(pe_handle *h, int force) {
  pthread_mutex_lock(&h->lock);
  if (h->batch && h->batch->count > 0 && (force || now_ms() >= h->flush_at)) flush_locked(h);
  pthread_mutex_unlock(&h->lock);
}

/*
 * Runs the exec path once on our own pid before the first real event: creates this thread's malloc
 * arena and faults in the code and /proc lookups of the path.
 */
static void warm_up(pe_handle *h, pe_scratch *sc) {
  pe_record r;
  memset(&r, 0, sizeof r);
  r.pid = getpid();
  read_exec_details(h, sc, &r);
  read_comm(h, r.pid, r.comm, sizeof r.comm);
  free(r.exe);
  free(r.cmdline);
  free_batch(new_batch(h->max_batch));
}

static void *reader_main(void *arg) {
  pe_reader *r = arg;
  pe_handle *h = r->h;
  warm_up(h, r->scratch);
  note_priority(r);
  sem_post(&h->ready);
  char *buf = r->scratch->recv;
  for (;;) {
    struct pollfd fds[2] = {{.fd = r->sock, .events = POLLIN}, {.fd = h->stop_fd, .events = POLLIN}};
    int rc = poll(fds, 2, batch_timeout_ms(h));
    if (rc < 0 && errno != EINTR) break;
    if (fds[1].revents) break;
    if (rc > 0 && fds[0].revents) {
      for (;;) {
        struct sockaddr_nl from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(r->sock, buf, RECV_BUF, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
        if (n < 0) {
          if (errno == ENOBUFS) {
            /* The socket overran: the kernel dropped events we will never see. */
            atomic_fetch_add(&h->overruns, 1);
            continue;
          }
          break; /* EAGAIN or a real error: back to poll */
        }
        if (n == 0) break;
        /* Only the kernel (port 0) speaks for the proc connector; any local process can unicast to us. */
        if (from_len < sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0) {
          atomic_fetch_add(&h->foreign_messages, 1);
          continue;
        }
        for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; nl_msg_ok(nlh, n); nlh = nl_msg_next(nlh, &n)) {
          if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_ERROR) continue;
          handle_message(h, r->scratch, nlh);
        }
      }
    }
    flush_if_due(h, 0);
  }
  flush_if_due(h, 1);
  atomic_fetch_add(&h->thread_cpu_ns_final, thread_cpu_ns());
  return NULL;
}

/* ---------- socket setup ---------- */

/*
 * Classic BPF: keep exec events, process (not thread) exits and the kernel's acknowledgements; of
 * the events, only those raised on this reader's CPU (a catch-all reader takes every CPU that has no
 * reader of its own). BPF loads are big-endian, so constants are compared in network order.
 */
static int attach_filter(const pe_handle *h, const pe_reader *r) {
  const unsigned base = NLMSG_LENGTH(0) + offsetof(struct cn_msg, data);
  const unsigned what = base + offsetof(struct proc_event, what);
  const unsigned cpu = base + offsetof(struct proc_event, cpu);
  const unsigned exit_pid = base + offsetof(struct proc_event, event_data.exit.process_pid);
  const unsigned exit_tgid = base + offsetof(struct proc_event, event_data.exit.process_tgid);
  uint32_t others[MAX_READERS];
  int checks = 0;
  if (r->catch_all) {
    for (int i = 0; i < h->nreaders; i++)
      if (&h->readers[i] != r && h->readers[i].cpu >= 0) others[checks++] = (uint32_t)h->readers[i].cpu;
  } else {
    checks = 1;
  }
  const int check_cpu = 8, accept = 9 + checks, reject = accept + 1;
  struct sock_filter code[11 + MAX_READERS];
  int pc = 0;
  code[pc] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, what), pc++;
  code[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_NONE), accept - pc - 1, 0), pc++;
  code[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_EXEC), check_cpu - pc - 1, 0), pc++;
  code[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_EXIT), 0, reject - pc - 1), pc++;
  code[pc] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, exit_pid), pc++;
  code[pc] = (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0), pc++;
  code[pc] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, exit_tgid), pc++;
  code[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, 0, reject - pc - 1), pc++; /* pid == tgid */
  code[pc] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, cpu), pc++;
  if (r->catch_all) {
    for (int i = 0; i < checks; i++, pc++) code[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(others[i]), reject - pc - 1, 0);
  } else {
    code[pc] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl((uint32_t)r->cpu), 0, 1), pc++;
  }
  code[pc++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffff);
  code[pc++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
  struct sock_fprog prog = {.len = (unsigned short)pc, .filter = code};
  return setsockopt(r->sock, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

/* The kernel answers a listen request with an ack whose `ack` field is ours plus one (its seq is its own). */
static int send_listen(int sock, uint32_t nonce, enum proc_cn_mcast_op op) {
  char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))] __attribute__((aligned(NLMSG_ALIGNTO)));
  memset(buf, 0, sizeof buf);
  struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
  nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof op);
  nlh->nlmsg_type = NLMSG_DONE;
  nlh->nlmsg_pid = 0;
  struct cn_msg *cn = NLMSG_DATA(nlh);
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->seq = 0;
  cn->ack = nonce;
  cn->len = sizeof op;
  memcpy(cn->data, &op, sizeof op);
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  return sendto(sock, buf, nlh->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0 ? -1 : 0;
}

/* Waits for the kernel's acknowledgement of our listen request (other listeners' acks are multicast too); returns its error code, or -ETIMEDOUT. */
static int wait_ack(int sock, uint32_t nonce) {
  char buf[RECV_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
  int64_t deadline = now_ms() + ACK_TIMEOUT_MS;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return -ETIMEDOUT;
    struct pollfd p = {.fd = sock, .events = POLLIN};
    int rc = poll(&p, 1, (int)left);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return rc == 0 ? -ETIMEDOUT : -errno;
    struct sockaddr_nl from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(sock, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) continue;
      return -errno;
    }
    if (from_len < sizeof from || from.nl_pid != 0) continue; /* not the kernel: ignore */
    for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; nl_msg_ok(nlh, n); nlh = nl_msg_next(nlh, &n)) {
      if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(struct proc_event))) continue;
      struct cn_msg *cn = NLMSG_DATA(nlh);
      struct proc_event *ev = (struct proc_event *)cn->data;
      if (cn->id.idx == CN_IDX_PROC && ev->what == PROC_EVENT_NONE && cn->ack == nonce + 1) return (int)ev->event_data.ack.err;
    }
  }
}

/* ---------- N-API entry points ---------- */

/* Stops and joins the readers that started, unregisters and closes every socket and fd. */
static void stop_readers(pe_handle *h) {
  if (h->stop_fd >= 0) {
    uint64_t one = 1;
    ssize_t ignored = write(h->stop_fd, &one, sizeof one);
    (void)ignored;
  }
  for (int i = 0; i < h->nreaders; i++) {
    pe_reader *r = &h->readers[i];
    if (r->started) pthread_join(r->thread, NULL);
    if (r->scratch) munmap(r->scratch, sizeof *r->scratch);
    r->scratch = NULL;
    if (r->sock >= 0) {
      send_listen(r->sock, 0, PROC_CN_MCAST_IGNORE);
      close(r->sock);
      r->sock = -1;
    }
  }
  if (h->stop_fd >= 0) close(h->stop_fd);
  if (h->proc_fd >= 0) close(h->proc_fd);
  h->stop_fd = h->proc_fd = -1;
}

static void stop_handle(pe_handle *h) {
  if (h->closed) return;
  h->closed = 1;
  stop_readers(h);
  if (h->tsfn) napi_release_threadsafe_function(h->tsfn, napi_tsfn_release);
}

/* Both finalizers run on the JS thread, so the count needs no atomics. */
static void drop_ref(pe_handle *h) {
  if (--h->refs == 0) {
    pthread_mutex_destroy(&h->lock);
    munmap(h, sizeof *h);
  }
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  pe_handle *h = data;
  stop_handle(h);
  drop_ref(h);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  drop_ref(data);
}

static void *probe_main(void *arg) {
  return arg;
}

/* Whether a SCHED_FIFO thread may be created here (CAP_SYS_NICE and RT runtime in the cgroup). */
static int realtime_permitted(void) {
  pthread_attr_t attr;
  struct sched_param sp = {.sched_priority = 1};
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
  pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
  pthread_attr_setschedparam(&attr, &sp);
  int rc = pthread_create(&t, &attr, probe_main, NULL);
  pthread_attr_destroy(&attr);
  if (rc == 0) pthread_join(t, NULL);
  return rc == 0;
}

/*
 * Which CPUs get a reader: every CPU this process may run on, up to MAX_READERS; reader 0 also takes
 * the rest. Per-CPU readers only at real-time priority: a normal-priority reader pinned to the new
 * process's CPU does not preempt it (measured: 38% captured against 46-94% for one unpinned reader,
 * which can run on another, idle CPU).
 */
static void plan_readers(pe_handle *h, int per_cpu) {
  cpu_set_t set;
  h->nreaders = 0;
  if (per_cpu && h->priority_mode == PRIORITY_REALTIME && realtime_permitted() && sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 1) {
    for (int cpu = 0; cpu < CPU_SETSIZE && h->nreaders < MAX_READERS; cpu++) {
      if (CPU_ISSET(cpu, &set)) h->readers[h->nreaders++].cpu = cpu;
    }
  }
  if (h->nreaders == 0) {
    h->readers[0].cpu = -1;
    h->nreaders = 1;
  }
  for (int i = 0; i < h->nreaders; i++) {
    h->readers[i].h = h;
    h->readers[i].sock = -1;
    h->readers[i].catch_all = i == 0;
  }
}

/* Opens, filters and registers one reader's socket; returns 0 or an errno with *step naming what failed. */
static int open_reader_socket(pe_handle *h, pe_reader *r, int rcvbuf, const char **step) {
  r->sock = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (r->sock < 0) {
    *step = "netlink connector socket";
    return errno;
  }
  /* A large receive buffer rides out bursts; FORCE goes beyond rmem_max and needs CAP_NET_ADMIN. */
  if (setsockopt(r->sock, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
    setsockopt(r->sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
  if (bind(r->sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
    *step = "bind to the proc connector group";
    return errno;
  }
  if (attach_filter(h, r) < 0) {
    *step = "attach socket filter";
    return errno;
  }
  uint32_t nonce = ((uint32_t)now_ms() ^ ((uint32_t)getpid() << 12) ^ ((uint32_t)(r - h->readers) << 24)) & 0x7fffffff;
  if (send_listen(r->sock, nonce, PROC_CN_MCAST_LISTEN) < 0) {
    *step = "send listen request";
    return errno;
  }
  int ack = wait_ack(r->sock, nonce);
  if (ack == -ETIMEDOUT) {
    *step = "no answer from the proc connector (not in the initial network/PID namespace?)";
    return ETIMEDOUT;
  }
  if (ack != 0) {
    *step = "proc connector refused listen";
    return ack < 0 ? -ack : ack;
  }
  return 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "open(options, onBatch) needs two arguments");
    return NULL;
  }
  char proc_root[PATH_MAX] = "/proc";
  if (get_string_option(env, argv[0], "procRoot", proc_root, sizeof proc_root) < 0) {
    napi_throw_type_error(env, NULL, "procRoot must be a string");
    return NULL;
  }
  int rcvbuf = get_int_option(env, argv[0], "receiveBufferBytes", 8 * 1024 * 1024);
  int max_batch = get_int_option(env, argv[0], "maxBatch", 512);
  int flush_ms = get_int_option(env, argv[0], "flushMs", 20);
  int max_queued = get_int_option(env, argv[0], "maxQueuedBatches", 64);
  int priority_mode = get_int_option(env, argv[0], "realtime", 1) ? PRIORITY_REALTIME : PRIORITY_NORMAL;
  int per_cpu = get_int_option(env, argv[0], "perCpuReaders", 1) != 0;
  if (max_batch < 1) max_batch = 1;
  if (flush_ms < 0) flush_ms = 0;
  if (max_queued < 1) max_queued = 1;

  pe_handle *h = fork_proof_alloc(sizeof *h); /* its counters and lock are written on every event */
  if (!h) return throw_errno(env, "out of memory", ENOMEM);
  h->stop_fd = h->proc_fd = -1;
  h->refs = 1;
  h->self_pid = getpid();
  h->max_batch = (size_t)max_batch;
  h->flush_ms = flush_ms;
  h->max_queued_batches = max_queued;
  h->priority_mode = priority_mode;
  h->pin_readers = per_cpu;
  pthread_mutex_init(&h->lock, NULL);
  plan_readers(h, per_cpu);

  int err = 0;
  const char *step = "";
  h->proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (h->proc_fd < 0) {
    err = errno;
    step = "open proc root";
    goto fail;
  }
  for (int i = 0; i < h->nreaders; i++) {
    err = open_reader_socket(h, &h->readers[i], rcvbuf, &step);
    if (err != 0) goto fail;
    h->readers[i].scratch = fork_proof_alloc(sizeof(pe_scratch));
    if (!h->readers[i].scratch) {
      err = ENOMEM;
      step = "reader buffers";
      goto fail;
    }
  }
  h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (h->stop_fd < 0) {
    err = errno;
    step = "eventfd";
    goto fail;
  }

  if (create_batch_function(env, argv[1], "edgeguard-proc-connector", h, tsfn_finalize, call_js, &h->tsfn) != napi_ok) {
    err = EINVAL;
    step = "create threadsafe function (is onBatch a function?)";
    goto fail;
  }

  sem_init(&h->ready, 0, 0);
  for (int i = 0; i < h->nreaders; i++) {
    pe_reader *r = &h->readers[i];
    int started = start_reader(r, reader_main);
    if (started != 0) {
      err = started;
      step = "start reader thread";
      goto fail;
    }
    r->started = 1;
    /* Go on only once the reader runs: events of processes started right after open() are read in time. */
    while (sem_wait(&h->ready) != 0 && errno == EINTR) {
    }
    pthread_getcpuclockid(r->thread, &r->clock);
  }

  napi_value external;
  h->refs++;
  if (napi_create_external(env, h, finalize_handle, NULL, &external) != napi_ok) {
    h->refs--;
    stop_handle(h);
    napi_throw_error(env, NULL, "could not create the handle object");
    return NULL;
  }
  return external;

fail:
  h->closed = 1;
  stop_readers(h); /* joins the readers already started and closes every socket and fd */
  if (h->tsfn) {
    napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort); /* tsfn_finalize frees h */
  } else {
    pthread_mutex_destroy(&h->lock);
    munmap(h, sizeof *h);
  }
  return throw_errno(env, step, err);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  pe_handle *h = handle_argument(env, info, "expected a handle from open()");
  if (h) stop_handle(h);
  return NULL;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  pe_handle *h = handle_argument(env, info, "expected a handle from open()");
  if (!h) return NULL;
  napi_value o;
  napi_create_object(env, &o);
  set_int(env, o, "received", atomic_load(&h->received));
  set_int(env, o, "execs", atomic_load(&h->execs));
  set_int(env, o, "exits", atomic_load(&h->exits));
  set_int(env, o, "overruns", atomic_load(&h->overruns));
  set_int(env, o, "droppedEvents", atomic_load(&h->dropped_events));
  set_int(env, o, "exeUnreadable", atomic_load(&h->exe_unreadable));
  long long cpu = atomic_load(&h->thread_cpu_ns_final);
  int realtime = 1, pinned = 0;
  for (int i = 0; i < h->nreaders; i++) {
    pe_reader *r = &h->readers[i];
    struct timespec ts;
    if (!h->closed && r->started && clock_gettime(r->clock, &ts) == 0) cpu += (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    realtime = realtime && r->realtime;
    pinned += r->pinned;
  }
  set_int(env, o, "threadCpuNs", cpu);
  set_str(env, o, "priority", PRIORITY_NAMES[realtime ? PRIORITY_REALTIME : PRIORITY_NORMAL], NAPI_AUTO_LENGTH);
  set_int(env, o, "readers", h->nreaders);
  set_int(env, o, "exeUnreadableOtherCpu", atomic_load(&h->exe_unreadable_other_cpu));
  napi_value hist;
  napi_create_array_with_length(env, LATENCY_BUCKETS, &hist);
  for (int i = 0; i < LATENCY_BUCKETS; i++) {
    napi_value n;
    napi_create_int64(env, atomic_load(&h->latency_hist[i]), &n);
    napi_set_element(env, hist, (uint32_t)i, n);
  }
  napi_set_named_property(env, o, "execReadDelayHistogram", hist);
  set_int(env, o, "pinnedReaders", pinned);
  set_int(env, o, "foreignMessages", atomic_load(&h->foreign_messages));
  return o;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  sock_diag_register(env, exports);
  memory_trim_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
