import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { detectFiles } from '../../../src/cli/detect';
import { writeExport, type RoutedMessage } from '../../../src/fleet/simulate/export-writer';
import { fixturePath } from './fixtures';

const RECORDED = readFileSync(fixturePath('recorded-messages.jsonl'), 'utf8').trim().split('\n');
let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-detect-export-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const messages: RoutedMessage[] = RECORDED.map((body, i) => ({ deviceId: `gw-${i % 2}`, moduleId: 'EdgeGuard', enqueuedTime: new Date(Date.UTC(2026, 11, 1, 10, 0, i)), body }));

test('edgeguard detect reads Event Hubs Capture and IoT Hub storage Avro as it reads the JSON-lines export', async () => {
  const json = path.join(dir, 'export.json');
  const capture = path.join(dir, 'capture.avro');
  const storage = path.join(dir, 'storage.avro');
  await writeExport(json, 'iothub-json', messages);
  await writeExport(capture, 'capture-avro', messages);
  await writeExport(storage, 'iothub-avro', messages);
  const fromJson = await detectFiles([json]);
  assert.ok(fromJson.alerts.length > 0, 'the recorded messages raise alerts');
  for (const file of [capture, storage]) {
    const fromAvro = await detectFiles([file]);
    assert.equal(fromAvro.messages, RECORDED.length);
    assert.equal(fromAvro.events, fromJson.events);
    assert.deepEqual(fromAvro.alerts.map((a) => [a.device, a.alert.RuleId]), fromJson.alerts.map((a) => [a.device, a.alert.RuleId]));
    assert.deepEqual(fromAvro.badLines, []);
  }
});

test('a truncated Capture file: the messages before the cut are judged, the cut is a bad line naming it', async () => {
  const capture = path.join(dir, 'cut.avro');
  await writeExport(capture, 'capture-avro', messages, { blockSize: 1024 });
  const whole = readFileSync(capture);
  writeFileSync(capture, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const result = await detectFiles([capture]);
  assert.ok(result.messages > 0 && result.messages < RECORDED.length);
  assert.match(result.badLines.at(-1)?.reason ?? '', /truncated/);
});
