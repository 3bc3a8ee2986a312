/**
 * Fleet capacity model: recorded EdgeGuard events (their real sizes and mix) replayed as a fleet of
 * devices with varied behaviour, packed into messages the way the agent sends them with its default
 * settings, and summed into what Azure bills and sizes: messages and 4 KB units per device per day,
 * IoT Hub units, Event Hubs throughput units, ADX ingestion per day.
 */
import type { Priority } from '../../core/event-types';
import { seededRandom } from '../../core/seeded-random';

/** Default priority of an event type by name (the agent's registry: src/agent/event-registry). */
export type PriorityOf = (eventName: string) => Priority | undefined;

export const DAY_S = 86_400;
/** Twin defaults (src/config/settings.ts). */
export const DEFAULTS = { highPriorityMessageFrequencyS: 7 * 60, lowPriorityMessageFrequencyS: 5 * 3600, snapshotFrequencyS: 13 * 3600, maxMessageSizeInBytes: 204_800 };
/** IoT Hub: messages of 4 KB a day per unit (S1, S2, S3). */
export const IOT_HUB_DAILY_UNITS = { S1: 400_000, S2: 6_000_000, S3: 300_000_000 } as const;
/** Event Hubs Standard: ingress per throughput unit. */
export const EVENT_HUB_TU = { bytesPerSecond: 1024 * 1024, eventsPerSecond: 1000 };

/** What one recorded event type looks like: events seen, mean JSON bytes per event, period (snapshots). */
export interface EventTypeSample {
  readonly name: string;
  readonly events: number;
  readonly meanBytes: number;
  readonly periodic: boolean;
}

export interface RecordingSample {
  readonly seconds: number;
  readonly types: readonly EventTypeSample[];
  /** Envelope bytes around the events of a message. */
  readonly envelopeBytes: number;
}

/** Summarises recorded messages (one JSON message per line, as the agent prints them). */
export function sampleRecording(lines: readonly string[]): RecordingSample {
  const types = new Map<string, { events: number; bytes: number; periodic: boolean }>();
  let first = Infinity;
  let last = -Infinity;
  let envelopeBytes = 0;
  for (const line of lines) {
    const message = JSON.parse(line) as { AgentVersion: string; AgentId: string; Events: Array<{ Name: string; Category: string; TimestampUTC: string }> };
    envelopeBytes = Buffer.byteLength(JSON.stringify({ ...message, Events: [] }));
    for (const e of message.Events) {
      const t = types.get(e.Name) ?? { events: 0, bytes: 0, periodic: e.Category === 'Periodic' };
      t.events++;
      t.bytes += Buffer.byteLength(JSON.stringify(e)) + 1;
      types.set(e.Name, t);
      const ts = Date.parse(e.TimestampUTC);
      if (Number.isFinite(ts)) {
        first = Math.min(first, ts);
        last = Math.max(last, ts);
      }
    }
  }
  return {
    seconds: Math.max(1, (last - first) / 1000),
    envelopeBytes,
    types: [...types].map(([name, t]) => ({ name, events: t.events, meanBytes: t.bytes / t.events, periodic: t.periodic })),
  };
}

/** Behaviour of a device kind: triggered events per hour after aggregation, alerts a day, share of the fleet. */
export interface DeviceProfile {
  readonly name: string;
  readonly share: number;
  /** ProcessCreate events per hour that survive the one-hour aggregation window (distinct processes). */
  readonly processEventsPerHour: number;
  readonly alertsPerDay: number;
  /** Fraction of the day the device is online and sending. */
  readonly onlineFraction: number;
}

export const PROFILES: readonly DeviceProfile[] = [
  { name: 'quiet', share: 0.55, processEventsPerHour: 40, alertsPerDay: 0, onlineFraction: 1 },
  { name: 'typical', share: 0.3, processEventsPerHour: 200, alertsPerDay: 0.2, onlineFraction: 1 },
  { name: 'busy', share: 0.1, processEventsPerHour: 1000, alertsPerDay: 1, onlineFraction: 1 },
  { name: 'alerting', share: 0.04, processEventsPerHour: 300, alertsPerDay: 40, onlineFraction: 1 },
  { name: 'silent', share: 0.01, processEventsPerHour: 200, alertsPerDay: 0, onlineFraction: 0.25 },
];

