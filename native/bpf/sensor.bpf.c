// SPDX-License-Identifier: GPL-2.0
/*
 * EdgeGuard kernel sensor: process, TCP and sensitive-file events from tracepoints, to user space
 * through one BPF ring buffer (records in sensor_events.h). Tracepoints only: the target kernels
 * may have no kprobes, fentry or modules. Loaded by native/kernel_sensor.c; how it fits together is
 * in docs/kernel-sensor.md.
 *
 * Filtering happens here, so a busy host costs little: sockets other than TCP are dropped at the
 * first look, file operations only pass for paths under the sensitive prefixes (an LPM trie filled
 * by user space), and the pid tree of EdgeGuard itself can be excluded from file and network events.
 * Every record that does not fit in the ring buffer is counted per type (drops map): a loss is
 * never silent.
 */
#include "vmlinux-min.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "sensor_events.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD -100
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define FMODE_WRITE 0x2
#define EINPROGRESS 115
#define REC_MAX 16384
#define NAME_KEY 32

/* Masks v in a way the compiler cannot fold into the comparisons around it, so the verifier sees the bound. */
#define BOUND(v, mask) asm volatile("%0 &= " #mask : "+r"(v))

/* What user space switched on (config[0]). */
struct eg_config {
  __u32 process; /* exec and exit */
  __u32 network; /* connect, accept, listen, bind */
  __u32 files;   /* sensitive file operations */
  __u32 exclude_tree; /* skip file and network events of excluded pids (EdgeGuard's own tree) */
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct eg_config);
} config SEC(".maps");

/* Records lost because the ring buffer was full, by record type. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 8);
  __type(key, __u32);
  __type(value, __u64);
} drops SEC(".maps");

/* Pids (tgids) whose file and network events are not reported; children are added at fork. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);
  __type(value, __u8);
} excluded SEC(".maps");

struct prefix_key {
  __u32 prefixlen; /* bits */
  __u8 data[EG_PREFIX_MAX];
};

/* Sensitive path prefixes -> EG_WATCH_* */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 128);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct prefix_key);
  __type(value, __u32);
} prefixes SEC(".maps");

/*
 * File names -> EG_WATCH_*: EG_WATCH_READ entries are the last components of the read-watched paths
 * (a cheap first test before a read open's path walk); EG_WATCH_WRITE entries are watched for
 * writes wherever they are (shell history files in every home directory).
 */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, char[NAME_KEY]);
  __type(value, __u8);
} names SEC(".maps");

/* Watched files by inode (device as the kernel numbers it) -> EG_WATCH_*, filled by user space at load. */
struct inode_key {
  __u64 ino;
  __u32 dev;
  __u32 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 128);
  __type(key, struct inode_key);
  __type(value, __u32);
} inodes SEC(".maps");

/* A network syscall between its entry and its exit, by thread. */
struct stash {
  __u32 kind;
  __s32 fd;
  __s32 backlog;
  __u32 pad;
  __u8 sa[28];
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct stash);
} inflight SEC(".maps");

struct rec_buf {
  char data[REC_MAX];
};

struct path_buf {
  char data[EG_PATH_MAX * 2];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rec_buf);
} recs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct path_buf);
} paths SEC(".maps");

static __always_inline struct eg_config *get_config(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&config, &zero);
}

static __always_inline void count_drop(__u32 type) {
  __u64 *n = bpf_map_lookup_elem(&drops, &type);
  if (n) __sync_fetch_and_add(n, 1);
}

static __always_inline int is_excluded(struct eg_config *cfg) {
  if (!cfg->exclude_tree) return 0;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  return bpf_map_lookup_elem(&excluded, &tgid) != 0;
}

