import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import * as avro from 'avsc';
import { EVENT_HUBS_CAPTURE_SCHEMA, IOT_HUB_STORAGE_SCHEMA } from '../export/avro-export';
import { SECURITY_INTERFACE_ID } from '../export/exported-message';

/** One device-to-cloud message as IoT Hub routes it. */
export interface RoutedMessage {
  readonly deviceId: string;
  readonly moduleId?: string;
  readonly enqueuedTime: Date;
  readonly body: string | Buffer;
  /** Marked with the security interface id (EdgeGuard's messages are); default true. */
  readonly security?: boolean;
}

export type ExportFormat = 'capture-avro' | 'iothub-avro' | 'iothub-json';

/**
 * Writes messages as the export it names would hold them: Event Hubs Capture Avro (AMQP annotation names
 * in SystemProperties, deflate blocks), IoT Hub storage Avro or JSON lines (camelCase names). Used by the
 * tests and the fleet simulation to produce real files in the formats Azure writes.
 */
export async function writeExport(file: string, format: ExportFormat, messages: Iterable<RoutedMessage>, options: { blockSize?: number } = {}): Promise<void> {
  if (format === 'iothub-json') {
    const out = createWriteStream(file);
    for (const m of messages) {
      if (!out.write(storageJsonLine(m) + '\n')) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    return;
  }
  const schema = format === 'capture-avro' ? EVENT_HUBS_CAPTURE_SCHEMA : IOT_HUB_STORAGE_SCHEMA;
  // Capture's map values are an ambiguous union (long and double): avsc wants them wrapped ({string: v}).
  const type = avro.Type.forSchema(schema as unknown as avro.Schema, { wrapUnions: 'auto' });
  const encoder = new avro.streams.BlockEncoder(type, { codec: format === 'capture-avro' ? 'deflate' : 'null', blockSize: options.blockSize ?? 64 * 1024 });
  const out = createWriteStream(file);
  encoder.pipe(out);
  let sequence = 0;
  for (const m of messages) {
    const record = format === 'capture-avro' ? captureRecord(m, sequence++) : storageRecord(m);
    if (!encoder.write(record)) await once(encoder, 'drain');
  }
  encoder.end();
  await once(out, 'finish');
}

function captureRecord(m: RoutedMessage, sequence: number): Record<string, unknown> {
  const system: Record<string, unknown> = {
    'iothub-connection-device-id': m.deviceId,
    'iothub-connection-auth-method': '{"scope":"module","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
    'iothub-connection-auth-generation-id': '638000000000000000',
    'iothub-enqueuedtime': m.enqueuedTime.getTime(),
    'iothub-message-source': 'Telemetry',
    'content-type': 'application/json',
    'content-encoding': 'utf-8',
  };
  if (m.moduleId !== undefined) system['iothub-connection-module-id'] = m.moduleId;
  if (m.security !== false) system['iothub-interface-id'] = SECURITY_INTERFACE_ID;
  return {
    SequenceNumber: sequence,
    Offset: String(sequence * 1024),
    EnqueuedTimeUtc: usTime(m.enqueuedTime),
    SystemProperties: wrapValues(system),
    Properties: wrapValues({ MessagePriority: 'Low' }),
    Body: Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body, 'utf8'),
  };
}

function wrapValues(map: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(map)) out[k] = typeof v === 'number' ? { long: v } : Buffer.isBuffer(v) ? { bytes: v } : { string: String(v) };
  return out;
}

function storageSystem(m: RoutedMessage): Record<string, string> {
  const system: Record<string, string> = {
    connectionDeviceId: m.deviceId,
    connectionAuthMethod: '{"scope":"module","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
    connectionDeviceGenerationId: '638000000000000000',
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    enqueuedTime: m.enqueuedTime.toISOString(),
  };
  if (m.moduleId !== undefined) system.connectionModuleId = m.moduleId;
  if (m.security !== false) system.interfaceId = SECURITY_INTERFACE_ID;
  return system;
}

function storageRecord(m: RoutedMessage): Record<string, unknown> {
  return {
    EnqueuedTimeUtc: m.enqueuedTime.toISOString(),
    Properties: { MessagePriority: 'Low' },
    SystemProperties: storageSystem(m),
    Body: Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body, 'utf8'),
  };
}

/** A storage endpoint JSON line: the body inline when it is JSON text, else base64. */
export function storageJsonLine(m: RoutedMessage): string {
  const text = Buffer.isBuffer(m.body) ? m.body.toString('utf8') : m.body;
  let body: string;
  try {
    JSON.parse(text);
    body = text;
  } catch {
    body = JSON.stringify(Buffer.from(text, 'utf8').toString('base64'));
  }
  return `{"EnqueuedTimeUtc":${JSON.stringify(m.enqueuedTime.toISOString())},"Properties":{"MessagePriority":"Low"},"SystemProperties":${JSON.stringify(storageSystem(m))},"Body":${body}}`;
}

/** Event Hubs writes EnqueuedTimeUtc as "12/1/2026 10:00:00 PM" in .NET's invariant culture. */
function usTime(d: Date): string {
  const h = d.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}
