import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemorySettle, memorySample, memoryTrimEnabled, pageOutRanges, scheduleMemorySettle, type MemoryTrimAddon } from '../../../src/agent/memory-settle';
import type { Logger } from '../../../src/core/logger';

const MAPS = [
  '55d0c0a00000-55d0c1e00000 r--p 00000000 fe:01 1234                       /usr/local/bin/node',
  '55d0c1e00000-55d0c3600000 r-xp 01400000 fe:01 1234                       /usr/local/bin/node',
  '55d0c3600000-55d0c3700000 rw-p 02c00000 fe:01 1234                       /usr/local/bin/node',
  '55d0c4000000-55d0c5000000 rw-p 00000000 00:00 0                          [heap]',
  '7f0000000000-7f0000100000 rw-p 00000000 00:00 0 ',
  '7f0000100000-7f0000200000 r--p 00000000 00:00 0 ',
  '7f1000000000-7f1000028000 r--p 00000000 fe:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6',
  '7f1000028000-7f10001bd000 r-xp 00028000 fe:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6',
  '7f10001bd000-7f1000215000 r--p 001bd000 fe:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6',
  '7f1000215000-7f1000219000 rw-p 00214000 fe:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6',
  '7f1000300000-7f1000301000 ---p 00000000 fe:01 77                         /app/build/Release/edgeguard_native.node',
  '7f1000400000-7f1000500000 r--s 00000000 00:0f 1055                       anon_inode:bpf-map',
  '7f1000500000-7f1000600000 r--s 00000000 fe:01 55                         /var/lib/some.db',
  '7f1000600000-7f1000700000 r--p 00000000 00:01 4242                       /memfd:jit (deleted)',
  '7f1000700000-7f1000800000 r--p 00000000 fe:01 4243                       /tmp/gone.so (deleted)',
  '7f1000800000-7f1000900000 r--p 00000000 00:05 3                          /dev/zero',
  '7f1000900000-7f1000a00000 r-xp 00000000 fe:01 4244                       /opt/with space/lib x.so',
  '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]',
  '7ffd00100000-7ffd00104000 r--p 00000000 00:00 0                          [vvar]',
  '7ffd00104000-7ffd00106000 r-xp 00000000 00:00 0                          [vdso]',
  'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
  '',
].join('\n');

test('pageOutRanges: only readable, non-writable, private mappings of files on disk', () => {
  const ranges = pageOutRanges(MAPS);
  assert.deepEqual(
    ranges.map((r) => `${r.start.toString(16)}+${r.length.toString(16)} ${r.file}`),
    [
      '55d0c0a00000+1400000 /usr/local/bin/node',
      '55d0c1e00000+1800000 /usr/local/bin/node',
      '7f1000000000+28000 /usr/lib/x86_64-linux-gnu/libc.so.6',
      '7f1000028000+195000 /usr/lib/x86_64-linux-gnu/libc.so.6',
      '7f10001bd000+58000 /usr/lib/x86_64-linux-gnu/libc.so.6',
      '7f1000900000+100000 /opt/with space/lib x.so',
    ],
  );
});

test('pageOutRanges: malformed, hostile and huge input gives no range and stays linear', () => {
  assert.deepEqual(pageOutRanges(''), []);
  assert.deepEqual(pageOutRanges('garbage\n\u0000\n-\n 55d0c0a00000-55d0c1e00000 r--p 0 fe:01 1 /x'), []);
  // end before start, addresses beyond 2^53, permissions out of shape
  assert.deepEqual(pageOutRanges('2000-1000 r--p 00000000 fe:01 1 /x\nfffffffffffff000-ffffffffffffffff r--p 00000000 fe:01 1 /x\n1000-2000 rrrp 00000000 fe:01 1 /x'), []);
  const hostile = `1000-2000 r--p 00000000 fe:01 1 /${' '.repeat(200_000)}x\n`.repeat(20) + '1'.repeat(1_000_000) + '-';
  const started = process.hrtime.bigint();
  assert.equal(pageOutRanges(hostile).length, 20);
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000, 'parsed in bounded time');
});

test('memorySample reads VmRSS, RssAnon and RssFile in MB', () => {
  const s = memorySample('Name:\tnode\nVmRSS:\t   81920 kB\nRssAnon:\t   33792 kB\nRssFile:\t   48128 kB\nRssShmem:\t       0 kB\n');
  assert.deepEqual(s, { vmRss: 80, rssAnon: 33, rssFile: 47 });
  assert.ok(Number.isNaN(memorySample('nothing').vmRss));
});

