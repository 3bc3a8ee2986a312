#ifndef EDGEGUARD_NETLINK_UTIL_H
#define EDGEGUARD_NETLINK_UTIL_H
#include <linux/netlink.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * NLMSG_OK with a signed remaining length. NLMSG_NEXT subtracts the ALIGNED message length, so
 * after a last message whose nlmsg_len is not a multiple of 4 the remainder goes negative; cast to
 * size_t (as the callers once did) it became huge and the next header was read past the buffer.
 */
static inline int nl_msg_ok(const struct nlmsghdr *h, ssize_t remaining) {
  return remaining >= (ssize_t)sizeof(struct nlmsghdr) && h->nlmsg_len >= sizeof(struct nlmsghdr) &&
         (ssize_t)h->nlmsg_len <= remaining;
}

/* Next message and the remainder after it (never below zero). */
static inline struct nlmsghdr *nl_msg_next(const struct nlmsghdr *h, ssize_t *remaining) {
  ssize_t step = (ssize_t)NLMSG_ALIGN(h->nlmsg_len);
  *remaining = step >= *remaining ? 0 : *remaining - step;
  return (struct nlmsghdr *)((const char *)h + step);
}

/* An NLMSG_ERROR message's error code (negative errno, 0 for an ack), or -EPROTO when it is too short to hold one. */
static inline int nl_error_code(const struct nlmsghdr *h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -71; /* EPROTO */
  const struct nlmsgerr *e = (const struct nlmsgerr *)NLMSG_DATA(h);
  return e->error;
}

#endif
