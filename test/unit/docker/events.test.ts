import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventCursor, eventTimeIso, formatSince, parseDockerEventLine, type DockerEvent } from '../../../src/sources/docker/events';

// Recorded from Debian's docker.io 20.10.24 (API 1.41).
const EXEC_CREATE =
  '{"status":"exec_create: sh -c echo hi","id":"b2aac586a244a8a6e093612e8aa6e20f70952ec271cbab724b2208ab940b0776","from":"local/busybox:1","Type":"container","Action":"exec_create: sh -c echo hi","Actor":{"ID":"b2aac586a244a8a6e093612e8aa6e20f70952ec271cbab724b2208ab940b0776","Attributes":{"execID":"2cf8ff95cc35","image":"local/busybox:1","name":"evt1"}},"scope":"local","time":1795331707,"timeNano":1795331707456365378}';

function ev(timeNano: bigint, action = 'start', id = 'c1'): DockerEvent {
  return { type: 'container', action, actionDetail: '', actorId: id, attributes: {}, timeNano };
}

describe('parseDockerEventLine', () => {
  test('an exec_create of docker.io 20.10: action split from its command, exact timeNano', () => {
    const parsed = parseDockerEventLine(EXEC_CREATE);
    assert.ok(parsed.ok);
    assert.equal(parsed.event.type, 'container');
    assert.equal(parsed.event.action, 'exec_create');
    assert.equal(parsed.event.actionDetail, 'sh -c echo hi');
    assert.equal(parsed.event.attributes.execID, '2cf8ff95cc35');
    assert.equal(parsed.event.timeNano, 1795331707456365378n, 'all 19 digits, not rounded through a double');
    assert.notEqual(BigInt(JSON.parse(EXEC_CREATE).timeNano), 1795331707456365378n, 'a double would have lost them');
  });

  test('time alone is accepted (seconds), non-string attributes ignored', () => {
    const parsed = parseDockerEventLine('{"Type":"image","Action":"pull","Actor":{"ID":"busybox:1","Attributes":{"n":1,"name":"busybox"}},"time":1700000000}');
    assert.ok(parsed.ok);
    assert.equal(parsed.event.timeNano, 1_700_000_000_000_000_000n);
    assert.deepEqual(parsed.event.attributes, { name: 'busybox' });
  });

  test('malformed lines are errors, never exceptions', () => {
    const bad = ['', 'not json', '{"Type":', '[]', 'null', '42', '{"Action":"start","timeNano":1}', '{"Type":"container","timeNano":1}', '{"Type":"container","Action":"start"}', '{"Type":7,"Action":"start","time":1}', '{"Type":"container","Action":"start","time":-5}'];
    for (const line of bad) {
      const parsed = parseDockerEventLine(line);
      assert.equal(parsed.ok, false, line);
      if (!parsed.ok) assert.ok(parsed.error.length > 0);
    }
  });
});

describe('since and resume', () => {
  test('formatSince keeps nanoseconds', () => {
    assert.equal(formatSince(1795331707456365378n), '1795331707.456365378');
    assert.equal(formatSince(1795331707000000005n), '1795331707.000000005');
    assert.equal(formatSince(-3n), '0.000000000');
    assert.equal(eventTimeIso(1795331707456365378n), '2026-11-22T07:15:07.456Z');
  });

  test('no resume point before the stream ever opened', () => {
    assert.equal(new EventCursor().since(), undefined);
  });

  test('resume a margin before the last event, never before the first open', () => {
    const c = new EventCursor(1_000_000_000n);
    c.opened(10_000_000_000n);
    assert.equal(c.since(), '10.000000000', 'nothing seen yet: from the open');
    c.accept(ev(10_500_000_000n));
    assert.equal(c.since(), '10.000000000', 'margin would go before the open');
    c.accept(ev(20_000_000_000n));
    assert.equal(c.since(), '19.000000000');
    c.accept(ev(15_000_000_000n, 'die'));
    assert.equal(c.since(), '19.000000000', 'an out-of-order event does not move the cursor back');
  });

  test('replayed events are dropped, new ones at the same instant are kept', () => {
    const c = new EventCursor();
    assert.equal(c.accept(ev(5n, 'create')), true);
    assert.equal(c.accept(ev(5n, 'start')), true, 'same time, other action');
    assert.equal(c.accept(ev(5n, 'start', 'c2')), true, 'same time, other container');
    assert.equal(c.accept(ev(5n, 'start')), false);
    assert.equal(c.accept(ev(5n, 'create')), false);
    const exec1 = { ...ev(6n, 'exec_start'), attributes: { execID: 'e1' } };
    const exec2 = { ...ev(6n, 'exec_start'), attributes: { execID: 'e2' } };
    assert.equal(c.accept(exec1), true);
    assert.equal(c.accept(exec2), true, 'two execs stamped at the same nanosecond are two events');
  });

  test('the remembered window is bounded', () => {
    const c = new EventCursor(1n, 100);
    for (let i = 0; i < 1000; i++) assert.equal(c.accept(ev(BigInt(i))), true);
    assert.equal(c.accept(ev(999n)), false, 'recent: remembered');
    assert.equal(c.accept(ev(0n)), true, 'oldest: forgotten');
    assert.ok((c as unknown as { seen: Set<string> }).seen.size <= 101);
  });
});
