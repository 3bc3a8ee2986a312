import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { eventType } from '../../../src/agent/event-registry';
import { PROFILES, sampleRecording, simulateDeviceDay, simulateFleet, IOT_HUB_DAILY_UNITS } from '../../../src/fleet/simulate/fleet-model';
import { fixturePath } from './fixtures';

const lines = gunzipSync(readFileSync(fixturePath('recorded-150s.jsonl.gz'))).toString('utf8').trim().split('\n');
const sample = sampleRecording(lines);
const priorityOf = (name: string) => eventType(name)?.defaultPriority;

describe('fleet capacity model', () => {
  test('the recording gives real event sizes and the snapshot mix', () => {
    const names = sample.types.map((t) => t.name);
    for (const n of ['ProcessCreate', 'SystemInformation', 'ListeningPorts', 'MessageStatistics']) assert.ok(names.includes(n), n);
    assert.ok(sample.seconds > 60 && sample.seconds < 600);
    const pc = sample.types.find((t) => t.name === 'ProcessCreate')!;
    assert.ok(pc.meanBytes > 200 && pc.meanBytes < 2000, String(pc.meanBytes));
  });

  test('10,000 devices: distinct ids, every profile present, the same fleet on every run', () => {
    const a = simulateFleet(sample, 10_000, priorityOf);
    const b = simulateFleet(sample, 10_000, priorityOf);
    assert.equal(new Set(a.devices.map((d) => d.deviceId)).size, 10_000);
    assert.deepEqual(a.day, b.day);
    for (const p of PROFILES) assert.ok(a.day.byProfile.find((x) => x.profile === p.name)!.devices > 0, p.name);
    assert.ok(a.day.units4KB >= a.day.messages);
    assert.equal(a.day.iotHub.S1, Math.ceil(a.day.units4KB / IOT_HUB_DAILY_UNITS.S1));
  });

  test('busier devices cost more; an alert is a small message of its own', () => {
    const [quiet, , busy, alerting] = PROFILES;
    const q = simulateDeviceDay('q', quiet!, sample, 1, priorityOf);
    const b = simulateDeviceDay('b', busy!, sample, 1, priorityOf);
    const a = simulateDeviceDay('a', alerting!, sample, 1, priorityOf);
    assert.ok(b.units4KB > q.units4KB * 5);
    assert.ok(Math.abs(a.messages - simulateDeviceDay('a0', { ...alerting!, alertsPerDay: 0 }, sample, 1, priorityOf).messages - alerting!.alertsPerDay) < 1e-6);
    assert.ok(a.smallMessages >= alerting!.alertsPerDay);
  });
});
