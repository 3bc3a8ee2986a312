import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { QueuedEvent } from '../../../../src/pipeline/queues/event-queue';
import { createEvent, type SecurityEvent } from '../../../../src/core/event';
import { buildMessage, envelope, maxEventBytes, splitOversizeEvent, type QueueSource } from '../../../../src/pipeline/codec/message-builder';
import { StdoutTransport } from '../../../../src/upstream/stdout-transport';
import type { MessagePriority } from '../../../../src/core/transport';
import { AGENT, FakeClock, login, processCreate, validator } from '../helpers';

class ArrayQueues implements QueueSource {
  private seq = 1;
  readonly q: Record<MessagePriority, QueuedEvent[]> = { High: [], Low: [], Operational: [] };
  add(queue: MessagePriority, event: SecurityEvent): void {
    const json = JSON.stringify(event);
    this.q[queue].push({ seq: this.seq++, json, bytes: Buffer.byteLength(json) });
  }
  length(queue: MessagePriority): number {
    return this.q[queue].length;
  }
  at(queue: MessagePriority, i: number): QueuedEvent | undefined {
    return this.q[queue][i];
  }
}

const env = envelope(AGENT);
const clock = new FakeClock();
const statistics = () =>
  createEvent('MessageStatistics', 'Periodic', [{ MessagesSent: 1, MessagesUnder4KB: 1, TotalFailed: 0 }], { eventType: 'Operational', now: new Date(clock.now()) });

function parse(body: string): { Events: SecurityEvent[] } {
  const message = JSON.parse(body) as { Events: SecurityEvent[] };
  assert.deepEqual(validator.validateMessage(message).errors, []);
  return message;
}

test('a message takes Operational first, then its own priority, then fills with the other', () => {
  const qs = new ArrayQueues();
  qs.add('Low', processCreate(clock, '/bin/low-1', 1));
  qs.add('High', login(clock, 'high-1'));
  qs.add('Operational', statistics());
  qs.add('Low', processCreate(clock, '/bin/low-2', 2));
  qs.add('High', login(clock, 'high-2'));
  const m = buildMessage(qs, ['Operational', 'Low', 'High'], env, 200_000)!;
  const names = parse(m.body).Events.map((e) => e.Name === 'Login' ? e.Payload[0]!.UserName : e.Name === 'ProcessCreate' ? e.Payload[0]!.CommandLine : e.Name);
  assert.deepEqual(names, ['MessageStatistics', '/bin/low-1', '/bin/low-2', 'high-1', 'high-2']);
  assert.equal(m.taken.Low.length, 2);
  assert.equal(m.taken.High.length, 2);
  assert.equal(m.taken.Operational.length, 1);
  assert.deepEqual(validator.validateMessageStrictOfficial(JSON.parse(m.body)).errors, []);
  assert.equal(buildMessage(new ArrayQueues(), ['Operational', 'Low', 'High'], env, 200_000), undefined);
});

test('the size limit is exact on the final UTF-8 JSON, multi-byte characters included', () => {
  const qs = new ArrayQueues();
  const words = ['naïve', '日本語のコマンド', '🚀 launch', 'plain', 'ünïcödé ☃'];
  for (const [i, w] of words.entries()) qs.add('Low', processCreate(clock, `/usr/bin/echo ${w}`, i + 1));
  const all = buildMessage(qs, ['Operational', 'Low', 'High'], env, 1_000_000)!;
  const exact = Buffer.byteLength(all.body);
  assert.equal(all.bytes, exact);
  assert.ok(exact > all.body.length, 'the body holds multi-byte characters');
  // Exactly the size: everything fits. One byte less: the last event stays behind.
  assert.equal(buildMessage(qs, ['Operational', 'Low', 'High'], env, exact)!.eventCount, 5);
  parse(all.body);
  const less = buildMessage(qs, ['Operational', 'Low', 'High'], env, exact - 1)!;
  assert.equal(less.eventCount, 4);
  assert.equal(Buffer.byteLength(less.body), less.bytes);
  assert.ok(less.bytes <= exact - 1);
  parse(less.body);
  // Randomised: for every limit the built body never exceeds it and its computed size is exact.
  for (let limit = env.bytes; limit <= exact + 5; limit += 37) {
    const m = buildMessage(qs, ['Operational', 'Low', 'High'], env, limit);
    if (m === undefined) continue;
    assert.equal(Buffer.byteLength(m.body), m.bytes);
    assert.ok(m.bytes <= limit);
    parse(m.body);
  }
});

