import type { SecurityEvent } from '../core/event';

/** Longest line read from a recording (an IoT Hub message is at most 256 KB; base64 and envelope on top). */
export const MAX_LINE_CHARS = 4 * 1024 * 1024;
const MAX_NESTING = 4;

export interface RecordedMessage {
  events: SecurityEvent[];
  /** Device (and module) when the export says it (systemProperties), else the message's AgentId. */
  device?: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A key of `o` whatever its case (Body, body, BODY). */
function getCaseless(o: Obj, name: string): unknown {
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function decodeBody(body: unknown, depth: number): unknown {
  if (typeof body !== 'string') return body;
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) return JSON.parse(trimmed) as unknown;
  if (/^[A-Za-z0-9+/=\s]+$/.test(trimmed) && depth < MAX_NESTING) {
    const text = Buffer.from(trimmed, 'base64').toString('utf8');
    if (text.trim().startsWith('{')) return JSON.parse(text) as unknown;
  }
  throw new Error('body is neither JSON nor base64 JSON');
}

function isEvent(e: unknown): e is SecurityEvent {
  return isObj(e) && typeof e.Name === 'string' && Array.isArray(e.Payload) && e.Payload.every(isObj);
}

/**
 * One line of a recording: an EdgeGuard message (`{AgentId, Events: [...]}`), or an IoT Hub route
 * export wrapping it under Body/body (JSON, base64 JSON, or a JSON string) with systemProperties.
 * Throws with a reason when the line is not a message.
 */
export function parseRecordedLine(line: string): RecordedMessage {
  let node: unknown = JSON.parse(line) as unknown;
  let device: string | undefined;
  for (let depth = 0; depth < MAX_NESTING; depth++) {
    if (!isObj(node)) throw new Error('not a JSON object');
    const events = node.Events;
    if (Array.isArray(events)) {
      const good = events.filter(isEvent);
      if (good.length !== events.length) throw new Error('an event has no Name or Payload');
      if (device === undefined && typeof node.AgentId === 'string') device = node.AgentId;
      return { events: good, device };
    }
    const system = getCaseless(node, 'systemProperties');
    if (isObj(system)) {
      const d = getCaseless(system, 'connectionDeviceId');
      const m = getCaseless(system, 'connectionModuleId');
      if (typeof d === 'string') device = typeof m === 'string' ? `${d}/${m}` : d;
    }
    const body = getCaseless(node, 'Body');
    if (body === undefined) throw new Error('no Events and no Body');
    node = decodeBody(body, depth);
  }
  throw new Error('nested too deeply');
}