interface Recorded {
  lines: Array<{ level: string; message: string; details?: Record<string, unknown> }>;
  log: Logger;
}
function recorder(): Recorded {
  const lines: Recorded['lines'] = [];
  const at = (level: string) => (message: string, details?: Record<string, unknown>) => lines.push({ level, message, details });
  const log: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => log };
  return { lines, log };
}

const STATUS = 'VmRSS:\t 80000 kB\nRssAnon:\t 30000 kB\nRssFile:\t 50000 kB\n';

function fakeAddon(pageOut: (ranges: number[]) => number[], mallocTrim: () => boolean | null = () => true): MemoryTrimAddon & { pageOutCalls: number; trimCalls: number } {
  const addon = {
    pageOutCalls: 0,
    trimCalls: 0,
    pageOut: (ranges: number[]) => {
      addon.pageOutCalls++;
      return pageOut(ranges);
    },
    mallocTrim: () => {
      addon.trimCalls++;
      return mallocTrim();
    },
  };
  return addon;
}

test('settle: every range advised, malloc trimmed, nothing logged by the settle itself', () => {
  const { lines, log } = recorder();
  let passed: number[] = [];
  const addon = fakeAddon((r) => ((passed = r), r.filter((_, i) => i % 2 === 0).map(() => 0)));
  const report = new MemorySettle({ log, addon: () => addon, readMaps: () => MAPS, readStatus: () => STATUS }).settle();
  assert.equal(report.pagedOut, 6);
  assert.equal(report.refused, 0);
  assert.equal(report.mallocTrim, 'returned');
  assert.equal(report.pageOutUnavailable, undefined);
  assert.equal(passed.length, 12);
  assert.deepEqual(passed.slice(0, 2), [0x55d0c0a00000, 0x1400000]);
  assert.deepEqual(lines, []);
});

for (const [errno, reason] of [
  [22, /Linux < 5\.4.*EINVAL/],
  [1, /seccomp.*EPERM/],
  [38, /ENOSYS/],
] as const) {
  test(`settle: madvise refused for every range (errno ${errno}) -> one info line, never asked again, malloc still trimmed`, () => {
    const { lines, log } = recorder();
    const addon = fakeAddon((r) => r.filter((_, i) => i % 2 === 0).map(() => errno));
    const settle = new MemorySettle({ log, addon: () => addon, readMaps: () => MAPS, readStatus: () => STATUS });
    const first = settle.settle();
    const second = settle.settle();
    assert.match(first.pageOutUnavailable ?? '', reason);
    assert.equal(second.pageOutUnavailable, first.pageOutUnavailable);
    assert.equal(addon.pageOutCalls, 1);
    assert.equal(addon.trimCalls, 2);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'info');
    assert.match(String(lines[0]!.details?.reason), reason);
  });
}

test('settle: some ranges gone between reading the maps and the call (ENOMEM) -> counted, debug only, still on', () => {
  const { lines, log } = recorder();
  const addon = fakeAddon((r) => r.filter((_, i) => i % 2 === 0).map((_, i) => (i === 1 ? 12 : 0)));
  const settle = new MemorySettle({ log, addon: () => addon, readMaps: () => MAPS, readStatus: () => STATUS });
  const report = settle.settle();
  assert.equal(report.pagedOut, 5);
  assert.equal(report.refused, 1);
  assert.equal(report.pageOutUnavailable, undefined);
  settle.settle();
  assert.equal(addon.pageOutCalls, 2);
  assert.deepEqual(lines.map((l) => [l.level, l.details?.errors]), [['debug', 'ENOMEM'], ['debug', 'ENOMEM']]);
});

test('settle: a native call that throws, a missing addon, unreadable maps: one info line, no throw', () => {
  for (const addon of [
    () => fakeAddon(() => {
      throw new Error('boom');
    }),
    () => 'native addon not built',
  ]) {
    const { lines, log } = recorder();
    const settle = new MemorySettle({ log, addon, readMaps: () => MAPS, readStatus: () => STATUS });
    assert.doesNotThrow(() => settle.settle());
    assert.doesNotThrow(() => settle.settle());
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(lines[0]!.message, /memory trim unavailable/);
  }
  const { lines, log } = recorder();
  const report = new MemorySettle({
    log,
    addon: () => fakeAddon(() => []),
    readMaps: () => {
      throw new Error('EACCES: /proc/self/maps');
    },
    readStatus: () => {
      throw new Error('no /proc');
    },
  }).settle();
  assert.ok(Number.isNaN(report.before.vmRss));
  assert.match(report.pageOutUnavailable ?? '', /EACCES/);
  assert.equal(lines.length, 1);
});

