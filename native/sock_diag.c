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
#include <sys/time.h>
#include <unistd.h>

#include "napi_util.h"
#include "netlink_util.h"
#include "sock_diag.h"

// One record handed to JavaScript, little fixed layout (see src/sources/host/net/sock-diag.ts):
// 0 family u8, 1 state u8, 2 sport u16 host order, 4 dport u16, 6 pad u16, 8 uid u32, 12 inode u32,
// 16 src[16] network order, 32 dst[16].
#define RECORD_BYTES 48
/* Hard ceiling of a caller's maxRecords (48 MB); the default keeps a dump to 3 MB. */
#define MAX_RECORDS (1024 * 1024)
#define DEFAULT_MAX_RECORDS 65536

/* Per-recv wait: the kernel answers a dump at once; a silent socket must not hang the JS thread. */
#define RECV_TIMEOUT_MS 2000
/* A dump interrupted by concurrent changes (NLM_F_DUMP_INTR) is retried this often, then returned as is. */
#define DUMP_ATTEMPTS 3

typedef struct {
  uint8_t* out;
  size_t count, capacity, max_records, dropped;
  int interrupted;
} dump_result;

/* One dump; returns 0 or an errno. Records beyond max_records are counted in `dropped`, not kept. */
static int dump_once(uint32_t family, uint32_t protocol, uint32_t states, dump_result* res) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return errno;
  struct timeval tv = {.tv_sec = RECV_TIMEOUT_MS / 1000, .tv_usec = (RECV_TIMEOUT_MS % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

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
    return err;
  }

  static __thread uint8_t buf[65536] __attribute__((aligned(8)));
  int err = 0, done = 0;
  while (!done) {
    struct sockaddr_nl from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr*)&from, &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = (errno == EAGAIN || errno == EWOULDBLOCK) ? ETIMEDOUT : errno;
      break;
    }
    if (n == 0) break;
    if (from_len < sizeof from || from.nl_pid != 0) continue; /* only the kernel answers a dump */
    for (struct nlmsghdr* h = (struct nlmsghdr*)buf; nl_msg_ok(h, n); h = nl_msg_next(h, &n)) {
      if (h->nlmsg_seq != 1) continue;
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) res->interrupted = 1;
      if (h->nlmsg_type == NLMSG_DONE) {
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        int code = nl_error_code(h);
        err = code < 0 ? -code : EIO;
        done = 1;
        break;
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
      if (res->count == res->max_records) {
        res->dropped++;
        continue;
      }
      if (res->count == res->capacity) {
        size_t grown_capacity = res->capacity * 2;
        if (grown_capacity > res->max_records) grown_capacity = res->max_records;
        uint8_t* grown = realloc(res->out, grown_capacity * RECORD_BYTES);
        if (!grown) {
          err = ENOMEM;
          done = 1;
          break;
        }
        res->out = grown;
        res->capacity = grown_capacity;
      }
      const struct inet_diag_msg* m = NLMSG_DATA(h);
      uint8_t* r = res->out + res->count * RECORD_BYTES;
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
      res->count++;
    }
  }
  close(fd);
  return err;
}

// sockDiagDump(family: 2 | 10, protocol: 6 | 17, states: bitmask of 1 << TCP state, maxRecords?) -> Buffer
// The Buffer carries `droppedRecords` (beyond maxRecords, not returned) and `interrupted` (the
// kernel's tables changed during every attempt: the dump may miss or repeat a socket).
static napi_value js_sock_diag_dump(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t family = 0, protocol = 0, states = 0, max_records = DEFAULT_MAX_RECORDS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_uint32(env, argv[0], &family) != napi_ok || napi_get_value_uint32(env, argv[1], &protocol) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &states) != napi_ok || (family != AF_INET && family != AF_INET6) ||
      (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) ||
      (argc >= 4 && napi_get_value_uint32(env, argv[3], &max_records) != napi_ok)) {
    napi_throw_type_error(env, NULL, "sockDiagDump(family 2|10, protocol 6|17, states, maxRecords?)");
    return NULL;
  }
  if (max_records < 1) max_records = 1;
  if (max_records > MAX_RECORDS) max_records = MAX_RECORDS;

  dump_result res;
  int err = 0;
  for (int attempt = 0; attempt < DUMP_ATTEMPTS; attempt++) {
    memset(&res, 0, sizeof res);
    res.max_records = max_records;
    res.capacity = max_records < 256 ? max_records : 256;
    res.out = malloc(res.capacity * RECORD_BYTES);
    if (!res.out) return throw_errno(env, "sock_diag buffer", ENOMEM);
    err = dump_once(family, protocol, states, &res);
    if (err || !res.interrupted || attempt == DUMP_ATTEMPTS - 1) break;
    free(res.out);
  }
  if (err) {
    free(res.out);
    return throw_errno(env, "sock_diag dump", err);
  }
  napi_value result;
  napi_status st;
  if (res.count == 0) {
    free(res.out);
    void* data;
    st = napi_create_buffer(env, 0, &data, &result);
  } else {
    // The records are handed over, not copied: one allocation of at most max_records x 48 bytes.
    st = napi_create_external_buffer(env, res.count * RECORD_BYTES, res.out, free_buffer_data, NULL, &result);
    if (st != napi_ok) free(res.out);
  }
  if (st != napi_ok) {
    napi_throw_error(env, NULL, "sock_diag: buffer allocation failed");
    return NULL;
  }
  set_double(env, result, "droppedRecords", (double)res.dropped);
  napi_value interrupted;
  napi_get_boolean(env, res.interrupted != 0, &interrupted);
  napi_set_named_property(env, result, "interrupted", interrupted);
  return result;
}

void sock_diag_register(napi_env env, napi_value exports) {
  napi_property_descriptor prop = {"sockDiagDump", NULL, js_sock_diag_dump, NULL, NULL, NULL, napi_default, NULL};
  napi_define_properties(env, exports, 1, &prop);
}
