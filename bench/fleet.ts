import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { eventType } from '../src/agent/event-registry';
import { readExportFile } from '../src/fleet/export/index';
import { sampleRecording, simulateFleet, type DeviceDay, type FleetDay } from '../src/fleet/simulate/fleet-model';
import { seededRandom } from '../src/core/seeded-random';
import { writeExport, type ExportFormat, type RoutedMessage } from '../src/fleet/simulate/export-writer';

/**
 * `npm run bench -- fleet`: the fleet simulation. Recorded agent messages (test/fixtures/fleet, 150 s of
 * `node dist/src/main.js` standalone) give the events' real sizes and mix; 10,000 devices with varied ids
 * and behaviour give the capacity table (docs/fleet.md); then one hour of a slice of that fleet is written
 * as real Event Hubs Capture and IoT Hub storage files and read back through the export reader on one core,
 * with JSON.parse of the same bodies in memory as the baseline.
 */
const FLEET = 10_000;
const SLICE_DEVICES = Number(process.env.FLEET_BENCH_DEVICES ?? 1000);
const SLICE_HOURS = 1;

function recordedLines(): string[] {
  const file = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'fleet', 'recorded-150s.jsonl.gz');
  return gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n');
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function capacityTable(day: FleetDay): string {
  const rows = [
    '| Devices (profile) | Messages / device / day | 4 KB units / device / day | MB / device / day |',
    '|---|---:|---:|---:|',
    ...day.byProfile.map((p) => `| ${fmt(p.devices)} ${p.profile} | ${fmt(p.messagesPerDevice, 1)} | ${fmt(p.unitsPerDevice)} | ${fmt(p.bytesPerDevice / 1e6, 2)} |`),
    `| **${fmt(day.devices)} fleet (mean)** | **${fmt(day.perDevice.messages, 1)}** | **${fmt(day.perDevice.units4KB)}** (p95 ${fmt(day.perDevice.p95Units4KB)}) | **${fmt(day.perDevice.bytes / 1e6, 2)}** |`,
    '',
    '| Fleet total per day | |',
    '|---|---:|',
    `| Messages | ${fmt(day.messages)} |`,
    `| 4 KB units (IoT Hub daily quota use) | ${fmt(day.units4KB)} |`,
    `| IoT Hub units | ${day.iotHub.S1} × S1, or ${day.iotHub.S2} × S2, or ${day.iotHub.S3} × S3 |`,
    `| Event Hubs throughput units | ${day.eventHubTUs.average} (average), ${day.eventHubTUs.peak} (3× peak) |`,
    `| ADX ingestion, EdgeGuardRaw | ${fmt(day.adxIngestGBPerDay.raw, 1)} GB/day |`,
    `| ADX ingestion, with EdgeGuardEvents | ${fmt(day.adxIngestGBPerDay.withEventsTable, 1)} GB/day (uncompressed) |`,
    `| Devices mostly under 4 KB | ${fmt(day.smallMessageDevices)} |`,
  ];
  return rows.join('\n');
}

/** One hour of the slice's messages: bodies packed from the recorded events up to each device's message size. */
function sliceMessages(devices: readonly DeviceDay[], lines: readonly string[]): RoutedMessage[] {
  const events: string[] = [];
  for (const line of lines) for (const e of (JSON.parse(line) as { Events: unknown[] }).Events) events.push(JSON.stringify(e));
  const rand = seededRandom(7);
  const start = Date.UTC(2026, 11, 1, 10);
  const out: RoutedMessage[] = [];
  let cursor = 0;
  for (const d of devices) {
    const perHour = (d.messages / 24) * SLICE_HOURS;
    const count = Math.floor(perHour) + (rand() < perHour % 1 ? 1 : 0);
    const size = d.messages > 0 ? d.bytes / d.messages : 0;
    const agentId = `00000000-0000-4000-8000-${d.deviceId.replace(/\D/g, '').padStart(12, '0')}`;
    for (let i = 0; i < count; i++) {
      const parts: string[] = [];
      let bytes = 0;
      while (bytes < size && parts.length < 5000) {
        const e = events[cursor++ % events.length]!;
        parts.push(e);
        bytes += e.length + 1;
      }
      out.push({
        deviceId: d.deviceId,
        moduleId: 'EdgeGuard',
        enqueuedTime: new Date(start + rand() * SLICE_HOURS * 3_600_000),
        body: `{"AgentVersion":"0.1.0","AgentId":"${agentId}","MessageSchemaVersion":"1.0","Events":[${parts.join(',')}]}`,
      });
    }
  }
  return out.sort((a, b) => a.enqueuedTime.getTime() - b.enqueuedTime.getTime());
}

