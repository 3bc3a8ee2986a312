import { caselessGet, classifyBody, classifyParsed, emptyStats, MAX_BODY_BYTES, SECURITY_INTERFACE_ID, systemIdentity, type ExportedMessage, type ExportStats } from './exported-message';
import type { FileSource } from './file-source';

/** A storage record holds the body as JSON or base64 (4/3 larger) plus properties: 2 MiB per line is ample. */
export const MAX_LINE_BYTES = 2 * MAX_BODY_BYTES;

export interface LineWarning {
  readonly origin: string;
  readonly reason: string;
}

/**
 * Reads JSON lines: either EdgeGuard messages as the agent prints them (standalone, `edgeguard
 * export-messages --body-only`) or IoT Hub storage endpoint records (`{"EnqueuedTimeUtc", "Properties",
 * "SystemProperties", "Body"}`, Body a JSON value or base64 text). A line longer than MAX_LINE_BYTES is
 * skipped without being buffered whole; a bad line is a warning, never the end of the file.
 */
export async function* readJsonLinesExport(
  source: FileSource,
  name: string,
  stats: ExportStats = emptyStats(),
  onWarning: (w: LineWarning) => void = () => undefined,
): AsyncGenerator<ExportedMessage> {
  let lineNo = 0;
  let skipping = false;
  let scanned = 0;
  while (true) {
    if ((await source.fill(1)) === 0) return;
    let buf = source.view();
    let nl = buf.indexOf(0x0a, scanned);
    if (nl < 0 && buf.length < MAX_LINE_BYTES) {
      const before = buf.length;
      const got = await source.fill(Math.min(MAX_LINE_BYTES, before + 64 * 1024));
      if (got > before) {
        scanned = before;
        continue;
      }
      buf = source.view();
      nl = buf.length; // end of file: the last line has no newline
    } else if (nl < 0) {
      // Oversize line: drop what is buffered and keep dropping until its newline.
      if (!skipping) {
        lineNo++;
        stats.records++;
        stats.skippedInvalid++;
        onWarning({ origin: `${name}:${lineNo}`, reason: `line longer than ${MAX_LINE_BYTES} bytes: skipped` });
      }
      skipping = true;
      source.consume(buf.length);
      scanned = 0;
      continue;
    }
    scanned = 0;
    if (nl > MAX_LINE_BYTES && !skipping) {
      lineNo++;
      stats.records++;
      stats.skippedInvalid++;
      onWarning({ origin: `${name}:${lineNo}`, reason: `line longer than ${MAX_LINE_BYTES} bytes: skipped` });
      source.consume(Math.min(nl + 1, buf.length));
      continue;
    }
    const line = buf.subarray(0, nl).toString('utf8');
    source.consume(Math.min(nl + 1, buf.length));
    if (skipping) {
      skipping = false;
      continue;
    }
    lineNo++;
    const text = line.trim();
    if (text === '') continue;
    stats.records++;
    const message = parseLine(text, `${name}:${lineNo}`, stats, onWarning);
    if (message) yield message;
  }
}

function parseLine(text: string, origin: string, stats: ExportStats, onWarning: (w: LineWarning) => void): ExportedMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    stats.skippedInvalid++;
    onWarning({ origin, reason: error instanceof RangeError ? 'JSON nested too deeply' : 'not JSON' });
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    stats.skippedInvalid++;
    onWarning({ origin, reason: 'not a JSON object' });
    return undefined;
  }
  const record = value as Record<string, unknown>;
  const recordBody = caselessGet(record, 'Body');
  const recordSystem = caselessGet(record, 'SystemProperties');
  if (recordBody === undefined && recordSystem === undefined) {
    // A bare EdgeGuard message, as the agent prints it (already parsed: no second parse).
    const verdict = text.length > MAX_BODY_BYTES ? classifyBody(text, true) : classifyParsed(record, true);
    if (verdict.kind !== 'message') return skip(stats, onWarning, origin, verdict.kind === 'invalid' ? verdict.reason : 'not a security message', verdict.kind === 'other');
    stats.messages++;
    return { body: text, message: verdict.message, origin };
  }
  const system = recordSystem && typeof recordSystem === 'object' ? (recordSystem as Record<string, unknown>) : undefined;
  const ids = systemIdentity(system);
  const marked = ids.interfaceId === SECURITY_INTERFACE_ID;
  if (ids.interfaceId !== undefined && !marked) return skip(stats, onWarning, origin, 'other interface', true);
  let body: string | undefined;
  try {
    body = bodyText(recordBody);
  } catch {
    // JSON.stringify of a body nested deeper than the stack allows.
    return skip(stats, onWarning, origin, 'body nested too deeply', false);
  }
  if (body === undefined) return skip(stats, onWarning, origin, 'no body', true);
  // An inline JSON body is parsed already; a base64 one is text to parse.
  const inline = recordBody !== null && typeof recordBody === 'object';
  const verdict = inline && body.length <= MAX_BODY_BYTES ? classifyParsed(recordBody, marked) : classifyBody(body, marked);
  if (verdict.kind === 'other') return skip(stats, onWarning, origin, 'not a security message', true);
  if (verdict.kind === 'invalid') return skip(stats, onWarning, origin, verdict.reason, false);
  stats.messages++;
  const enqueuedValue = caselessGet(record, 'EnqueuedTimeUtc');
  const enqueued = typeof enqueuedValue === 'string' ? enqueuedValue : undefined;
  return { body, message: verdict.message, deviceId: ids.deviceId, moduleId: ids.moduleId, enqueuedTime: ids.enqueuedTime ?? enqueued, origin };
}

function skip(stats: ExportStats, onWarning: (w: LineWarning) => void, origin: string, reason: string, other: boolean): undefined {
  if (other) stats.skippedOther++;
  else {
    stats.skippedInvalid++;
    onWarning({ origin, reason });
  }
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The storage endpoint writes a JSON body as JSON, anything else as base64 text. */
function bodyText(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') {
    if (body.length % 4 === 0 && BASE64.test(body)) return Buffer.from(body, 'base64').toString('utf8');
    return body;
  }
  return JSON.stringify(body);
}
