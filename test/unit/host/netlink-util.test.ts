import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../../harness/paths';

// native/netlink_util.h (issue 11 item 14): the bounds the native netlink readers walk messages with,
// checked on crafted buffers by a small C program compiled against the header.

const hasCc = spawnSync('cc', ['--version']).status === 0;
const SKIP = hasCc ? false : 'SKIPPED: no C compiler (apt-get install build-essential)';
if (SKIP) console.error(SKIP);

const PROGRAM = `
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include "netlink_util.h"
static uint8_t buf[256] __attribute__((aligned(8)));
int main(void) {
  /* 1. A last message whose length is not a multiple of 4, filling the datagram: NLMSG_NEXT would
     leave -3, which (size_t)-3 made "plenty"; nl_msg_next leaves 0. */
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  ssize_t n = 21;
  h->nlmsg_len = 21;
  int walked = 0;
  for (struct nlmsghdr *m = h; nl_msg_ok(m, n); m = nl_msg_next(m, &n)) walked++;
  printf("unaligned:%d:%zd\\n", walked, n);
  /* 2. A length beyond the datagram and one below the header are refused. */
  h->nlmsg_len = 200;
  printf("beyond:%d\\n", nl_msg_ok(h, 64));
  h->nlmsg_len = 8;
  printf("short:%d\\n", nl_msg_ok(h, 64));
  printf("negative:%d\\n", nl_msg_ok(h, -4));
  /* 3. NLMSG_ERROR without room for struct nlmsgerr: -EPROTO, not a read past the message. */
  h->nlmsg_len = NLMSG_LENGTH(2);
  h->nlmsg_type = NLMSG_ERROR;
  printf("error-short:%d\\n", nl_error_code(h));
  h->nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr));
  ((struct nlmsgerr *)NLMSG_DATA(h))->error = -13;
  printf("error-ok:%d\\n", nl_error_code(h));
  return 0;
}`;

test('netlink message bounds: unaligned last message, lengths beyond or below, short NLMSG_ERROR', { skip: SKIP }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'h-ebpf-nl-'));
  try {
    writeFileSync(path.join(dir, 't.c'), PROGRAM);
    execFileSync('cc', ['-O1', '-Wall', '-I', path.join(repoRoot(), 'native'), '-o', path.join(dir, 't'), path.join(dir, 't.c')]);
    const out = execFileSync(path.join(dir, 't'), { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(out, ['unaligned:1:0', 'beyond:0', 'short:0', 'negative:0', 'error-short:-71', 'error-ok:-13']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
