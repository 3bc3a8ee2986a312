import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import * as avro from 'avsc';
import { deviceLabel, EVENT_HUBS_CAPTURE_SCHEMA, isAvroExport, readExportFile, wellFormedEvents, type ExportedMessage, type LineWarning } from '../../../src/fleet/export/index';
import { DEFAULT_AVRO_LIMITS } from '../../../src/fleet/export/avro-export';
import { emptyStats, type ExportStats } from '../../../src/fleet/export/exported-message';
import { writeExport, type RoutedMessage } from '../../../src/fleet/simulate/export-writer';
import { formatExportedMessage, runExportMessages } from '../../../src/cli/export-messages';
import { fixturePath } from './fixtures';

const RECORDED = readFileSync(fixturePath('recorded-messages.jsonl'), 'utf8').trim().split('\n');

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-export-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(file: string, stats: ExportStats = emptyStats(), warnings: LineWarning[] = [], limits = DEFAULT_AVRO_LIMITS): Promise<{ messages: ExportedMessage[]; error?: Error }> {
  const messages: ExportedMessage[] = [];
  try {
    for await (const m of readExportFile(file, { stats, onWarning: (w) => warnings.push(w), avroLimits: limits })) messages.push(m);
  } catch (error) {
    return { messages, error: error as Error };
  }
  return { messages };
}

function fleetMessages(n: number): RoutedMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    deviceId: `gateway-${i % 3}`,
    moduleId: 'EdgeGuard',
    enqueuedTime: new Date(Date.UTC(2026, 11, 1, 10, 0, i)),
    body: RECORDED[i % RECORDED.length]!,
  }));
}

const OTHER_TELEMETRY: RoutedMessage = { deviceId: 'gateway-0', moduleId: 'tempSensor', enqueuedTime: new Date(Date.UTC(2026, 11, 1, 10)), body: '{"machine":{"temperature":21.5}}', security: false };