/** CPU seconds (user + system) of this process since `since`: the one-core figure, steadier than wall time on a shared machine. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

async function timeReader(files: readonly string[]): Promise<{ seconds: number; cpu: number; messages: number; events: number; bytes: number; devices: number }> {
  const cpuStart = process.cpuUsage();
  const started = process.hrtime.bigint();
  let messages = 0;
  let events = 0;
  let bytes = 0;
  const devices = new Set<string>();
  for (const file of files) {
    for await (const m of readExportFile(file)) {
      messages++;
      events += m.message.Events.length;
      bytes += m.body.length;
      if (m.deviceId) devices.add(m.deviceId);
    }
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, cpu: cpuSeconds(cpuStart), messages, events, bytes, devices: devices.size };
}

interface DetectModule {
  detectFiles(files: readonly string[]): Promise<{ messages: number; events: number; alerts: unknown[] }>;
}

/** `edgeguard detect` over the slice's export files, when the detect command is in this build. */
async function timeDetect(label: string, files: readonly string[], expected: number, bytes: number, dayBytes: number, parseRate: number): Promise<void> {
  let detect: DetectModule;
  try {
    detect = (await import(path.resolve(__dirname, '..', 'src', 'cli', 'detect.js'))) as DetectModule;
  } catch {
    console.log(`edgeguard detect (${label}): not in this build (src/cli/detect); the figures above are the export reader it calls per file`);
    return;
  }
  const cpuStart = process.cpuUsage();
  const started = process.hrtime.bigint();
  const result = await detect.detectFiles(files);
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const seconds = cpuSeconds(cpuStart);
  if (result.messages !== expected) {
    console.log(`edgeguard detect (${label}): read ${result.messages} of ${expected} messages (this build's detect does not read this format)`);
    return;
  }
  const rate = bytes / seconds;
  console.log(
    `edgeguard detect (${label}, whole catalogue): ${fmt(result.messages / seconds)} messages/s, ${fmt(result.events / seconds)} events/s, ${fmt(rate / 1e6, 1)} MB/s [wall ${fmt(bytes / wall / 1e6, 1)} MB/s] ` +
      `(${fmt(rate / parseRate, 2)}× JSON.parse alone), ${result.alerts.length} alerts; a day of the ${FLEET}-device fleet (${fmt(dayBytes / 1e9, 1)} GB) ≈ ${fmt(dayBytes / rate / 60, 1)} min on one core`,
  );
}

export async function run(): Promise<void> {
  const lines = recordedLines();
  const sample = sampleRecording(lines);
  console.log(`recording: ${lines.length} messages over ${sample.seconds.toFixed(0)} s; event types: ${sample.types.map((t) => `${t.name} ${t.events}×${Math.round(t.meanBytes)} B`).join(', ')}`);
  const fleet = simulateFleet(sample, FLEET, (name) => eventType(name)?.defaultPriority);
  console.log(`\ncapacity, ${FLEET} devices, default frequencies (PT7M / PT5H / PT13H, 200 KB messages):\n`);
  console.log(capacityTable(fleet.day));

  const slice = fleet.devices.slice(0, SLICE_DEVICES);
  const messages = sliceMessages(slice, lines);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-fleet-bench-'));
  try {
    const bodies = messages.map((m) => String(m.body));
    const baseCpu = process.cpuUsage();
    let baseEvents = 0;
    for (const b of bodies) baseEvents += (JSON.parse(b) as { Events: unknown[] }).Events.length;
    const baseSeconds = cpuSeconds(baseCpu);
    const bodyBytes = bodies.reduce((a, b) => a + b.length, 0);
    console.log(`\nreplay: ${SLICE_DEVICES} devices × ${SLICE_HOURS} h = ${fmt(messages.length)} messages, ${fmt(baseEvents)} events, ${fmt(bodyBytes / 1e6, 1)} MB of bodies`);
    console.log(`baseline JSON.parse in memory: ${fmt(bodyBytes / 1e6 / baseSeconds, 1)} MB per CPU second`);
    console.log('rates below are per CPU second of this process (user + system), i.e. one core; wall time in brackets');
    const daySeconds = (rate: number) => fleet.day.bytes / rate;
    const written: Partial<Record<ExportFormat, string[]>> = {};
    for (const format of ['capture-avro', 'iothub-avro', 'iothub-json'] as ExportFormat[]) {
      const files: string[] = [];
      const partitions = 4;
      for (let p = 0; p < partitions; p++) {
        const file = path.join(dir, `${format}-${p}.${format.endsWith('json') ? 'json' : 'avro'}`);
        await writeExport(file, format, messages.filter((_, i) => i % partitions === p), { blockSize: 1024 * 1024 });
        files.push(file);
      }
      written[format] = files;
      const fileBytes = files.reduce((a, f) => a + statSync(f).size, 0);
      const r = await timeReader(files);
      if (r.messages !== messages.length) throw new Error(`${format}: read ${r.messages} of ${messages.length} messages`);
      const rate = r.bytes / r.cpu;
      console.log(
        `${format.padEnd(12)} ${fmt(fileBytes / 1e6, 1)} MB on disk: ${fmt(r.messages / r.cpu)} messages/s, ${fmt(r.events / r.cpu)} events/s, ${fmt(rate / 1e6, 1)} MB/s of bodies [wall ${fmt(r.bytes / r.seconds / 1e6, 1)} MB/s] ` +
          `(${fmt(rate / (bodyBytes / baseSeconds), 2)}× JSON.parse alone); ${r.devices} device ids; ` +
          `a day of the ${FLEET}-device fleet (${fmt(fleet.day.bytes / 1e9, 1)} GB) ≈ ${fmt(daySeconds(rate) / 60, 1)} min on one core`,
      );
    }
    await timeDetect('JSON lines', written['iothub-json']!, messages.length, bodyBytes, fleet.day.bytes, bodyBytes / baseSeconds);
    await timeDetect('Capture Avro', written['capture-avro']!, messages.length, bodyBytes, fleet.day.bytes, bodyBytes / baseSeconds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
