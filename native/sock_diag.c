// sock_diag netlink dump of the caller's network namespace: the kernel filters by state and
// returns binary records, where /proc/net/tcp formats every socket (TIME_WAIT included) as text.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock_diag.h"

// One record handed to JavaScript, little fixed layout (see src/sources/host/net/sock-diag.ts):
// 0 family u8, 1 state u8, 2 sport u16 host order, 4 dport u16, 6 pad u16, 8 uid u32, 12 inode u32,
// 16 src[16] network order, 32 dst[16].
#define RECORD_BYTES 48
#define MAX_RECORDS (4 * 1024 * 1024)

static napi_value throw_errno(napi_env env, const char* what, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

// sockDiagDump(family: 2 | 10, protocol: 6 | 17, states: bitmask of 1 << TCP state) -> Buffer
static napi_value js_sock_diag_dump(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  uint32_t family = 0, protocol = 0, states = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_uint32(env, argv[0], &family) != napi_ok || napi_get_value_uint32(env, argv[1], &protocol) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &states) != napi_ok || (family != AF_INET && family != AF_INET6) ||
      (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP)) {
    napi_throw_type_error(env, NULL, "sockDiagDump(family 2|10, protocol 6|17, states)");
    return NULL;
  }

  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return throw_errno(env, "socket(NETLINK_SOCK_DIAG)", errno);

  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } request;
  memset(&request, 0, sizeof request);
  request.nlh.nlmsg_len = sizeof request;
  request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.nlh.nlmsg_seq = 1;
  request.req.sdiag_family = (uint8_t)family;
  request.req.sdiag_protocol = (uint8_t)protocol;
  request.req.idiag_states = states;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, &request, sizeof request, 0, (struct sockaddr*)&kernel, sizeof kernel) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "sock_diag request", err);
  }

  size_t capacity = 256, count = 0;
  uint8_t* out = malloc(capacity * RECORD_BYTES);
  static __thread uint8_t buf[65536] __attribute__((aligned(8)));
  int err = 0, done = 0;
  while (!done && out) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
    for (struct nlmsghdr* h = (struct nlmsghdr*)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != 1) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr* e = NLMSG_DATA(h);
        err = e->error < 0 ? -e->error : EIO;
        done = 1;
        break;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
      if (count == capacity) {
        if (capacity >= MAX_RECORDS) continue;  // bounded: the caller caps what it tracks anyway
        uint8_t* grown = realloc(out, capacity * 2 * RECORD_BYTES);
        if (!grown) {
          err = ENOMEM;
          done = 1;
          break;
        }
        out = grown;
        capacity *= 2;
      }
      const struct inet_diag_msg* m = NLMSG_DATA(h);
      uint8_t* r = out + count * RECORD_BYTES;
      memset(r, 0, RECORD_BYTES);
      r[0] = m->idiag_family;
      r[1] = m->idiag_state;
      uint16_t sport = ntohs(m->id.idiag_sport), dport = ntohs(m->id.idiag_dport);
      uint32_t uid = m->idiag_uid, inode = m->idiag_inode;
      memcpy(r + 2, &sport, 2);
      memcpy(r + 4, &dport, 2);
      memcpy(r + 8, &uid, 4);
      memcpy(r + 12, &inode, 4);
      memcpy(r + 16, m->id.idiag_src, 16);
      memcpy(r + 32, m->id.idiag_dst, 16);
      count++;
    }
  }
  close(fd);
  if (!out) return throw_errno(env, "sock_diag buffer", ENOMEM);
  if (err) {
    free(out);
    return throw_errno(env, "sock_diag dump", err);
  }
  napi_value result;
  void* copied;
  napi_status st = napi_create_buffer_copy(env, count * RECORD_BYTES, out, &copied, &result);
  free(out);
  if (st != napi_ok) {
    napi_throw_error(env, NULL, "sock_diag: buffer allocation failed");
    return NULL;
  }
  return result;
}

void sock_diag_register(napi_env env, napi_value exports) {
  napi_property_descriptor prop = {"sockDiagDump", NULL, js_sock_diag_dump, NULL, NULL, NULL, napi_default, NULL};
  napi_define_properties(env, exports, 1, &prop);
}