/** Bytes of one SecurityAlert event as the detections engine sends it (a New item with bounded evidence). */
export const ALERT_EVENT_BYTES = 1900;

export interface DeviceDay {
  readonly deviceId: string;
  readonly profile: string;
  readonly messages: number;
  readonly units4KB: number;
  readonly bytes: number;
  readonly events: number;
  /** Messages under 4 KB (the "unutilized messages" recommendation). */
  readonly smallMessages: number;
}

/** Packs a queue's bytes of one send into messages of at most maxBytes; returns [messages, units, small]. */
function pack(eventBytes: number, events: number, envelope: number, maxBytes: number): { messages: number; units: number; bytes: number; small: number } {
  if (events <= 0) return { messages: 0, units: 0, bytes: 0, small: 0 };
  const room = maxBytes - envelope;
  const messages = Math.max(1, Math.ceil(eventBytes / room));
  const perMessage = envelope + eventBytes / messages;
  const units = messages * Math.ceil(perMessage / 4096);
  return { messages, units, bytes: eventBytes + envelope * messages, small: perMessage < 4096 ? messages : 0 };
}

/** One device's day under the default send frequencies. */
export function simulateDeviceDay(deviceId: string, profile: DeviceProfile, sample: RecordingSample, jitter: number, priorityOf: PriorityOf): DeviceDay {
  const snapshotsPerDay = (DAY_S / DEFAULTS.snapshotFrequencyS) * profile.onlineFraction;
  const processSample = sample.types.find((t) => t.name === 'ProcessCreate');
  const scale = processSample ? (profile.processEventsPerHour * 24 * jitter * profile.onlineFraction) / processSample.events : 0;
  const queues: Record<'High' | 'Low', { bytes: number; events: number }> = { High: { bytes: 0, events: 0 }, Low: { bytes: 0, events: 0 } };
  let operationalPerMessage = 0;
  for (const t of sample.types) {
    if (t.name === 'MessageStatistics' || t.name === 'DroppedEventsStatistics') {
      operationalPerMessage += t.meanBytes;
      continue;
    }
    const perDay = t.periodic ? snapshotsPerDay * (t.events / snapshotsInRecording(sample)) : t.events * scale;
    const q = priorityOf(t.name) === 'High' ? queues.High : queues.Low;
    q.events += perDay;
    q.bytes += perDay * t.meanBytes;
  }
  const maxBytes = DEFAULTS.maxMessageSizeInBytes;
  // High queue: its events come with the snapshots (a send after each); Low queue: one send per period.
  const highSends = Math.min(DAY_S / DEFAULTS.highPriorityMessageFrequencyS, snapshotsPerDay) || 0;
  const lowSends = (DAY_S / DEFAULTS.lowPriorityMessageFrequencyS) * profile.onlineFraction;
  const env = sample.envelopeBytes + operationalPerMessage;
  const high = highSends > 0 ? scaleSends(pack(queues.High.bytes / highSends, queues.High.events / highSends, env, maxBytes), highSends) : pack(0, 0, env, maxBytes);
  const low = lowSends > 0 ? scaleSends(pack(queues.Low.bytes / lowSends, queues.Low.events / lowSends, env, maxBytes), lowSends) : pack(0, 0, env, maxBytes);
  // Alerts go upstream at once, one small message each.
  const alerts = profile.alertsPerDay * jitter;
  const alertMessage = pack(ALERT_EVENT_BYTES, 1, env, maxBytes);
  const messages = high.messages + low.messages + alerts * alertMessage.messages;
  return {
    deviceId,
    profile: profile.name,
    messages,
    units4KB: high.units + low.units + alerts * alertMessage.units,
    bytes: high.bytes + low.bytes + alerts * alertMessage.bytes,
    events: queues.High.events + queues.Low.events + alerts,
    smallMessages: high.small + low.small + alerts * alertMessage.small,
  };
}

/** Snapshots taken during the recording: the fewest events of a periodic (non-operational) type; a split snapshot has more. */
function snapshotsInRecording(sample: RecordingSample): number {
  const counts = sample.types.filter((t) => t.periodic && t.name !== 'MessageStatistics' && t.name !== 'DroppedEventsStatistics').map((t) => t.events);
  return Math.max(1, Math.min(...counts));
}