describe('export readers: the formats Azure writes', () => {
  test('Event Hubs Capture Avro (deflate): messages with device and module ids from the IoT Hub annotations; other telemetry left out', async () => {
    const file = path.join(dir, 'capture.avro');
    await writeExport(file, 'capture-avro', [...fleetMessages(5), OTHER_TELEMETRY], { blockSize: 8 * 1024 });
    const stats = emptyStats();
    const { messages, error } = await readAll(file, stats);
    assert.equal(error, undefined);
    assert.equal(messages.length, 5);
    assert.deepEqual(messages.map((m) => m.deviceId), ['gateway-0', 'gateway-1', 'gateway-2', 'gateway-0', 'gateway-1']);
    assert.ok(messages.every((m) => m.moduleId === 'EdgeGuard'));
    assert.equal(messages[2]!.enqueuedTime, '2026-12-01T10:00:02.000Z');
    assert.equal(messages[0]!.body, RECORDED[0]);
    assert.equal(messages[0]!.message.AgentId, JSON.parse(RECORDED[0]!).AgentId);
    assert.deepEqual(stats, { records: 6, messages: 5, skippedOther: 1, skippedInvalid: 0 });
  });

  test('IoT Hub storage endpoint, Avro encoding (Microsoft.Azure.Devices.Message)', async () => {
    const file = path.join(dir, 'storage.avro');
    await writeExport(file, 'iothub-avro', [OTHER_TELEMETRY, ...fleetMessages(4)]);
    const { messages, error } = await readAll(file);
    assert.equal(error, undefined);
    assert.deepEqual(messages.map((m) => [m.deviceId, m.moduleId]), [['gateway-0', 'EdgeGuard'], ['gateway-1', 'EdgeGuard'], ['gateway-2', 'EdgeGuard'], ['gateway-0', 'EdgeGuard']]);
    assert.equal(messages[3]!.body, RECORDED[3]);
  });

  test('IoT Hub storage endpoint, JSON encoding: body inline or base64, and bare agent output', async () => {
    const file = path.join(dir, 'storage.json');
    await writeExport(file, 'iothub-json', fleetMessages(2));
    const b64 = {
      EnqueuedTimeUtc: '2026-12-01T11:00:00.000Z',
      Properties: {},
      SystemProperties: { connectionDeviceId: 'gw-b64', connectionModuleId: 'EdgeGuard', enqueuedTime: '2026-12-01T11:00:00.000Z' },
      Body: Buffer.from(RECORDED[1]!).toString('base64'),
    };
    writeFileSync(file, readFileSync(file, 'utf8') + JSON.stringify(b64) + '\n' + RECORDED[2] + '\n', 'utf8');
    const { messages, error } = await readAll(file);
    assert.equal(error, undefined);
    assert.deepEqual(messages.map((m) => m.deviceId), ['gateway-0', 'gateway-1', 'gw-b64', undefined]);
    assert.equal(messages[2]!.body, RECORDED[1]);
    assert.equal(messages[3]!.body, RECORDED[2]);
    assert.equal(messages[2]!.enqueuedTime, '2026-12-01T11:00:00.000Z');
  });

  test('export-messages prints storage records that read back with the same ids and bodies', async () => {
    const file = path.join(dir, 'cli.avro');
    await writeExport(file, 'capture-avro', fleetMessages(3));
    let out = '';
    let err = '';
    const code = await runExportMessages([file], { cwd: dir, stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdoutIsTTY: false, env: {} });
    assert.equal(code, 0);
    assert.match(err, /3 messages from 3 records/);
    const back = path.join(dir, 'cli.jsonl');
    writeFileSync(back, out);
    const { messages } = await readAll(back);
    assert.deepEqual(messages.map((m) => m.deviceId), ['gateway-0', 'gateway-1', 'gateway-2']);
    assert.deepEqual(messages.map((m) => m.message), [0, 1, 2].map((i) => JSON.parse(RECORDED[i]!)));
    const bare = formatExportedMessage(messages[0]!, true);
    assert.equal(bare, JSON.stringify(JSON.parse(RECORDED[0]!)));
  });

  test('export-messages on a truncated file: the messages before the cut are printed, the cut is reported, exit 2', async () => {
    const file = path.join(dir, 'cli-cut.avro');
    await writeExport(file, 'capture-avro', fleetMessages(6), { blockSize: 1024 });
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length * 0.7)));
    let out = '';
    let err = '';
    const code = await runExportMessages([file, '--body-only'], { cwd: dir, stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, stdoutIsTTY: false, env: {} });
    assert.equal(code, 2);
    const lines = out.split('\n').filter((l) => l !== '');
    assert.ok(lines.length >= 1 && lines.length < 6, `${lines.length} lines`);
    assert.deepEqual(lines, RECORDED.slice(0, lines.length));
    assert.match(err, /cli-cut\.avro \(byte \d+\): truncated/);
  });

  test('the edgeguard binary runs export-messages (usage errors exit 2)', () => {
    const bin = path.resolve(__dirname, '../../../src/cli/main.js');
    const help = execFileSync(process.execPath, [bin, 'export-messages', '--help'], { encoding: 'utf8' });
    assert.match(help, /Event Hubs Capture/);
    assert.throws(() => execFileSync(process.execPath, [bin, 'export-messages'], { stdio: 'pipe' }), (e: { status?: number }) => e.status === 2);
  });
});

