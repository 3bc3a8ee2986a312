/*
 * Records the kernel sensor writes to its ring buffer, shared by the BPF program (sensor.bpf.c)
 * and the addon (kernel_sensor.c), decoded in JavaScript by src/sources/host/kernel/sensor-records.ts.
 * Native byte order; every record starts with eg_header; variable parts follow in the order listed.
 * Changing a layout means changing all three (and RECORD_VERSION).
 */
#ifndef EDGEGUARD_SENSOR_EVENTS_H
#define EDGEGUARD_SENSOR_EVENTS_H

#define EG_RECORD_VERSION 1

#define EG_ARGV_MAX 4096   /* argv bytes kept; longer argv is cut and flagged */
#define EG_PATH_MAX 4096   /* a path's bytes; the walk stops at EG_PATH_COMPONENTS */
#define EG_PATH_COMPONENTS 40
#define EG_TTY_MAX 64
#define EG_PREFIX_MAX 128  /* bytes of a path compared against the sensitive prefixes */

enum eg_type {
  EG_EXEC = 1,
  EG_EXIT = 2,
  EG_CONNECT = 3,
  EG_ACCEPT = 4,
  EG_LISTEN = 5,
  EG_BIND = 6,
  EG_FILE = 7,
};

/* flags */
#define EG_F_ARGV_TRUNCATED 0x1
#define EG_F_PATH_TRUNCATED 0x2 /* exe / path: more components than the walk follows */
#define EG_F_CWD_TRUNCATED 0x4
#define EG_F_PATH2_TRUNCATED 0x8
#define EG_F_RELATIVE 0x10       /* path joined from a base directory and a relative name (not normalised) */

/* file operations */
enum eg_file_op {
  EG_OPEN_WRITE = 1,
  EG_OPEN_READ = 2,
  EG_UNLINK = 3,
  EG_RENAME = 4,
  EG_TRUNCATE = 5,
  EG_MODULE_LOAD = 6,
};

/* What a sensitive prefix asks for (value in the prefix trie). */
#define EG_WATCH_WRITE 0x1 /* open for write, unlink, rename, truncate */
#define EG_WATCH_READ 0x2  /* open for read */

struct eg_header {
  __u32 type;
  __u32 size; /* whole record, header included */
  __u32 tgid, tid, ppid;
  __u32 uid, gid, euid;
  __u32 flags;
  __u32 pad;
  __u64 cgroup_id;    /* cgroup v2 (unified) id */
  __u64 cgroup_v1_id; /* memory controller's cgroup id (cgroup v1 hosts) */
  __u64 ktime_ns;
  char comm[16];
};

struct eg_exec {
  struct eg_header h;
  __u32 exe_len, cwd_len, tty_len, argv_len;
  __u32 argv_total; /* argv length before the cut */
  __u32 pad;
  /* exe, cwd, tty, argv (NUL-separated) */
};

struct eg_exit {
  struct eg_header h;
  __s32 exit_code; /* wait(2) status */
  __u32 pad;
};

struct eg_net {
  struct eg_header h;
  __s32 result; /* syscall return: 0 / new fd, or -errno */
  __u16 family; /* 2 or 10 */
  __u16 local_port, remote_port;
  __u16 pad;
  __s32 backlog;
  __u8 local_addr[16], remote_addr[16]; /* network order, IPv4 in the first 4 bytes */
};

struct eg_file {
  struct eg_header h;
  __u32 op;
  __s32 result; /* open: the fd; other operations are reported before they run: 0 */
  __u32 path_len, path2_len;
  __u32 open_flags;
  __u32 pad;
  /* path, path2 (rename target) */
};

#endif
