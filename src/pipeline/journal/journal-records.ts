import { crc32 } from 'node:zlib';
import type { MessagePriority } from '../../core/priority';

/**
 * Record format of the queues' journal (journal.ts). One record a line:
 *   `<crc32 hex>\tA\t<queue>\t<seq>\t<event JSON>`   an event entered a queue
 *   `<crc32 hex>\tD\t<seq ranges>`                   events left (acknowledged upstream or dropped),
 *                                                    or aggregation entries closed
 *   `<crc32 hex>\tK\t<seq>\t<entry JSON>`           an aggregation window got a new key (opaque here)
 *   `<crc32 hex>\tH\t<JSON [[seq,count,endUtc,endLocal],…]>`  later hits on open keys
 * The CRC covers the text after the first tab. Event JSON never holds a raw newline (JSON.stringify
 * escapes it), so a line is a record.
 */

export interface JournalRecord {
  readonly queue: MessagePriority;
  readonly seq: number;
  readonly json: string;
}

/** An open aggregation entry, as the aggregator serialized it, with its latest hit update if any. */
export interface WindowRecord {
  readonly seq: number;
  readonly json: string;
  hits?: HitUpdate;
}

export type HitUpdate = readonly [seq: number, count: number, endUtc: string, endLocal: string];

export type LiveRecord = JournalRecord | WindowRecord;

const QUEUES: readonly MessagePriority[] = ['High', 'Low', 'Operational'];

function hex(crc: number): string {
  return crc.toString(16).padStart(8, '0');
}

function line(body: string): string {
  return `${hex(crc32(body))}\t${body}\n`;
}

/** "1-5,9,12-13" from ascending-or-not seq numbers. */
export function encodeRanges(seqs: readonly number[]): string {
  const sorted = [...seqs].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1]! <= end + 1) end = sorted[++i]!;
    parts.push(start === end ? String(start) : `${start}-${end}`);
    i++;
  }
  return parts.join(',');
}

/** Calls `each(start, end)` for every range of "1-5,9,12-13"; false when the text is not such a list. */
function decodeRanges(text: string, each: (start: number, end: number) => void): boolean {
  for (const part of text.split(',')) {
    const m = /^(\d{1,15})(?:-(\d{1,15}))?$/.exec(part);
    if (!m) return false;
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (end < start) return false;
    each(start, end);
  }
  return true;
}

/**
 * Deletes seqs start..end from the replayed maps. A crafted line can name a range of 10^15: the cost is
 * bounded by the smaller of the range and the number of live entries, never by the range alone.
 */
function deleteRange(start: number, end: number, live: Map<number, JournalRecord>, windows: Map<number, WindowRecord>): void {
  if (end - start + 1 <= live.size + windows.size) {
    for (let s = start; s <= end; s++) if (!live.delete(s)) windows.delete(s);
    return;
  }
  for (const s of [...live.keys()]) if (s >= start && s <= end) live.delete(s);
  for (const s of [...windows.keys()]) if (s >= start && s <= end) windows.delete(s);
}

/** An event record must hold a JSON object: a valid CRC over invalid JSON (a bug, a crafted file) would corrupt a message. */
function isJsonObject(text: string): boolean {
  if (!text.startsWith('{')) return false;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

function isHitUpdate(u: unknown): u is HitUpdate {
  return Array.isArray(u) && u.length === 4 && Number.isSafeInteger(u[0]) && Number.isSafeInteger(u[1]) && typeof u[2] === 'string' && typeof u[3] === 'string';
}

export function addLine(queue: MessagePriority, seq: number, json: string): string {
  // Same CRC as over the whole body, without first copying the event JSON into a new string.
  const prefix = `A\t${queue}\t${seq}\t`;
  return `${hex(crc32(json, crc32(prefix)))}\t${prefix}${json}\n`;
}

export function deleteLine(seqs: readonly number[]): string {
  return line(`D\t${encodeRanges(seqs)}`);
}

export function hitsLine(updates: readonly HitUpdate[]): string {
  return line(`H\t${JSON.stringify(updates)}`);
}

/** A window entry, followed by its latest hit update when it has one. */
export function windowLine(r: WindowRecord): string {
  const entry = line(`K\t${r.seq}\t${r.json}`);
  return r.hits === undefined ? entry : entry + hitsLine([r.hits]);
}

/** Replays one segment's text into `live` and `windows`; returns [damaged lines, torn tail, records with a valid CRC but invalid JSON]. */
export function replay(text: string, live: Map<number, JournalRecord>, windows: Map<number, WindowRecord>): [number, boolean, number] {
  let damaged = 0;
  let invalidJson = 0;
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const torn = tail.length > 0;
  for (const l of lines) {
    if (l.length === 0) continue;
    const tab = l.indexOf('\t');
    const body = tab === 8 ? l.slice(9) : '';
    if (tab !== 8 || hex(crc32(body)) !== l.slice(0, 8)) {
      damaged++;
      continue;
    }
    if (body.startsWith('A\t')) {
      const t1 = body.indexOf('\t', 2);
      const t2 = body.indexOf('\t', t1 + 1);
      const queue = body.slice(2, t1) as MessagePriority;
      const seq = Number(body.slice(t1 + 1, t2));
      if (t1 < 0 || t2 < 0 || !QUEUES.includes(queue) || !Number.isSafeInteger(seq)) {
        damaged++;
        continue;
      }
      const json = body.slice(t2 + 1);
      if (!isJsonObject(json)) {
        invalidJson++;
        continue;
      }
      live.set(seq, { queue, seq, json });
    } else if (body.startsWith('D\t')) {
      const ok = decodeRanges(body.slice(2), (start, end) => deleteRange(start, end, live, windows));
      if (!ok) damaged++;
    } else if (body.startsWith('K\t')) {
      const t1 = body.indexOf('\t', 2);
      const seq = Number(body.slice(2, t1));
      if (t1 < 0 || !Number.isSafeInteger(seq)) {
        damaged++;
        continue;
      }
      const json = body.slice(t1 + 1);
      if (!isJsonObject(json)) {
        invalidJson++;
        continue;
      }
      windows.set(seq, { seq, json });
    } else if (body.startsWith('H\t')) {
      let updates: unknown;
      try {
        updates = JSON.parse(body.slice(2));
      } catch {
        updates = undefined;
      }
      if (!Array.isArray(updates)) {
        damaged++;
        continue;
      }
      for (const u of updates) {
        if (!isHitUpdate(u)) continue;
        const w = windows.get(u[0]);
        if (w !== undefined) w.hits = u;
      }
    } else {
      damaged++;
    }
  }
  return [damaged, torn, invalidJson];
}