static __always_inline void fill_header(struct eg_header *h, __u32 type, struct task_struct *t) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u64 uid_gid = bpf_get_current_uid_gid();
  h->type = type;
  h->size = 0;
  h->tgid = pid_tgid >> 32;
  h->tid = (__u32)pid_tgid;
  h->ppid = BPF_CORE_READ(t, real_parent, tgid);
  h->uid = (__u32)uid_gid;
  h->gid = uid_gid >> 32;
  h->euid = BPF_CORE_READ(t, cred, euid.val);
  h->flags = 0;
  h->pad = 0;
  h->cgroup_id = bpf_get_current_cgroup_id();
  h->cgroup_v1_id = 0;
  if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
    int idx = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
    if (idx >= 0 && idx < 12) h->cgroup_v1_id = BPF_CORE_READ(t, cgroups, subsys[idx], cgroup, kn, id);
  }
  h->ktime_ns = bpf_ktime_get_ns();
  bpf_get_current_comm(h->comm, sizeof h->comm);
}

/*
 * Writes the absolute path of `p` into buf, ending just before buf[EG_PATH_MAX] (like d_path,
 * backwards from the leaf, crossing mounts, up to the root of the caller's mount namespace).
 * Returns the start offset; sets *truncated when components were left out.
 */
static __noinline __u32 walk_path(struct path *p, char *buf, __u32 *truncated) {
  struct dentry *dentry = BPF_CORE_READ(p, dentry);
  struct vfsmount *vfsmnt = BPF_CORE_READ(p, mnt);
  struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
  struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
  __u32 pos = EG_PATH_MAX;
  *truncated = 0;
  for (int i = 0; i < EG_PATH_COMPONENTS; i++) {
    struct dentry *root = BPF_CORE_READ(vfsmnt, mnt_root);
    struct dentry *up = BPF_CORE_READ(dentry, d_parent);
    if (dentry == root || dentry == up) {
      if (dentry != root || mnt == parent) break; /* the namespace's root (or an unlinked tree) */
      dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
      mnt = parent;
      parent = BPF_CORE_READ(mnt, mnt_parent);
      vfsmnt = &mnt->mnt;
      continue;
    }
    __u32 len = BPF_CORE_READ(dentry, d_name.len);
    const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
    len &= EG_PATH_MAX - 1;
    if (len + 2 > pos) {
      *truncated = 1;
      break;
    }
    pos -= len + 1;
    pos &= EG_PATH_MAX - 1;
    buf[pos] = '/';
    bpf_probe_read_kernel(buf + pos + 1, len, name);
    dentry = up;
    if (i == EG_PATH_COMPONENTS - 1) *truncated = 1;
  }
  if (pos == EG_PATH_MAX) {
    pos = EG_PATH_MAX - 1;
    buf[pos] = '/';
  }
  return pos;
}

static __always_inline struct file *fd_file(struct task_struct *t, int fd) {
  if (fd < 0) return 0;
  struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
  if (!fdt || (__u32)fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *f = 0;
  bpf_probe_read_kernel(&f, sizeof f, &fds[fd]);
  return f;
}

/* Copies `len` bytes of buf from `pos` into the record at `off`; returns the new offset (or REC_MAX when it does not fit). */
static __always_inline __u32 put(char *rec, __u32 off32, const char *buf, __u32 pos32, __u32 len32) {
  if (pos32 + len32 > EG_PATH_MAX * 2 || off32 > REC_MAX - EG_PATH_MAX * 2) return REC_MAX;
  __u64 off = off32, pos = pos32, len = len32;
  BOUND(off, 16383);
  BOUND(pos, 8191);
  BOUND(len, 8191);
  if (off > REC_MAX - EG_PATH_MAX * 2) return REC_MAX;
  bpf_probe_read_kernel(rec + off, len, buf + pos);
  return off32 + len32;
}

/* Whether a path (len bytes at buf+pos) is under a sensitive prefix asking for `want`. */
static __always_inline int watched(const char *buf, __u32 pos, __u32 len, __u32 want) {
  struct prefix_key key = {};
  __u64 n = len < EG_PREFIX_MAX ? len : EG_PREFIX_MAX;
  __u64 start = pos;
  BOUND(n, 255);
  BOUND(start, 8191);
  if (start > EG_PATH_MAX * 2 - EG_PREFIX_MAX || n > EG_PREFIX_MAX) return 0;
  bpf_probe_read_kernel(key.data, n, buf + start);
  /*
   * A ".." component (a caller's path as given: "/tmp/../etc/shadow") cannot be matched against the
   * prefixes lexically here: such a path is reported whatever it names (user space normalises it).
   */
  for (int i = 0; i < EG_PREFIX_MAX - 2; i++) {
    if (i + 2 >= n) break;
    if (key.data[i] == '/' && key.data[i + 1] == '.' && key.data[i + 2] == '.') return 1;
  }
  key.prefixlen = n * 8;
  __u32 *flags = bpf_map_lookup_elem(&prefixes, &key);
  return flags && (*flags & want);
}

static __always_inline void emit(char *rec, __u32 size32, __u32 type) {
  __u64 size = size32;
  BOUND(size, 16383); /* put() keeps every record below REC_MAX */
  if (size < sizeof(struct eg_header)) return;
  ((struct eg_header *)rec)->size = (__u32)size;
  if (bpf_ringbuf_output(&events, rec, size, 0) != 0) count_drop(type);
}

static __always_inline void *scratch_rec(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&recs, &zero);
}