test('settle: no glibc (mallocTrim null) -> not asked again; a throwing malloc_trim -> one info line', () => {
  const { lines, log } = recorder();
  const addon = fakeAddon((r) => r.filter((_, i) => i % 2 === 0).map(() => 0), () => null);
  const settle = new MemorySettle({ log, addon: () => addon, readMaps: () => MAPS, readStatus: () => STATUS });
  assert.equal(settle.settle().mallocTrim, 'not glibc');
  assert.equal(settle.settle().mallocTrim, 'not glibc');
  assert.equal(addon.trimCalls, 1);
  assert.deepEqual(lines, []);
  const throwing = fakeAddon((r) => r.filter((_, i) => i % 2 === 0).map(() => 0), () => {
    throw new Error('symbol lookup error');
  });
  const other = recorder();
  const s2 = new MemorySettle({ log: other.log, addon: () => throwing, readMaps: () => MAPS, readStatus: () => STATUS });
  assert.equal(s2.settle().mallocTrim, 'failed');
  s2.settle();
  assert.equal(throwing.trimCalls, 1);
  assert.equal(other.lines.length, 1);
});

test('EDGEGUARD_MEMORY_TRIM: off, 0, false, no (any case) turn it off; unset or anything else leaves it on', () => {
  for (const v of ['off', 'OFF', ' Off ', '0', 'false', 'no']) assert.equal(memoryTrimEnabled({ EDGEGUARD_MEMORY_TRIM: v }), false, v);
  for (const v of [undefined, '', 'on', '1', 'yes']) assert.equal(memoryTrimEnabled({ EDGEGUARD_MEMORY_TRIM: v }), true, String(v));
});

test('schedule: off -> one info line and never a native call; on -> first settle after firstMs, logged once at info; stop() ends it', async () => {
  const off = recorder();
  const offAddon = fakeAddon(() => []);
  scheduleMemorySettle({ EDGEGUARD_MEMORY_TRIM: 'off' }, off.log, { addon: () => offAddon, firstMs: 1 }).stop();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(offAddon.pageOutCalls, 0);
  assert.deepEqual(off.lines.map((l) => l.message), ['memory trim off (EDGEGUARD_MEMORY_TRIM)']);

  const on = recorder();
  const addon = fakeAddon((r) => r.filter((_, i) => i % 2 === 0).map(() => 0));
  const schedule = scheduleMemorySettle({}, on.log, { addon: () => addon, readMaps: () => MAPS, readStatus: () => STATUS, firstMs: 10, everyMs: 60_000 });
  await new Promise((r) => setTimeout(r, 100));
  schedule.stop();
  assert.equal(addon.pageOutCalls, 1);
  assert.equal(addon.trimCalls, 1);
  assert.deepEqual(on.lines.map((l) => [l.level, l.message]), [['info', 'start-up memory returned to the system']]);
  assert.equal(on.lines[0]!.details?.rssFileMB, '48.8 -> 48.8');

  const stopped = recorder();
  const never = fakeAddon(() => []);
  scheduleMemorySettle({}, stopped.log, { addon: () => never, firstMs: 20 }).stop();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(never.pageOutCalls, 0);
});

test('schedule: settles again only when the file-backed pages grew back by 2 MB over their settled level', async () => {
  const { lines, log } = recorder();
  const addon = fakeAddon((r) => r.filter((_, i) => i % 2 === 0).map(() => 0));
  let rssFileKb = 30 * 1024;
  const status = (): string => `VmRSS:\t ${rssFileKb + 30_000} kB\nRssAnon:\t 30000 kB\nRssFile:\t ${rssFileKb} kB\n`;
  const schedule = scheduleMemorySettle({}, log, { addon: () => addon, readMaps: () => MAPS, readStatus: status, firstMs: 5, settledAfterMs: 20, everyMs: 60 });
  try {
    await new Promise((r) => setTimeout(r, 40)); // first settle at 5 ms, settled level (30 MB) at 25 ms
    rssFileKb = 31.5 * 1024; // +1.5 MB: the idle working set, not worth it
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(addon.pageOutCalls, 1, 'no second settle for +1.5 MB');
    rssFileKb = 32.5 * 1024; // +2.5 MB: a snapshot round brought pages back
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(addon.pageOutCalls >= 2, 'settled again');
  } finally {
    schedule.stop();
  }
  assert.deepEqual([...new Set(lines.map((l) => `${l.level} ${l.message}`))], ['info start-up memory returned to the system', 'debug memory settled again']);
});
