/*
 * The few kernel types the sensor reads, declared by hand instead of a generated vmlinux.h.
 *
 * Why checked in: the build must not depend on the BTF of the machine that compiles (a Docker build
 * for arm64 on an amd64 host, a CI runner without /sys/kernel/btf), and a 130,000-line generated
 * header is not reviewable. CO-RE makes this safe: every struct is preserve_access_index, so clang
 * records each field access by NAME and libbpf relocates it against the running kernel's BTF at
 * load time (/sys/kernel/btf/vmlinux). Only the fields read are declared; their order and the
 * absence of the others do not matter. A field missing from the running kernel makes the load fail
 * with libbpf's message naming it, and EdgeGuard falls back (see docs/kernel-sensor.md).
 */
#ifndef EDGEGUARD_VMLINUX_MIN_H
#define EDGEGUARD_VMLINUX_MIN_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_PERCPU_ARRAY = 6,
  BPF_MAP_TYPE_LRU_HASH = 9,
  BPF_MAP_TYPE_LPM_TRIE = 11,
  BPF_MAP_TYPE_RINGBUF = 27,
};
#define BPF_ANY 0
#define BPF_NOEXIST 1
#define BPF_F_NO_PREALLOC (1U << 0)

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct { uid_t val; } kuid_t;
typedef struct { gid_t val; } kgid_t;

struct cred {
  kuid_t uid;
  kgid_t gid;
  kuid_t euid;
};

struct qstr {
  u32 len;
  const unsigned char *name;
};

struct dentry {
  struct dentry *d_parent;
  struct qstr d_name;
};

struct vfsmount {
  struct dentry *mnt_root;
};

struct mount {
  struct mount *mnt_parent;
  struct dentry *mnt_mountpoint;
  struct vfsmount mnt;
};

struct path {
  struct vfsmount *mnt;
  struct dentry *dentry;
};

struct super_block {
  u32 s_dev;
};

struct inode {
  unsigned long i_ino;
  struct super_block *i_sb;
};

struct file {
  struct path f_path;
  struct inode *f_inode;
  unsigned int f_mode;
  void *private_data;
};

struct fdtable {
  unsigned int max_fds;
  struct file **fd;
};

struct files_struct {
  struct fdtable *fdt;
};

struct fs_struct {
  struct path pwd;
};

struct tty_struct {
  char name[64];
};

struct signal_struct {
  struct tty_struct *tty;
  int group_exit_code;
};

struct mm_struct {
  unsigned long arg_start;
  unsigned long arg_end;
  struct file *exe_file;
};

struct kernfs_node {
  u64 id;
};

struct cgroup {
  struct kernfs_node *kn;
};

struct cgroup_subsys_state {
  struct cgroup *cgroup;
};

struct css_set {
  struct cgroup_subsys_state *subsys[12];
};

enum cgroup_subsys_id {
  memory_cgrp_id = 4,
};

struct task_struct {
  pid_t pid;
  pid_t tgid;
  int exit_code;
  struct task_struct *real_parent;
  const struct cred *cred;
  struct mm_struct *mm;
  struct fs_struct *fs;
  struct files_struct *files;
  struct signal_struct *signal;
  struct css_set *cgroups;
  char comm[16];
};

struct in6_addr {
  u8 s6_addr[16];
};

struct sock_common {
  __be32 skc_daddr;
  __be32 skc_rcv_saddr;
  __be16 skc_dport;
  u16 skc_num;
  unsigned short skc_family;
  struct in6_addr skc_v6_daddr;
  struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
  struct sock_common __sk_common;
  u16 sk_protocol;
  u16 sk_type;
};

struct socket {
  struct sock *sk;
};

struct trace_entry {
  unsigned short type;
  unsigned char flags;
  unsigned char preempt_count;
  int pid;
};

struct trace_event_raw_sys_enter {
  struct trace_entry ent;
  long id;
  unsigned long args[6];
};

struct trace_event_raw_sys_exit {
  struct trace_entry ent;
  long id;
  long ret;
};

struct trace_event_raw_sched_process_exec {
  struct trace_entry ent;
  u32 __data_loc_filename;
  pid_t pid;
  pid_t old_pid;
};

struct trace_event_raw_sched_process_template {
  struct trace_entry ent;
  char comm[16];
  pid_t pid;
};

struct trace_event_raw_sched_process_fork {
  struct trace_entry ent;
  u32 __data_loc_parent_comm;
  pid_t parent_pid;
  u32 __data_loc_child_comm;
  pid_t child_pid;
};

#pragma clang attribute pop

#endif