function scaleSends(p: { messages: number; units: number; bytes: number; small: number }, sends: number): { messages: number; units: number; bytes: number; small: number } {
  return { messages: p.messages * sends, units: p.units * sends, bytes: p.bytes * sends, small: p.small * sends };
}

export interface FleetDay {
  readonly devices: number;
  readonly byProfile: ReadonlyArray<{ profile: string; devices: number; messagesPerDevice: number; unitsPerDevice: number; bytesPerDevice: number }>;
  readonly messages: number;
  readonly units4KB: number;
  readonly bytes: number;
  readonly events: number;
  readonly smallMessageDevices: number;
  readonly perDevice: { messages: number; units4KB: number; bytes: number; p95Units4KB: number };
  readonly iotHub: { S1: number; S2: number; S3: number };
  readonly eventHubTUs: { average: number; peak: number };
  readonly adxIngestGBPerDay: { raw: number; withEventsTable: number };
}

/** The fleet: `devices` devices with ids gateway-00001…, profiles by share, ±30 % jitter, seeded. */
export function simulateFleet(sample: RecordingSample, devices: number, priorityOf: PriorityOf, seed = 14): { day: FleetDay; devices: DeviceDay[] } {
  const rand = seededRandom(seed);
  const days: DeviceDay[] = [];
  for (let i = 0; i < devices; i++) {
    let r = rand();
    const profile = PROFILES.find((p) => (r -= p.share) < 0) ?? PROFILES[0]!;
    const jitter = 0.7 + rand() * 0.6;
    days.push(simulateDeviceDay(`gateway-${String(i + 1).padStart(5, '0')}`, profile, sample, jitter, priorityOf));
  }
  const sum = (f: (d: DeviceDay) => number): number => days.reduce((a, d) => a + f(d), 0);
  const messages = sum((d) => d.messages);
  const units = sum((d) => d.units4KB);
  const bytes = sum((d) => d.bytes);
  const sortedUnits = days.map((d) => d.units4KB).sort((a, b) => a - b);
  const avgBytesPerSecond = bytes / DAY_S;
  const avgEventsPerSecond = messages / DAY_S;
  // Sends are spread over each period by the devices' start times; allow 3x the average for bursts (reconnects, snapshots).
  const PEAK = 3;
  const tu = (rate: { b: number; e: number }) => Math.max(1, Math.ceil(Math.max(rate.b / EVENT_HUB_TU.bytesPerSecond, rate.e / EVENT_HUB_TU.eventsPerSecond)));
  return {
    devices: days,
    day: {
      devices,
      byProfile: PROFILES.map((p) => {
        const of = days.filter((d) => d.profile === p.name);
        const n = Math.max(1, of.length);
        return { profile: p.name, devices: of.length, messagesPerDevice: of.reduce((a, d) => a + d.messages, 0) / n, unitsPerDevice: of.reduce((a, d) => a + d.units4KB, 0) / n, bytesPerDevice: of.reduce((a, d) => a + d.bytes, 0) / n };
      }),
      messages,
      units4KB: units,
      bytes,
      events: sum((d) => d.events),
      smallMessageDevices: days.filter((d) => d.messages > 0 && d.smallMessages / d.messages >= 0.5).length,
      perDevice: { messages: messages / devices, units4KB: units / devices, bytes: bytes / devices, p95Units4KB: sortedUnits[Math.floor(sortedUnits.length * 0.95)] ?? 0 },
      iotHub: { S1: Math.ceil(units / IOT_HUB_DAILY_UNITS.S1), S2: Math.ceil(units / IOT_HUB_DAILY_UNITS.S2), S3: Math.ceil(units / IOT_HUB_DAILY_UNITS.S3) },
      eventHubTUs: { average: tu({ b: avgBytesPerSecond, e: avgEventsPerSecond }), peak: tu({ b: avgBytesPerSecond * PEAK, e: avgEventsPerSecond * PEAK }) },
      // EdgeGuardEvents holds each payload item again plus ~160 bytes of columns per row.
      adxIngestGBPerDay: { raw: bytes / 1e9, withEventsTable: (bytes * 2 + sum((d) => d.events) * 160) / 1e9 },
    },
  };
}
