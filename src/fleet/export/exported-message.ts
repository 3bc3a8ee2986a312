/** The interface id the Azure IoT SDKs stamp on security messages (`Message.setAsSecurityMessage()`). */
export const SECURITY_INTERFACE_ID = 'urn:azureiot:Security:SecurityAgent:1';

/** Largest message body accepted: IoT Hub caps a device-to-cloud message at 256 KB; 1 MiB leaves room. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** One EdgeGuard security message found in an export, with what IoT Hub stamped on it. */
export interface ExportedMessage {
  /** The message body as sent (UTF-8 JSON text of the Defender for IoT envelope). */
  readonly body: string;
  /** Parsed body: `AgentId`, `AgentVersion`, `MessageSchemaVersion`, `Events`. */
  readonly message: SecurityMessageBody;
  /** IoT Hub system properties, when the export carries them. */
  readonly deviceId?: string;
  readonly moduleId?: string;
  /** When IoT Hub (or Event Hubs) enqueued the message, ISO 8601. */
  readonly enqueuedTime?: string;
  /** Where it came from, for error messages and reports: `file#record` or `file:line`. */
  readonly origin: string;
}

export interface SecurityMessageBody {
  readonly AgentId: string;
  readonly AgentVersion?: string;
  readonly MessageSchemaVersion?: string;
  readonly Events: readonly unknown[];
  readonly [key: string]: unknown;
}

/** What a reader saw besides the messages it yielded. */
export interface ExportStats {
  records: number;
  messages: number;
  /** Records that are not EdgeGuard security messages (other telemetry routed to the same place). */
  skippedOther: number;
  /** Records that could not be read (bad JSON, oversize); each also reported as a warning. */
  skippedInvalid: number;
}

export function emptyStats(): ExportStats {
  return { records: 0, messages: 0, skippedOther: 0, skippedInvalid: 0 };
}

/** Property names IoT Hub uses: AMQP annotation names (Event Hubs, Capture) and the storage endpoint's camelCase ones. */
const DEVICE_KEYS = ['iothub-connection-device-id', 'connectionDeviceId'];
const MODULE_KEYS = ['iothub-connection-module-id', 'connectionModuleId'];
const ENQUEUED_KEYS = ['iothub-enqueuedtime', 'enqueuedTime', 'x-opt-enqueued-time'];
const INTERFACE_KEYS = ['iothub-interface-id', 'interfaceId', 'dt-dataschema'];

export interface SystemIdentity {
  deviceId?: string;
  moduleId?: string;
  enqueuedTime?: string;
  interfaceId?: string;
}

/** Device, module, enqueued time and interface id from a system-properties map (either spelling, any case). */
export function systemIdentity(props: Readonly<Record<string, unknown>> | undefined | null): SystemIdentity {
  if (!props || typeof props !== 'object') return {};
  const byLower = new Map<string, unknown>();
  for (const key of Object.keys(props)) {
    const lower = key.toLowerCase();
    // The first spelling wins: a record repeating a key in another case cannot override it.
    if (!byLower.has(lower)) byLower.set(lower, props[key]);
  }
  return {
    deviceId: firstString(byLower, DEVICE_KEYS),
    moduleId: firstString(byLower, MODULE_KEYS),
    enqueuedTime: firstTime(byLower, ENQUEUED_KEYS),
    interfaceId: firstString(byLower, INTERFACE_KEYS),
  };
}

/** The value of `name` in `record`, matching the key's case loosely (Body, body, BODY); the first match wins. */
export function caselessGet(record: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(record, name)) return record[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(record)) if (key.toLowerCase() === lower) return record[key];
  return undefined;
}

function firstString(props: ReadonlyMap<string, unknown>, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const v = props.get(key.toLowerCase());
    if (typeof v === 'string') return v;
    if (Buffer.isBuffer(v)) return v.toString('utf8');
  }
  return undefined;
}

function firstTime(props: ReadonlyMap<string, unknown>, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const v = props.get(key.toLowerCase());
    if (typeof v === 'string') return v;
    // AMQP timestamps come through Capture as milliseconds since the epoch.
    if (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 8.64e15) return new Date(v).toISOString();
  }
  return undefined;
}

export type BodyVerdict = { kind: 'message'; message: SecurityMessageBody } | { kind: 'other' } | { kind: 'invalid'; reason: string };

/**
 * Decides whether a body is an EdgeGuard (Defender for IoT format) security message. Bodies that are
 * JSON but not such a message are "other" (telemetry of other modules on the same route); bodies that
 * fail to parse when marked as security messages are invalid.
 */
export function classifyBody(text: string, markedSecurity: boolean): BodyVerdict {
  if (text.length > MAX_BODY_BYTES) return { kind: 'invalid', reason: `body larger than ${MAX_BODY_BYTES} bytes` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // RangeError: nesting too deep for the parser; SyntaxError: not JSON.
    if (!markedSecurity) return { kind: 'other' };
    return { kind: 'invalid', reason: error instanceof RangeError ? 'body nested too deeply' : 'body is not JSON' };
  }
  return classifyParsed(parsed, markedSecurity);
}

/** classifyBody for a body that is already parsed (a JSON-encoded storage record carries it inline). */
export function classifyParsed(parsed: unknown, markedSecurity: boolean): BodyVerdict {
  if (isSecurityMessage(parsed)) return { kind: 'message', message: parsed };
  return markedSecurity ? { kind: 'invalid', reason: 'marked as a security message but has no AgentId/Events' } : { kind: 'other' };
}

export function isSecurityMessage(value: unknown): value is SecurityMessageBody {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.AgentId === 'string' && Array.isArray(v.Events);
}
