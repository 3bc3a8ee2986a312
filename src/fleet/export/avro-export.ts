import { inflateRawSync } from 'node:zlib';
import * as avro from 'avsc';
import { classifyBody, emptyStats, SECURITY_INTERFACE_ID, systemIdentity, type ExportedMessage, type ExportStats } from './exported-message';
import { ExportReadError, type FileSource } from './file-source';

/** Avro object container magic: "Obj" 0x01. */
export const AVRO_MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);

/** The record Event Hubs Capture writes (namespace Microsoft.ServiceBus.Messaging). */
export const EVENT_HUBS_CAPTURE_SCHEMA = {
  type: 'record',
  name: 'EventData',
  namespace: 'Microsoft.ServiceBus.Messaging',
  fields: [
    { name: 'SequenceNumber', type: 'long' },
    { name: 'Offset', type: 'string' },
    { name: 'EnqueuedTimeUtc', type: 'string' },
    { name: 'SystemProperties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes'] } },
    { name: 'Properties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes', 'null'] } },
    { name: 'Body', type: ['null', 'bytes'] },
  ],
} as const;

/** The record an IoT Hub storage endpoint writes in Avro encoding (namespace Microsoft.Azure.Devices). */
export const IOT_HUB_STORAGE_SCHEMA = {
  type: 'record',
  name: 'Message',
  namespace: 'Microsoft.Azure.Devices',
  fields: [
    { name: 'EnqueuedTimeUtc', type: 'string' },
    { name: 'Properties', type: { type: 'map', values: 'string' } },
    { name: 'SystemProperties', type: { type: 'map', values: 'string' } },
    { name: 'Body', type: ['null', 'bytes'] },
  ],
} as const;

/** What this reader decodes any of the two into: the writer's schema is resolved against it. */
const READER_SCHEMA = {
  type: 'record',
  name: 'EdgeGuardExportRecord',
  aliases: ['Microsoft.ServiceBus.Messaging.EventData', 'Microsoft.Azure.Devices.Message'],
  fields: [
    { name: 'EnqueuedTimeUtc', type: ['null', 'string'], default: null },
    // long values resolve to double (an Avro promotion): one numeric branch keeps the union unwrapped.
    { name: 'SystemProperties', type: { type: 'map', values: ['null', 'double', 'string', 'bytes'] }, default: {} },
    { name: 'Properties', type: { type: 'map', values: ['null', 'double', 'string', 'bytes'] }, default: {} },
    { name: 'Body', type: ['null', 'bytes'], default: null },
  ],
};

interface ExportRecord {
  EnqueuedTimeUtc: string | null;
  SystemProperties: Record<string, unknown>;
  Properties: Record<string, unknown>;
  Body: Buffer | null;
}

export interface AvroLimits {
  /** Largest block, compressed or not (default 64 MiB: Capture writes blocks of a few MB). */
  maxBlockBytes: number;
  /** Largest header metadata (schema and codec), default 256 KiB. */
  maxHeaderBytes: number;
}

export const DEFAULT_AVRO_LIMITS: AvroLimits = { maxBlockBytes: 64 * 1024 * 1024, maxHeaderBytes: 256 * 1024 };

const readerType = avro.Type.forSchema(READER_SCHEMA as avro.Schema, { wrapUnions: false });
const LONG = avro.Type.forSchema('long');
const HEADER_TYPE = avro.Type.forSchema({
  type: 'record',
  name: 'org.apache.avro.file.Header',
  fields: [
    { name: 'magic', type: { type: 'fixed', name: 'Magic', size: 4 } },
    { name: 'meta', type: { type: 'map', values: 'bytes' } },
    { name: 'sync', type: { type: 'fixed', name: 'Sync', size: 16 } },
  ],
});
const SYNC_BYTES = 16;

interface Header {
  resolver: avro.Resolver;
  codec: 'null' | 'deflate';
  sync: Buffer;
}

/**
 * Reads an Avro object container file of Event Hubs Capture or IoT Hub storage records, yielding the
 * EdgeGuard security messages in it. Memory stays within one block (bounded by `maxBlockBytes`, also for
 * deflate output); a truncated or corrupt file ends with an ExportReadError naming the byte offset.
 */
export async function* readAvroExport(source: FileSource, name: string, stats = emptyStats(), limits: AvroLimits = DEFAULT_AVRO_LIMITS): AsyncGenerator<ExportedMessage> {
  const header = await readHeader(source, limits);
  let block = 0;
  while (true) {
    await source.fill(20);
    if (source.ended) return;
    const blockOffset = source.position;
    const head = source.view();
    const count = decodeLong(head, 0, blockOffset, 'block record count');
    const size = decodeLong(head, count.offset, blockOffset, 'block size');
    if (count.value < 0 || size.value < 0) throw new ExportReadError(`corrupt block ${block}: negative count or size`, blockOffset);
    if (size.value > limits.maxBlockBytes) throw new ExportReadError(`block ${block} claims ${size.value} bytes, more than the ${limits.maxBlockBytes}-byte limit`, blockOffset);
    // Every record of either schema takes at least 4 bytes: a count above the size is corrupt.
    if (count.value > size.value) throw new ExportReadError(`corrupt block ${block}: ${count.value} records cannot fit ${size.value} bytes`, blockOffset);
    const total = size.offset + size.value + SYNC_BYTES;
    if ((await source.fill(total)) < total) throw new ExportReadError(`truncated: block ${block} needs ${total} bytes, the file ends first`, blockOffset);
    const buf = source.view();
    const data = buf.subarray(size.offset, size.offset + size.value);
    if (!buf.subarray(size.offset + size.value, total).equals(header.sync)) throw new ExportReadError(`corrupt block ${block}: sync marker does not match the header's`, blockOffset);
    const records = decompress(data, header.codec, limits, blockOffset);
    let pos = 0;
    for (let i = 0; i < count.value; i++) {
      const recordIndex = stats.records++;
      let decoded: { value: unknown; offset: number };
      try {
        decoded = readerType.decode(records, pos, header.resolver);
      } catch (error) {
        throw new ExportReadError(`corrupt record ${i} of block ${block}: ${(error as Error).message.split('\n')[0]}`, blockOffset);
      }
      if (decoded.offset < 0) throw new ExportReadError(`corrupt block ${block}: record ${i} runs past the block's end`, blockOffset);
      pos = decoded.offset;
      const message = toMessage(decoded.value as ExportRecord, `${name}#${recordIndex}`, stats);
      if (message) yield message;
    }
    if (pos !== records.length) throw new ExportReadError(`corrupt block ${block}: ${records.length - pos} bytes left after ${count.value} records`, blockOffset);
    source.consume(total);
    block++;
  }
}

