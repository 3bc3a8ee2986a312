import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { MemorySettle, memorySample, pageOutRanges, type MemoryTrimAddon } from '../../../src/agent/memory-settle';
import type { Logger } from '../../../src/core/logger';
import { loadNativeAddon } from '../../../src/sources/host/common/native';
import { repoRoot } from '../../harness/paths';
import { privateNodeCopy } from '../../harness/private-node';

/**
 * The settle step on the real kernel (native/memory_trim.c, src/agent/memory-settle.ts): a real child
 * process that touched many pages of its own executable gets them paged out, and keeps working.
 */

const loaded = loadNativeAddon();
const addon = loaded.addon?.pageOut && loaded.addon.mallocTrim ? (loaded.addon as unknown as MemoryTrimAddon) : undefined;
const SKIP = process.platform !== 'linux' ? 'not Linux' : !addon ? `native addon without pageOut: ${loaded.addon ? loaded.file : loaded.reason}` : false;
if (SKIP) console.error(`SKIP: memory trim tests: ${SKIP}`);

function silentLog(lines: string[] = []): Logger {
  const at = (level: string) => (message: string, details?: Record<string, unknown>) => lines.push(`${level} ${message} ${JSON.stringify(details ?? {})}`);
  const log: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => log };
  return log;
}

/** The child: touches much of node (TLS, crypto, zlib, ICU, http), settles on request, then works again. */
const CHILD = `
const { MemorySettle } = require(process.argv[1]);
const crypto = require('node:crypto'), zlib = require('node:zlib'), tls = require('node:tls'), http = require('node:http');
tls.createSecureContext({});
for (const h of crypto.getHashes().slice(0, 20)) crypto.createHash(h).update('x').digest();
zlib.gzipSync(Buffer.alloc(1 << 20, 7));
new Intl.Collator('de').compare('a', 'b'); new Intl.DateTimeFormat('ja-JP', { dateStyle: 'full' }).format(0); new Intl.NumberFormat('ar-EG').format(12345.6);
http.createServer().close();
const lines = require('node:readline').createInterface({ input: process.stdin });
console.log('ready');
lines.on('line', (line) => {
  if (line === 'settle') console.log(JSON.stringify(new MemorySettle({ log: { info() {}, debug() {}, warn() {}, error() {}, child() { return this; } } }).settle()));
  if (line === 'work') {
    const round = zlib.gunzipSync(zlib.gzipSync(Buffer.from('edgeguard'.repeat(1000)))).toString();
    console.log(JSON.stringify({ sha256: crypto.createHash('sha256').update('edgeguard').digest('hex'), round: round === 'edgeguard'.repeat(1000), collated: ['b', 'ä', 'a'].sort(new Intl.Collator('de').compare).join('') }));
    process.exit(0);
  }
});
`;

test('settle on a real child: its RssFile drops by more than half; content is intact afterwards', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const { bin, dir } = privateNodeCopy();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(bin, ['-e', CHILD, path.join(repoRoot(), 'dist', 'src', 'agent', 'memory-settle.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const out = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => String((await out.next()).value);
  assert.equal(await next(), 'ready');
  const status = (): ReturnType<typeof memorySample> => memorySample(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  const before = status();
  child.stdin!.write('settle\n');
  const report = JSON.parse(await next()) as ReturnType<MemorySettle['settle']>;
  const after = status();
  process.stdout.write(`child RssFile ${before.rssFile.toFixed(1)} -> ${after.rssFile.toFixed(1)} MB (VmRSS ${before.vmRss.toFixed(1)} -> ${after.vmRss.toFixed(1)}); report ${JSON.stringify(report)}\n`);
  assert.equal(report.pageOutUnavailable, undefined, 'MADV_PAGEOUT works on this kernel');
  assert.ok(report.pagedOut >= 3, `node's mappings advised (${report.pagedOut})`);
  assert.ok(before.rssFile > 20, `the child touched its binary (${before.rssFile} MB)`);
  assert.ok(after.rssFile < before.rssFile / 2, `RssFile ${before.rssFile} -> ${after.rssFile} MB`);
  assert.ok(report.after.rssFile < report.before.rssFile, 'the report sees the drop too');
  assert.ok(after.rssAnon > 0 && Math.abs(after.rssAnon - before.rssAnon) < 4, `anonymous memory untouched (${before.rssAnon} -> ${after.rssAnon} MB)`);
  assert.ok(['returned', 'nothing to return'].includes(report.mallocTrim), report.mallocTrim);
  child.stdin!.write('work\n');
  assert.deepEqual(JSON.parse(await next()), { sha256: createHash('sha256').update('edgeguard').digest('hex'), round: true, collated: 'aäb' });
});

test('a real EINVAL from the kernel (misaligned ranges) -> pageOut unavailable, one info line, no harm', { skip: SKIP }, () => {
  const own = pageOutRanges(readFileSync('/proc/self/maps', 'utf8'));
  assert.ok(own.length > 0);
  const misaligned = own.map((r) => `${(r.start + 1).toString(16)}-${(r.start + r.length).toString(16)} r--p 00000000 fe:01 1 ${r.file}`).join('\n');
  const lines: string[] = [];
  const settle = new MemorySettle({ log: silentLog(lines), addon: () => addon!, readMaps: () => misaligned });
  const report = settle.settle();
  assert.match(report.pageOutUnavailable ?? '', /Linux < 5\.4.*EINVAL/);
  assert.equal(report.refused, own.length);
  settle.settle();
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^info memory trim unavailable/);
});

test('the native pageOut checks its input: not an array, odd length, negative or fractional numbers, too many ranges', { skip: SKIP }, () => {
  const pageOut = addon!.pageOut as (...args: unknown[]) => number[];
  assert.deepEqual(pageOut([]), []);
  assert.throws(() => pageOut('0,4096'), TypeError);
  assert.throws(() => pageOut(), TypeError);
  assert.throws(() => pageOut([4096]), RangeError);
  assert.throws(() => pageOut([-4096, 4096]), RangeError);
  assert.throws(() => pageOut([4096.5, 4096]), RangeError);
  assert.throws(() => pageOut([2 ** 60, 4096]), RangeError);
  assert.throws(() => pageOut(['4096', 4096]), RangeError);
  assert.throws(() => pageOut(new Array(8194).fill(0)), RangeError);
  // Nothing mapped there: ENOMEM, per range, no throw.
  assert.deepEqual(pageOut([4096, 4096]), [os.constants.errno.ENOMEM]);
  assert.equal(typeof addon!.mallocTrim(), 'boolean');
});