describe('export readers: hostile input', () => {
  test('truncated Avro: the messages before the cut, then a clear error with the byte offset', async () => {
    const file = path.join(dir, 'truncated.avro');
    await writeExport(file, 'capture-avro', fleetMessages(6), { blockSize: 1024 });
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length * 0.7)));
    const { messages, error } = await readAll(file);
    assert.ok(messages.length >= 1 && messages.length < 6, `read ${messages.length}`);
    assert.equal(error?.name, 'ExportReadError');
    assert.match(error!.message, /truncated/);
    assert.equal(typeof (error as { offset?: number }).offset, 'number');
  });

  test('a block claiming gigabytes is refused before anything is buffered', async () => {
    const file = path.join(dir, 'huge-block.avro');
    await writeExport(file, 'iothub-avro', fleetMessages(1));
    const bytes = readFileSync(file);
    // Rewrite the first block header: count 1, size 2^31 (zigzag varints), then nothing.
    const headerEnd = avroHeaderLength(bytes);
    const long = avro.Type.forSchema('long');
    const patched = Buffer.concat([bytes.subarray(0, headerEnd), long.toBuffer(1), long.toBuffer(2 ** 31), Buffer.alloc(64)]);
    writeFileSync(file, patched);
    const before = process.memoryUsage().rss;
    const { error } = await readAll(file);
    assert.match(error?.message ?? '', /claims 2147483648 bytes, more than the 67108864-byte limit/);
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
  });

  test('a deflate bomb stops at the block limit', async () => {
    const file = path.join(dir, 'bomb.avro');
    await writeExport(file, 'capture-avro', fleetMessages(1));
    const bytes = readFileSync(file);
    const headerEnd = avroHeaderLength(bytes);
    const sync = bytes.subarray(headerEnd - 16, headerEnd);
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024));
    const long = avro.Type.forSchema('long');
    writeFileSync(file, Buffer.concat([bytes.subarray(0, headerEnd), long.toBuffer(1), long.toBuffer(bomb.length), bomb, sync]));
    const { error } = await readAll(file, emptyStats(), [], { ...DEFAULT_AVRO_LIMITS, maxBlockBytes: 1024 * 1024 });
    assert.match(error?.message ?? '', /inflates to more than 1048576 bytes/);
  });

  test('a wrong sync marker, a record count larger than the block and an unknown codec are corrupt', async () => {
    const file = path.join(dir, 'sync.avro');
    await writeExport(file, 'iothub-avro', fleetMessages(2));
    const bytes = Buffer.from(readFileSync(file));
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(file, bytes);
    assert.match((await readAll(file)).error?.message ?? '', /sync marker/);

    const headerEnd = avroHeaderLength(bytes);
    const long = avro.Type.forSchema('long');
    writeFileSync(file, Buffer.concat([bytes.subarray(0, headerEnd), long.toBuffer(1_000_000), long.toBuffer(10), Buffer.alloc(26)]));
    assert.match((await readAll(file)).error?.message ?? '', /1000000 records cannot fit 10 bytes/);

    const enc = new avro.streams.BlockEncoder(avro.Type.forSchema(EVENT_HUBS_CAPTURE_SCHEMA as unknown as avro.Schema), { codec: 'snappy', codecs: { snappy: (b: Buffer, cb: (e: Error | null, r?: Buffer) => void) => cb(null, b) } });
    const chunks: Buffer[] = [];
    enc.on('data', (c: Buffer) => chunks.push(c));
    enc.write({ SequenceNumber: 0, Offset: '0', EnqueuedTimeUtc: '12/1/2026 10:00:00 AM', SystemProperties: {}, Properties: {}, Body: null });
    enc.end();
    await new Promise((r) => enc.on('end', r));
    writeFileSync(file, Buffer.concat(chunks));
    assert.match((await readAll(file)).error?.message ?? '', /codec "snappy" is not supported/);
  });

  test('an Avro file of another record type is named as such', async () => {
    const file = path.join(dir, 'other.avro');
    const type = avro.Type.forSchema({ type: 'record', name: 'Reading', fields: [{ name: 'temperature', type: 'double' }] });
    const enc = new avro.streams.BlockEncoder(type);
    const chunks: Buffer[] = [];
    enc.on('data', (c: Buffer) => chunks.push(c));
    enc.write({ temperature: 1 });
    enc.end();
    await new Promise((r) => enc.on('end', r));
    writeFileSync(file, Buffer.concat(chunks));
    assert.match((await readAll(file)).error?.message ?? '', /"Reading" are neither Event Hubs Capture \(EventData\) nor IoT Hub storage \(Message\) records/);
  });

  test('a header whose schema nests thousands deep is refused with a message', async () => {
    const file = path.join(dir, 'deep-schema.avro');
    let schema = '"string"';
    for (let i = 0; i < 20000; i++) schema = `{"type":"array","items":${schema}}`;
    const meta = avro.Type.forSchema({ type: 'map', values: 'bytes' }).toBuffer({ 'avro.schema': Buffer.from(schema), 'avro.codec': Buffer.from('null') });
    writeFileSync(file, Buffer.concat([Buffer.from('Obj\x01', 'latin1'), meta, Buffer.alloc(16)]));
    const { error } = await readAll(file, emptyStats(), [], { ...DEFAULT_AVRO_LIMITS, maxHeaderBytes: 1024 * 1024 });
    assert.equal(error?.name, 'ExportReadError');
    assert.match(error!.message, /Avro schema cannot be read|neither Event Hubs/);
  });

  test('garbage, deep JSON and an oversize line are warnings; the good lines around them still read', async () => {
    const file = path.join(dir, 'hostile.jsonl');
    const fd = openSync(file, 'w');
    writeSync(fd, RECORDED[1] + '\n');
    writeSync(fd, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x0a]));
    writeSync(fd, '['.repeat(200_000) + '\n');
    writeSync(fd, '{"Body":' + '['.repeat(100_000) + ']'.repeat(100_000) + ',"SystemProperties":{"interfaceId":"urn:azureiot:Security:SecurityAgent:1"}}\n');
    writeSync(fd, 'x'.repeat(5 * 1024 * 1024) + '\n');
    writeSync(fd, '"just a string"\n');
    writeSync(fd, RECORDED[2]!);
    closeSync(fd);
    const warnings: LineWarning[] = [];
    const stats = emptyStats();
    const { messages, error } = await readAll(file, stats, warnings);
    assert.equal(error, undefined);
    assert.deepEqual(messages.map((m) => m.body), [RECORDED[1], RECORDED[2]]);
    assert.deepEqual(warnings.map((w) => w.origin), ['hostile.jsonl:2', 'hostile.jsonl:3', 'hostile.jsonl:4', 'hostile.jsonl:5', 'hostile.jsonl:6'].map((o) => path.join(dir, o.split(':')[0]!) + ':' + o.split(':')[1]));
    assert.match(warnings[2]!.reason, /marked as a security message but has no AgentId\/Events|nested too deeply/);
    assert.match(warnings[3]!.reason, /longer than/);
    assert.equal(stats.skippedInvalid, 5);
  });

  test('case-variant keys: body/systemProperties in any case are read; a repeated key in another case cannot override the first', async () => {
    const file = path.join(dir, 'case.jsonl');
    const lower = { enqueuedtimeutc: '2026-12-01T12:00:00.000Z', systemproperties: { CONNECTIONDEVICEID: 'gw-upper', connectionmoduleid: 'EdgeGuard' }, body: JSON.parse(RECORDED[1]!) as unknown };
    const twice = `{"SystemProperties":{"connectionDeviceId":"gw-real","ConnectionDeviceID":"gw-spoof"},"Body":${RECORDED[2]!}}`;
    writeFileSync(file, JSON.stringify(lower) + '\n' + twice + '\n');
    const { messages, error } = await readAll(file);
    assert.equal(error, undefined);
    assert.deepEqual(messages.map((m) => [m.deviceId, m.moduleId]), [['gw-upper', 'EdgeGuard'], ['gw-real', undefined]]);
    assert.equal(messages[0]!.enqueuedTime, '2026-12-01T12:00:00.000Z');
  });

  test('FIFO, device, directory, symlink loop and missing file: refused at once with a reason', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const loop = path.join(dir, 'loop');
    symlinkSync(loop, loop);
    mkdirSync(path.join(dir, 'adir'));
    const started = Date.now();
    assert.match((await readAll(fifo)).error?.message ?? '', /is a FIFO \(named pipe\), not a regular file/);
    assert.match((await readAll('/dev/zero')).error?.message ?? '', /is a character device, not a regular file/);
    assert.match((await readAll(loop)).error?.message ?? '', /symbolic links/);
    assert.match((await readAll(path.join(dir, 'adir'))).error?.message ?? '', /directory/);
    assert.match((await readAll(path.join(dir, 'missing'))).error?.message ?? '', /no such file/);
    assert.ok(Date.now() - started < 5000);
  });
});