static __always_inline void *scratch_path(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&paths, &zero);
}

/* ---------- processes ---------- */

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx) {
  struct eg_config *cfg = get_config();
  if (!cfg || !cfg->process) return 0;
  char *rec = scratch_rec();
  char *pb = scratch_path();
  if (!rec || !pb) return 0;
  struct task_struct *t = (void *)bpf_get_current_task();
  struct eg_exec *e = (void *)rec;
  fill_header(&e->h, EG_EXEC, t);
  __u32 off = sizeof(*e), trunc = 0, pos;

  struct file *exe = BPF_CORE_READ(t, mm, exe_file);
  e->exe_len = 0;
  if (exe) {
    pos = walk_path(&exe->f_path, pb, &trunc);
    if (trunc) e->h.flags |= EG_F_PATH_TRUNCATED;
    __u32 next = put(rec, off, pb, pos, EG_PATH_MAX - pos);
    if (next < REC_MAX) {
      e->exe_len = next - off;
      off = next;
    }
  }

  e->cwd_len = 0;
  struct fs_struct *fs = BPF_CORE_READ(t, fs);
  if (fs) {
    pos = walk_path(&fs->pwd, pb, &trunc);
    if (trunc) e->h.flags |= EG_F_CWD_TRUNCATED;
    __u32 next = put(rec, off, pb, pos, EG_PATH_MAX - pos);
    if (next < REC_MAX) {
      e->cwd_len = next - off;
      off = next;
    }
  }

  e->tty_len = 0;
  struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
  if (tty && off <= REC_MAX - EG_TTY_MAX) {
    long n = bpf_probe_read_kernel_str(rec + off, EG_TTY_MAX, &tty->name);
    if (n > 1) {
      e->tty_len = n - 1;
      off += n - 1;
    }
  }

  e->argv_len = 0;
  e->argv_total = 0;
  e->pad = 0;
  unsigned long start = BPF_CORE_READ(t, mm, arg_start), end = BPF_CORE_READ(t, mm, arg_end);
  if (end > start) {
    __u64 total = end - start;
    __u32 n = total > EG_ARGV_MAX ? EG_ARGV_MAX : (__u32)total;
    e->argv_total = total > 0xffffffffULL ? 0xffffffffU : (__u32)total;
    if (total > EG_ARGV_MAX) e->h.flags |= EG_F_ARGV_TRUNCATED;
    if (off <= REC_MAX - EG_ARGV_MAX && n <= EG_ARGV_MAX && bpf_probe_read_user(rec + off, n, (void *)start) == 0) {
      e->argv_len = n;
      off += n;
    }
  }
  emit(rec, off, EG_EXEC);
  return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tid = (__u32)pid_tgid;
  bpf_map_delete_elem(&excluded, &tid);
  if ((pid_tgid >> 32) != tid) return 0; /* a thread, not the process */
  struct eg_config *cfg = get_config();
  if (!cfg || !cfg->process) return 0;
  struct task_struct *t = (void *)bpf_get_current_task();
  struct eg_exit e = {};
  fill_header(&e.h, EG_EXIT, t);
  int code = BPF_CORE_READ(t, exit_code);
  if (code == 0) code = BPF_CORE_READ(t, signal, group_exit_code);
  e.exit_code = code;
  e.h.size = sizeof e;
  if (bpf_ringbuf_output(&events, &e, sizeof e, 0) != 0) count_drop(EG_EXIT);
  return 0;
}

