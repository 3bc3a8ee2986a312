import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigView } from '../../../src/config/config-view';
import { defaultConfigView } from '../../../src/config/defaults';
import { type SettingValue } from '../../../src/config/settings';
import { createEvent, type PayloadItem, type SecurityEvent } from '../../../src/core/event';
import { eventType, EVENT_TYPES } from '../../../src/agent/event-registry';
import type { LogDetails, Logger } from '../../../src/core/logger';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import type { Clock } from '../../../src/pipeline/types';
import type { OutgoingMessage, Transport } from '../../../src/core/transport';
import { referenceSchemaDir } from '../../harness/paths';
import { settingsCatalogue } from '../../../src/agent/catalogue';

export const validator = createSchemaValidator(referenceSchemaDir());
export const AGENT = { agentId: '072f3eca-3db0-45ba-8174-fa383bc93caf', agentVersion: '0.1.0', eventTypes: EVENT_TYPES };

/** Defender's defaults plus overrides, as the twin would give them. */
export function config(overrides: Record<string, SettingValue> = {}): ConfigView {
  return defaultConfigView(settingsCatalogue([]), overrides);
}

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * Time moves only when the test says so; advance() runs due timers in order and lets promises settle.
 * Timers run on monotonic time, as Node's do; step() moves the wall clock (now()) alone, as NTP does on
 * a device without an RTC.
 */
export class FakeClock implements Clock {
  private t = Date.parse('2026-11-23T10:00:00.000Z');
  private wallOffset = 0;
  private timers: Timer[] = [];
  private nextId = 1;

  now(): number {
    return this.t + this.wallOffset;
  }

  step(ms: number): void {
    this.wallOffset += ms;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.nextId++, due: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }

  pending(): number {
    return this.timers.length;
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      this.timers.sort((a, b) => a.due - b.due || a.id - b.id);
      const next = this.timers[0];
      if (next === undefined || next.due > end) break;
      this.timers.shift();
      this.t = next.due;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets queued promise callbacks and I/O callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Records every message, checks each against the schemas, and can be told to reject. */
export class RecordingTransport implements Transport {
  readonly name = 'recording';
  readonly messages: OutgoingMessage[] = [];
  attempts = 0;
  failing = false;
  /** Messages checked against the untouched official schema (only Defender types, no Aggregated). */
  strictChecked = 0;

  constructor(private readonly maxBytes?: number) {}

  async send(message: OutgoingMessage): Promise<void> {
    this.attempts++;
    if (this.failing) throw new Error('edgeHub unreachable (test)');
    const parsed = JSON.parse(message.body) as { Events: SecurityEvent[] };
    const result = validator.validateMessage(parsed);
    assert.deepEqual(result.errors, [], `message fails the schema: ${message.body.slice(0, 300)}`);
    if (parsed.Events.every((e) => e.Category !== 'Aggregated' && eventType(e.Name)?.schema === 'official')) {
      assert.deepEqual(validator.validateMessageStrictOfficial(parsed).errors, []);
      this.strictChecked++;
    }
    if (this.maxBytes !== undefined) assert.ok(Buffer.byteLength(message.body) <= this.maxBytes, 'message over maxMessageSizeInBytes');
    assert.equal(message.eventCount, parsed.Events.length);
    assert.match(message.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'message id is a UUID');
    assert.ok(!this.messages.some((m) => m.messageId === message.messageId), 'message id is new');
    this.messages.push(message);
  }

  events(): SecurityEvent[] {
    return this.messages.flatMap((m) => (JSON.parse(m.body) as { Events: SecurityEvent[] }).Events);
  }
}

/** A logger that keeps what it is told, for asserting warnings. */
export class CapturingLogger implements Logger {
  readonly lines: Array<{ level: string; message: string; details: LogDetails }> = [];
  error(message: string, details: LogDetails = {}): void {
    this.lines.push({ level: 'error', message, details });
  }
  warn(message: string, details: LogDetails = {}): void {
    this.lines.push({ level: 'warn', message, details });
  }
  info(message: string, details: LogDetails = {}): void {
    this.lines.push({ level: 'info', message, details });
  }
  debug(message: string, details: LogDetails = {}): void {
    this.lines.push({ level: 'debug', message, details });
  }
  child(): Logger {
    return this;
  }
  warnings(): string[] {
    return this.lines.filter((l) => l.level === 'warn').map((l) => l.message);
  }
}

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-pipeline-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function processCreate(clock: Clock, command: string, pid: number, extra: Partial<PayloadItem> = {}): SecurityEvent {
  const [exe] = command.split(' ');
  return createEvent(
    'ProcessCreate',
    'Triggered',
    [{ Executable: exe, ProcessId: pid, ParentProcessId: 1, UserId: '0', UserName: 'root', CommandLine: command, ...extra }],
    { now: new Date(clock.now()) },
  );
}

export function login(clock: Clock, user: string): SecurityEvent {
  return createEvent(
    'Login',
    'Triggered',
    [{ ProcessId: 7, UserName: user, Executable: '/usr/sbin/sshd', Operation: 'Login', Result: 'Success', RemoteAddress: '127.0.0.1', RemotePort: '22' }],
    { now: new Date(clock.now()) },
  );
}
