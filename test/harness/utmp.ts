import { spawnSync } from 'node:child_process';

export interface UtmpText {
  type: number;
  pid: number;
  id?: string;
  user: string;
  line: string;
  host: string;
  addr: string;
  /** ISO time with microseconds as utmpdump writes it, e.g. 2026-11-23T10:00:00,123456+00:00. */
  time: string;
}

/** Why utmpdump cannot be used here, or undefined when it can. */
export function utmpdumpMissing(): string | undefined {
  const r = spawnSync('utmpdump', ['--version'], { encoding: 'utf8' });
  return r.error ? `utmpdump (util-linux) not available: ${r.error.message}; run scripts/setup-test-env.sh` : undefined;
}

// utmpdump -r wants the id field padded to its 4 bytes (shorter ones fail with "Extraneous newline").
export function utmpdumpLine(r: UtmpText): string {
  return `[${r.type}] [${String(r.pid).padStart(5, '0')}] [${(r.id ?? '').padEnd(4)}] [${r.user}] [${r.line}] [${r.host}] [${r.addr}] [${r.time}]`;
}

/** Binary records written by the real `utmpdump -r` from its text form (384-byte records on this machine's ABI). */
export function utmpRecords(records: readonly UtmpText[]): Buffer {
  const r = spawnSync('utmpdump', ['-r'], { input: records.map(utmpdumpLine).join('\n') + '\n' });
  if (r.status !== 0) throw new Error(`utmpdump -r failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** Re-packs 384-byte records into the 400-byte aarch64 layout (64-bit ut_session and timeval). */
export function to400ByteRecords(buf: Buffer): Buffer {
  const count = buf.length / 384;
  const out = Buffer.alloc(count * 400);
  for (let i = 0; i < count; i++) {
    const src = buf.subarray(i * 384, (i + 1) * 384);
    const dst = out.subarray(i * 400, (i + 1) * 400);
    src.copy(dst, 0, 0, 332); // type..host
    src.copy(dst, 332, 332, 336); // ut_exit
    dst.writeBigInt64LE(BigInt(src.readInt32LE(336)), 336); // ut_session
    dst.writeBigInt64LE(BigInt(src.readInt32LE(340)), 344); // tv_sec
    dst.writeBigInt64LE(BigInt(src.readInt32LE(344)), 352); // tv_usec
    src.copy(dst, 360, 348, 364); // ut_addr_v6
  }
  return out;
}
