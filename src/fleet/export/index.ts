import { AVRO_MAGIC, readAvroExport, DEFAULT_AVRO_LIMITS, type AvroLimits } from './avro-export';
import { emptyStats, type ExportedMessage, type ExportStats } from './exported-message';
import { ExportReadError, FileSource } from './file-source';
import { readJsonLinesExport, type LineWarning } from './json-lines-export';

export { ExportReadError } from './file-source';
export { EVENT_HUBS_CAPTURE_SCHEMA, IOT_HUB_STORAGE_SCHEMA } from './avro-export';
export type { ExportedMessage, ExportStats, SecurityMessageBody } from './exported-message';
export type { LineWarning } from './json-lines-export';

export interface ReadExportOptions {
  /** Shown in origins and errors instead of the path. */
  displayName?: string;
  stats?: ExportStats;
  onWarning?: (warning: LineWarning) => void;
  avroLimits?: AvroLimits;
}

/**
 * The EdgeGuard security messages in one export file, in file order: an Event Hubs Capture or IoT Hub
 * storage Avro file (recognised by the Avro magic), else JSON lines (IoT Hub storage records or bare
 * messages). Device and module ids come from the IoT Hub system properties when the export has them.
 * Throws ExportReadError (after yielding what came before) for a file that cannot be read to its end.
 * This is the function `edgeguard detect` calls for each FILE.
 */
export async function* readExportFile(file: string, options: ReadExportOptions = {}): AsyncGenerator<ExportedMessage> {
  const name = options.displayName ?? file;
  const stats = options.stats ?? emptyStats();
  const source = await FileSource.open(file);
  try {
    await source.fill(4);
    const magic = source.view().subarray(0, 4);
    if (magic.length === 4 && magic.equals(AVRO_MAGIC)) yield* readAvroExport(source, name, stats, options.avroLimits ?? DEFAULT_AVRO_LIMITS);
    else yield* readJsonLinesExport(source, name, stats, options.onWarning);
  } finally {
    await source.close();
  }
}

export function isExportReadError(error: unknown): error is ExportReadError {
  return error instanceof ExportReadError;
}

/** True when the file starts with the Avro container magic (Event Hubs Capture, IoT Hub storage Avro). */
export async function isAvroExport(file: string): Promise<boolean> {
  let source: FileSource;
  try {
    source = await FileSource.open(file);
  } catch {
    return false;
  }
  try {
    await source.fill(4);
    const magic = source.view().subarray(0, 4);
    return magic.length === 4 && magic.equals(AVRO_MAGIC);
  } finally {
    await source.close();
  }
}

/** The device a message came from as `device/module` (IoT Hub system properties), else its AgentId. */
export function deviceLabel(m: ExportedMessage): string {
  if (m.deviceId !== undefined) return m.moduleId !== undefined ? `${m.deviceId}/${m.moduleId}` : m.deviceId;
  return m.message.AgentId;
}

/** A message's events that have a Name and an array Payload of objects (what the detection engine observes). */
export function wellFormedEvents<E extends { Name: string; Payload: unknown[] }>(m: ExportedMessage): { events: E[]; malformed: number } {
  const events: E[] = [];
  let malformed = 0;
  for (const e of m.message.Events) {
    const o = e as Record<string, unknown> | null;
    if (o && typeof o === 'object' && typeof o.Name === 'string' && Array.isArray(o.Payload) && o.Payload.every((p) => p !== null && typeof p === 'object' && !Array.isArray(p))) events.push(o as unknown as E);
    else malformed++;
  }
  return { events, malformed };
}