/** Length of an Avro container header (magic, metadata map, 16-byte sync). */
function avroHeaderLength(bytes: Buffer): number {
  const meta = avro.Type.forSchema({ type: 'map', values: 'bytes' });
  const { offset } = meta.decode(bytes, 4);
  return offset + 16;
}

describe('export readers: what edgeguard detect calls', () => {
  test('isAvroExport, deviceLabel and wellFormedEvents', async () => {
    const avroFile = path.join(dir, 'detect.avro');
    await writeExport(avroFile, 'capture-avro', fleetMessages(1));
    const jsonFile = path.join(dir, 'detect.json');
    await writeExport(jsonFile, 'iothub-json', fleetMessages(1));
    assert.equal(await isAvroExport(avroFile), true);
    assert.equal(await isAvroExport(jsonFile), false);
    assert.equal(await isAvroExport(path.join(dir, 'missing')), false);
    const [m] = (await readAll(avroFile)).messages;
    assert.equal(deviceLabel(m!), 'gateway-0/EdgeGuard');
    const bare: ExportedMessage = { body: '{}', message: { AgentId: 'agent-1', Events: [{ Name: 'X', Payload: [{}] }, { Name: 'Y', Payload: [1] }, null] }, origin: 'x' };
    assert.equal(deviceLabel(bare), 'agent-1');
    const { events, malformed } = wellFormedEvents(bare);
    assert.deepEqual(events.map((e) => e.Name), ['X']);
    assert.equal(malformed, 2);
  });
});