test('a queue whose next event does not fit yields to the next queue', () => {
  const qs = new ArrayQueues();
  qs.add('High', login(clock, 'x'.repeat(3000)));
  qs.add('Low', processCreate(clock, '/bin/small', 1));
  const limit = env.bytes + qs.q.Low[0]!.bytes + 10;
  const m = buildMessage(qs, ['Operational', 'High', 'Low'], env, limit)!;
  assert.equal(m.eventCount, 1);
  assert.equal(m.taken.High.length, 0);
  assert.equal(m.taken.Low.length, 1);
  parse(m.body);
});

test('an event larger than a message is split into events of the same name and category; an item that alone is too big is left out', () => {
  const ports = Array.from({ length: 300 }, (_, i) => ({ Protocol: 'tcp', LocalAddress: '127.0.0.1', LocalPort: String(20_000 + i), RemoteAddress: '0.0.0.0', RemotePort: '*' }));
  const event = createEvent('ListeningPorts', 'Periodic', ports, { now: new Date(clock.now()) });
  const limit = maxEventBytes(env, 8192);
  const { parts, droppedItems } = splitOversizeEvent(event, limit);
  assert.equal(droppedItems, 0);
  assert.ok(parts.length >= 3);
  const events = parts.map((p) => JSON.parse(p) as SecurityEvent);
  for (const [i, p] of parts.entries()) {
    assert.ok(Buffer.byteLength(p) <= limit);
    assert.equal(events[i]!.Name, 'ListeningPorts');
    assert.equal(events[i]!.Category, 'Periodic');
    assert.equal(events[i]!.TimestampUTC, event.TimestampUTC);
    assert.deepEqual(validator.validateEvent(events[i]).errors, []);
  }
  assert.equal(new Set(events.map((e) => e.Id)).size, parts.length, 'each part has its own Id');
  assert.deepEqual(events.flatMap((e) => e.Payload), ports);
  // Each part fills a message well: merging two neighbours would not fit.
  for (let i = 0; i + 1 < parts.length; i++) assert.ok(Buffer.byteLength(parts[i]!) + JSON.stringify(events[i + 1]!.Payload[0]).length + 1 > limit);

  const huge = createEvent('ProcessCreate', 'Triggered', [{ Executable: '/bin/x', ProcessId: 1, ParentProcessId: 0, UserId: '0', CommandLine: 'x'.repeat(9000) }], { now: new Date(clock.now()) });
  assert.deepEqual(splitOversizeEvent(huge, limit), { parts: [], droppedItems: 1 });
  const mixed = createEvent('ListeningPorts', 'Periodic', [ports[0]!, { ...ports[1]!, ExtraDetails: { Banner: '€'.repeat(4000) } }, ports[2]!], { now: new Date(clock.now()) });
  const r = splitOversizeEvent(mixed, limit);
  assert.equal(r.droppedItems, 1);
  assert.deepEqual(r.parts.flatMap((p) => (JSON.parse(p) as SecurityEvent).Payload), [ports[0], ports[2]]);
});

test('the stdout transport writes each message body as one line and resolves once written', async () => {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const transport = new StdoutTransport(stream);
  const qs = new ArrayQueues();
  qs.add('High', login(clock, 'alice'));
  const m = buildMessage(qs, ['Operational', 'High', 'Low'], env, 8192)!;
  await transport.send({ body: m.body, messageId: 'id-1', priority: 'High', eventCount: 1 });
  await transport.send({ body: m.body, messageId: 'id-2', priority: 'High', eventCount: 1 });
  const lines = chunks.join('').split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '');
  assert.equal(lines[0], m.body);
  parse(lines[0]!);
  stream.destroy();
  await assert.rejects(transport.send({ body: m.body, messageId: 'id-3', priority: 'High', eventCount: 1 }));
});
