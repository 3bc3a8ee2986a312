import path from 'node:path';
import { emptyStats } from '../fleet/export/exported-message';
import { isExportReadError, readExportFile, type ExportedMessage } from '../fleet/export/index';
import { SECURITY_INTERFACE_ID } from '../fleet/export/exported-message';
import { displayPath } from './scan-files';
import type { CliIO } from './scan';

export const EXPORT_MESSAGES_HELP = `Usage: edgeguard export-messages FILE... [--body-only]

Reads what an IoT Hub route exports and prints the EdgeGuard security messages in it, one JSON line
each, for \`edgeguard detect\` or any line-oriented tool:
  - Event Hubs Capture files (Avro, records Microsoft.ServiceBus.Messaging.EventData)
  - IoT Hub storage endpoint files, Avro (Microsoft.Azure.Devices.Message) or JSON lines
  - EdgeGuard's own output (one message per line, as the agent prints it standalone)
Other telemetry on the same route is left out (counted in the summary on standard error).

Each line is an IoT Hub storage record: {"EnqueuedTimeUtc", "SystemProperties": {"connectionDeviceId",
"connectionModuleId", "enqueuedTime", "interfaceId"}, "Body": <message>}, so the device and module ids
from IoT Hub's system properties stay with the message.

Options:
  --body-only    Print the bare message bodies (as the agent sends them) instead
  -h, --help     Show this help

Exit codes: 0 all files read, 2 usage error or a file that cannot be read to its end (what came
before the problem is still printed).
`;

/** One output line for a message: an IoT Hub storage JSON record, or the bare body. */
export function formatExportedMessage(m: ExportedMessage, bodyOnly: boolean): string {
  if (bodyOnly) return m.body;
  const system: Record<string, string> = { interfaceId: SECURITY_INTERFACE_ID };
  if (m.deviceId !== undefined) system.connectionDeviceId = m.deviceId;
  if (m.moduleId !== undefined) system.connectionModuleId = m.moduleId;
  if (m.enqueuedTime !== undefined) system.enqueuedTime = m.enqueuedTime;
  const enqueued = m.enqueuedTime !== undefined ? `"EnqueuedTimeUtc":${JSON.stringify(m.enqueuedTime)},` : '';
  return `{${enqueued}"Properties":{},"SystemProperties":${JSON.stringify(system)},"Body":${m.body}}`;
}

export async function runExportMessages(args: readonly string[], io: CliIO & { write?: (text: string) => Promise<void> }): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.stdout(EXPORT_MESSAGES_HELP);
    return 0;
  }
  const bodyOnly = args.includes('--body-only');
  const unknown = args.find((a) => a.startsWith('-') && a !== '--body-only');
  if (unknown !== undefined) {
    io.stderr(`edgeguard export-messages: unknown option ${unknown}\n\n${EXPORT_MESSAGES_HELP}`);
    return 2;
  }
  const files = args.filter((a) => !a.startsWith('-'));
  if (files.length === 0) {
    io.stderr(`edgeguard export-messages: no FILE given\n\n${EXPORT_MESSAGES_HELP}`);
    return 2;
  }
  const stats = emptyStats();
  let failed = false;
  for (const file of files) {
    const shown = displayPath(file, io.cwd);
    let batch: string[] = [];
    try {
      for await (const m of readExportFile(path.resolve(io.cwd, file), {
        displayName: shown,
        stats,
        onWarning: (w) => io.stderr(`edgeguard export-messages: ${w.origin}: ${w.reason}\n`),
      })) {
        batch.push(formatExportedMessage(m, bodyOnly));
        if (batch.length >= 256) {
          await flush(io, batch);
          batch = [];
        }
      }
      await flush(io, batch);
    } catch (error) {
      if (!isExportReadError(error)) throw error;
      // What was read before the problem is still printed.
      await flush(io, batch);
      failed = true;
      io.stderr(`edgeguard export-messages: ${shown}${error.offset !== undefined ? ` (byte ${error.offset})` : ''}: ${error.message}\n`);
    }
  }
  io.stderr(`edgeguard export-messages: ${stats.messages} messages from ${stats.records} records; ${stats.skippedOther} other, ${stats.skippedInvalid} unreadable\n`);
  return failed ? 2 : 0;
}

async function flush(io: CliIO & { write?: (text: string) => Promise<void> }, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const text = lines.join('\n') + '\n';
  // Standard output may be a slow pipe: wait for it so memory stays bounded on a large export.
  if (io.write) await io.write(text);
  else io.stdout(text);
}