SEC("tracepoint/sched/sched_process_fork")
int on_fork(struct trace_event_raw_sched_process_fork *ctx) {
  struct eg_config *cfg = get_config();
  if (!cfg || !cfg->exclude_tree) return 0;
  __u32 parent = bpf_get_current_pid_tgid() >> 32;
  if (!bpf_map_lookup_elem(&excluded, &parent)) return 0;
  __u32 child = ctx->child_pid;
  __u8 one = 1;
  bpf_map_update_elem(&excluded, &child, &one, BPF_ANY);
  return 0;
}

/* ---------- TCP ---------- */

static __always_inline struct sock *tcp_sock_of(struct task_struct *t, int fd) {
  struct file *f = fd_file(t, fd);
  if (!f) return 0;
  struct socket *sock = BPF_CORE_READ(f, private_data);
  if (!sock) return 0;
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk) return 0;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != AF_INET && family != AF_INET6) return 0;
  if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP) return 0;
  return sk;
}

static __always_inline void addresses_from_sock(struct eg_net *e, struct sock *sk) {
  e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  e->remote_port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (e->family == AF_INET) {
    __be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(e->local_addr, &l, 4);
    __builtin_memcpy(e->remote_addr, &r, 4);
  } else {
    BPF_CORE_READ_INTO(&e->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
    BPF_CORE_READ_INTO(&e->remote_addr, sk, __sk_common.skc_v6_daddr);
  }
}

/* A sockaddr_in / sockaddr_in6 as the caller passed it (for a failed connect or bind). */
static __always_inline void address_from_sockaddr(const __u8 *sa, __u8 *addr, __u16 *port) {
  __u16 family = sa[0] | (sa[1] << 8);
  *port = (sa[2] << 8) | sa[3];
  if (family == AF_INET) __builtin_memcpy(addr, sa + 4, 4);
  else __builtin_memcpy(addr, sa + 8, 16);
}

static __always_inline int stash_enter(__u32 kind, int fd, const void *user_sa, int addrlen, int backlog) {
  struct eg_config *cfg = get_config();
  if (!cfg || !cfg->network || is_excluded(cfg)) return 0;
  struct task_struct *t = (void *)bpf_get_current_task();
  if (!tcp_sock_of(t, fd)) return 0;
  struct stash s = {};
  s.kind = kind;
  s.fd = fd;
  s.backlog = backlog;
  if (user_sa) {
    __u16 family = 0;
    if (addrlen < 2 || bpf_probe_read_user(&family, sizeof family, user_sa) != 0) return 0;
    if (family == AF_INET) {
      if (addrlen < 16 || bpf_probe_read_user(s.sa, 16, user_sa) != 0) return 0;
    } else if (family == AF_INET6) {
      if (addrlen < 28 || bpf_probe_read_user(s.sa, 28, user_sa) != 0) return 0;
    } else {
      return 0;
    }
  }
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  bpf_map_update_elem(&inflight, &tid, &s, BPF_ANY);
  return 0;
}

static __always_inline int stash_exit(long ret) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct stash *s = bpf_map_lookup_elem(&inflight, &tid);
  if (!s) return 0;
  struct stash copy = *s;
  bpf_map_delete_elem(&inflight, &tid);
  struct task_struct *t = (void *)bpf_get_current_task();
  struct eg_net e = {};
  fill_header(&e.h, copy.kind, t);
  e.result = (__s32)ret;
  e.backlog = copy.backlog;
  struct sock *sk = tcp_sock_of(t, copy.fd);
  if (sk) addresses_from_sock(&e, sk);
  int ok = ret == 0 || (copy.kind == EG_CONNECT && ret == -EINPROGRESS);
  if (!ok && copy.sa[0] | copy.sa[1]) {
    /* Failed: the kernel's socket holds no peer (connect) or no new address (bind); report what was asked. */
    e.family = copy.sa[0] | (copy.sa[1] << 8);
    if (copy.kind == EG_CONNECT) address_from_sockaddr(copy.sa, e.remote_addr, &e.remote_port);
    else address_from_sockaddr(copy.sa, e.local_addr, &e.local_port);
  }
  e.h.size = sizeof e;
  if (bpf_ringbuf_output(&events, &e, sizeof e, 0) != 0) count_drop(copy.kind);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int on_connect_enter(struct trace_event_raw_sys_enter *ctx) {
  return stash_enter(EG_CONNECT, (int)ctx->args[0], (void *)ctx->args[1], (int)ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_exit_connect")
int on_connect_exit(struct trace_event_raw_sys_exit *ctx) {
  return stash_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int on_bind_enter(struct trace_event_raw_sys_enter *ctx) {
  return stash_enter(EG_BIND, (int)ctx->args[0], (void *)ctx->args[1], (int)ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_exit_bind")
int on_bind_exit(struct trace_event_raw_sys_exit *ctx) {
  return stash_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_listen")
int on_listen_enter(struct trace_event_raw_sys_enter *ctx) {
  return stash_enter(EG_LISTEN, (int)ctx->args[0], 0, 0, (int)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_exit_listen")
int on_listen_exit(struct trace_event_raw_sys_exit *ctx) {
  return stash_exit(ctx->ret);
}

static __always_inline int accepted(long ret) {
  if (ret < 0) return 0; /* EAGAIN of a non-blocking accept loop and the like: not a connection */
  struct eg_config *cfg = get_config();
  if (!cfg || !cfg->network || is_excluded(cfg)) return 0;
  struct task_struct *t = (void *)bpf_get_current_task();
  struct sock *sk = tcp_sock_of(t, (int)ret);
  if (!sk) return 0;
  struct eg_net e = {};
  fill_header(&e.h, EG_ACCEPT, t);
  e.result = (__s32)ret;
  addresses_from_sock(&e, sk);
  e.h.size = sizeof e;
  if (bpf_ringbuf_output(&events, &e, sizeof e, 0) != 0) count_drop(EG_ACCEPT);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int on_accept4_exit(struct trace_event_raw_sys_exit *ctx) {
  return accepted(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int on_accept_exit(struct trace_event_raw_sys_exit *ctx) {
  return accepted(ctx->ret);
}

/* ---------- sensitive files ---------- */

/* Resolves a user path (absolute, or relative to dfd / the cwd) into pb; returns its start, *len its length. */
static __always_inline __u32 user_path(struct task_struct *t, int dfd, const char *user, char *pb, __u32 *len, __u32 *flags, __u32 trunc_flag) {
  char first = 0;
  *len = 0;
  if (!user || bpf_probe_read_user(&first, 1, user) != 0) return EG_PATH_MAX;
  __u32 pos = EG_PATH_MAX;
  if (first != '/') {
    struct path *base = 0;
    if (dfd == AT_FDCWD) {
      struct fs_struct *fs = BPF_CORE_READ(t, fs);
      if (fs) base = &fs->pwd;
    } else {
      struct file *f = fd_file(t, dfd);
      if (f) base = &f->f_path;
    }
    if (!base) return EG_PATH_MAX;
    __u32 trunc = 0;
    pos = walk_path(base, pb, &trunc);
    if (trunc) *flags |= trunc_flag;
    *flags |= EG_F_RELATIVE;
    pb[EG_PATH_MAX] = '/';
    long n = bpf_probe_read_user_str(pb + EG_PATH_MAX + 1, EG_PATH_MAX - 1, user);
    if (n < 1) return EG_PATH_MAX;
    *len = (EG_PATH_MAX - pos) + (__u32)n; /* the '/' and the name without its NUL */
  } else {
    long n = bpf_probe_read_user_str(pb + EG_PATH_MAX, EG_PATH_MAX, user);
    if (n < 1) return EG_PATH_MAX;
    *len = (__u32)n - 1;
  }
  if (*len > EG_PATH_MAX * 2 - 1) *len = EG_PATH_MAX * 2 - 1;
  return pos;
}

static __always_inline struct eg_file *file_record(char *rec, __u32 op, struct task_struct *t) {
  struct eg_file *e = (void *)rec;
  fill_header(&e->h, EG_FILE, t);
  e->op = op;
  e->result = 0;
  e->path_len = 0;
  e->path2_len = 0;
  e->open_flags = 0;
  e->pad = 0;
  return e;
}

/* unlink, truncate, rename (two paths), finit_module: reported on entry when a path is watched. */
static __always_inline int path_op(__u32 op, int dfd, const char *user, int dfd2, const char *user2, int fd) {
  struct eg_config *cfg = get_config();
  if (!cfg || !cfg->files || is_excluded(cfg)) return 0;
  char *rec = scratch_rec();
  char *pb = scratch_path();
  if (!rec || !pb) return 0;
  struct task_struct *t = (void *)bpf_get_current_task();
  struct eg_file *e = file_record(rec, op, t);
  __u32 off = sizeof(*e), len = 0, pos, hit = op == EG_MODULE_LOAD;
  if (fd >= 0) {
    struct file *f = fd_file(t, fd);
    if (!f) return 0;
    __u32 trunc = 0;
    pos = walk_path(&f->f_path, pb, &trunc);
    if (trunc) e->h.flags |= EG_F_PATH_TRUNCATED;
    len = EG_PATH_MAX - pos;
  } else {
    pos = user_path(t, dfd, user, pb, &len, &e->h.flags, EG_F_PATH_TRUNCATED);
  }
  if (len > 0) {
    hit |= watched(pb, pos, len, EG_WATCH_WRITE);
    __u32 next = put(rec, off, pb, pos, len);
    if (next < REC_MAX) {
      e->path_len = next - off;
      off = next;
    }
  }
  if (user2) {
    pos = user_path(t, dfd2, user2, pb, &len, &e->h.flags, EG_F_PATH2_TRUNCATED);
    if (len > 0) {
      hit |= watched(pb, pos, len, EG_WATCH_WRITE);
      __u32 next = put(rec, off, pb, pos, len);
      if (next < REC_MAX) {
        e->path2_len = next - off;
        off = next;
      }
    }
  }
  /* A path deeper than the walk lost its top components and cannot be matched: reported, flagged. */
  if (e->h.flags & (EG_F_PATH_TRUNCATED | EG_F_PATH2_TRUNCATED)) hit = 1;
  if (hit) emit(rec, off, EG_FILE);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int on_unlinkat(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_UNLINK, (int)ctx->args[0], (const char *)ctx->args[1], 0, 0, -1);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int on_unlink(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_UNLINK, AT_FDCWD, (const char *)ctx->args[0], 0, 0, -1);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int on_renameat2(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_RENAME, (int)ctx->args[0], (const char *)ctx->args[1], (int)ctx->args[2],
                 (const char *)ctx->args[3], -1);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int on_renameat(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_RENAME, (int)ctx->args[0], (const char *)ctx->args[1], (int)ctx->args[2],
                 (const char *)ctx->args[3], -1);
}

SEC("tracepoint/syscalls/sys_enter_rename")
int on_rename(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_RENAME, AT_FDCWD, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], -1);
}

SEC("tracepoint/syscalls/sys_enter_truncate")
int on_truncate(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_TRUNCATE, AT_FDCWD, (const char *)ctx->args[0], 0, 0, -1);
}

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int on_ftruncate(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_TRUNCATE, 0, 0, 0, 0, (int)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int on_finit_module(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_MODULE_LOAD, 0, 0, 0, 0, (int)ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int on_init_module(struct trace_event_raw_sys_enter *ctx) {
  return path_op(EG_MODULE_LOAD, AT_FDCWD, 0, 0, 0, -1);
}

/*
 * A successful open: the path of the file it opened (symlinks and relative names already
 * resolved by the kernel). Writes are walked and checked against the prefixes; reads only when
 * the file's name is one of the read-watched names (read opens are by far the most frequent).
 */
static __always_inline int opened(long ret) {
  if (ret < 0) return 0;
  struct eg_config *cfg = get_config();
  if (!cfg || !cfg->files || is_excluded(cfg)) return 0;
  struct task_struct *t = (void *)bpf_get_current_task();
  struct file *f = fd_file(t, (int)ret);
  if (!f) return 0;
  unsigned int mode = BPF_CORE_READ(f, f_mode);
  __u32 want = EG_WATCH_WRITE, op = EG_OPEN_WRITE, name_hit = 0;
  char name[NAME_KEY] = {};
  const unsigned char *n = BPF_CORE_READ(f, f_path.dentry, d_name.name);
  bpf_probe_read_kernel_str(name, sizeof name, n);
  __u8 *name_flags = bpf_map_lookup_elem(&names, name);
  /* The watched files themselves, by inode: a hard link or a bind mount elsewhere is the same file. */
  struct inode_key ik = {};
  ik.ino = BPF_CORE_READ(f, f_inode, i_ino);
  ik.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
  __u32 *inode_flags = bpf_map_lookup_elem(&inodes, &ik);
  if (!(mode & FMODE_WRITE)) {
    want = EG_WATCH_READ;
    op = EG_OPEN_READ;
    name_hit = inode_flags && (*inode_flags & EG_WATCH_READ);
    if (!name_hit && (!name_flags || !(*name_flags & EG_WATCH_READ))) return 0;
  } else {
    name_hit = (name_flags && (*name_flags & EG_WATCH_WRITE)) || (inode_flags && (*inode_flags & EG_WATCH_WRITE));
  }
  char *rec = scratch_rec();
  char *pb = scratch_path();
  if (!rec || !pb) return 0;
  __u32 trunc = 0;
  __u32 pos = walk_path(&f->f_path, pb, &trunc);
  __u32 len = EG_PATH_MAX - pos;
  /* Too deep to match (top components lost): a write is reported, flagged; a read only by its name. */
  if (!name_hit && !(trunc && want == EG_WATCH_WRITE) && !watched(pb, pos, len, want)) return 0;
  struct eg_file *e = file_record(rec, op, t);
  if (trunc) e->h.flags |= EG_F_PATH_TRUNCATED;
  e->result = (__s32)ret;
  e->open_flags = mode;
  __u32 off = sizeof(*e);
  __u32 next = put(rec, off, pb, pos, len);
  if (next < REC_MAX) {
    e->path_len = next - off;
    off = next;
  }
  emit(rec, off, EG_FILE);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int on_openat_exit(struct trace_event_raw_sys_exit *ctx) {
  return opened(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int on_openat2_exit(struct trace_event_raw_sys_exit *ctx) {
  return opened(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_open")
int on_open_exit(struct trace_event_raw_sys_exit *ctx) {
  return opened(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int on_creat_exit(struct trace_event_raw_sys_exit *ctx) {
  return opened(ctx->ret);
}