function toMessage(record: ExportRecord, origin: string, stats: ExportStats): ExportedMessage | undefined {
  const ids = systemIdentity(record.SystemProperties);
  const marked = ids.interfaceId === SECURITY_INTERFACE_ID;
  if (ids.interfaceId !== undefined && !marked) {
    stats.skippedOther++;
    return undefined;
  }
  if (!record.Body) {
    stats.skippedOther++;
    return undefined;
  }
  const body = record.Body.toString('utf8');
  const verdict = classifyBody(body, marked);
  if (verdict.kind === 'other') {
    stats.skippedOther++;
    return undefined;
  }
  if (verdict.kind === 'invalid') {
    stats.skippedInvalid++;
    return undefined;
  }
  stats.messages++;
  return {
    body,
    message: verdict.message,
    deviceId: ids.deviceId,
    moduleId: ids.moduleId,
    enqueuedTime: ids.enqueuedTime ?? record.EnqueuedTimeUtc ?? undefined,
    origin,
  };
}

async function readHeader(source: FileSource, limits: AvroLimits): Promise<Header> {
  await source.fill(limits.maxHeaderBytes + SYNC_BYTES + 4);
  const buf = source.view();
  if (buf.length < 4 || !buf.subarray(0, 4).equals(AVRO_MAGIC)) throw new ExportReadError('not an Avro object container file', 0);
  let header: { value: { meta: Record<string, Buffer>; sync: Buffer }; offset: number };
  try {
    header = HEADER_TYPE.decode(buf.subarray(0, Math.min(buf.length, limits.maxHeaderBytes + SYNC_BYTES + 4)), 0) as typeof header;
  } catch (error) {
    throw new ExportReadError(`corrupt Avro header: ${(error as Error).message.split('\n')[0]}`, 0);
  }
  if (header.offset < 0) throw new ExportReadError(buf.length < limits.maxHeaderBytes ? 'truncated Avro header' : `Avro header larger than ${limits.maxHeaderBytes} bytes`, 0);
  const codecName = header.value.meta['avro.codec']?.toString('utf8') ?? 'null';
  if (codecName !== 'null' && codecName !== 'deflate') throw new ExportReadError(`Avro codec "${codecName.slice(0, 40)}" is not supported (null and deflate are)`, 0);
  const schemaText = header.value.meta['avro.schema']?.toString('utf8');
  if (!schemaText) throw new ExportReadError('Avro header has no schema', 0);
  let writer: avro.Type;
  try {
    writer = avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema);
  } catch (error) {
    throw new ExportReadError(`Avro schema cannot be read: ${(error instanceof RangeError ? 'nested too deeply' : (error as Error).message).split('\n')[0].slice(0, 200)}`, 0);
  }
  let resolver: avro.Resolver;
  try {
    resolver = readerType.createResolver(writer);
  } catch {
    throw new ExportReadError(`Avro records of type "${String(writer.name ?? writer.typeName).slice(0, 80)}" are neither Event Hubs Capture (EventData) nor IoT Hub storage (Message) records`, 0);
  }
  source.consume(header.offset);
  return { resolver, codec: codecName, sync: Buffer.from(header.value.sync) };
}

function decodeLong(buf: Buffer, pos: number, fileOffset: number, what: string): { value: number; offset: number } {
  let r: { value: unknown; offset: number };
  try {
    r = LONG.decode(buf, pos);
  } catch {
    throw new ExportReadError(`corrupt ${what}`, fileOffset);
  }
  if (r.offset < 0) throw new ExportReadError(`truncated: the file ends inside a block header (${what})`, fileOffset);
  if (typeof r.value !== 'number' || !Number.isSafeInteger(r.value)) throw new ExportReadError(`corrupt ${what}`, fileOffset);
  return { value: r.value, offset: r.offset };
}

function decompress(data: Buffer, codec: Header['codec'], limits: AvroLimits, fileOffset: number): Buffer {
  if (codec === 'null') return data;
  try {
    // maxOutputLength bounds a deflate bomb to one block's worth of memory.
    return inflateRawSync(data, { maxOutputLength: limits.maxBlockBytes });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ExportReadError(code === 'ERR_BUFFER_TOO_LARGE' ? `block inflates to more than ${limits.maxBlockBytes} bytes` : 'corrupt deflate block', fileOffset);
  }
}
