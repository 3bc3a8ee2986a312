import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { referenceSchemaDir } from '../../harness/paths';

const validator = createSchemaValidator(referenceSchemaDir());
const samples = JSON.parse(readFileSync(path.join(referenceSchemaDir(), 'security_message', 'tests', 'samples.json'), 'utf8')) as {
  valid: unknown[];
  invalid: unknown[];
};

test('every upstream valid sample validates, against the official schema and the extended one', () => {
  assert.ok(samples.valid.length > 0);
  for (const [i, message] of samples.valid.entries()) {
    assert.deepEqual(validator.validateMessageStrictOfficial(message).errors, [], `valid sample ${i}`);
    assert.equal(validator.validateMessage(message).valid, true, `valid sample ${i} (extended)`);
  }
});

test('every upstream invalid sample is rejected by both', () => {
  assert.ok(samples.invalid.length > 0);
  for (const [i, message] of samples.invalid.entries()) {
    assert.equal(validator.validateMessageStrictOfficial(message).valid, false, `invalid sample ${i}`);
    assert.equal(validator.validateMessage(message).valid, false, `invalid sample ${i} (extended)`);
  }
});

test('Aggregated is accepted only by the extended schema, and only with a payload', () => {
  const event = createEvent('ProcessCreate', 'Aggregated', [
    { Executable: '/bin/true', ProcessId: 0, ParentProcessId: 0, UserId: '0', UserName: 'root', CommandLine: '/bin/true', ExtraDetails: { HitCount: '3' } },
  ]);
  assert.equal(validator.validateEvent(event).valid, true, validator.validateEvent(event).errors.join('\n'));
  const message = { AgentVersion: '1.0.0', AgentId: '072f3eca-3db0-45ba-8174-fa383bc93caf', MessageSchemaVersion: '1.0', Events: [event] };
  assert.equal(validator.validateMessageStrictOfficial(message).valid, false);
  assert.equal(validator.validateEvent({ ...event, IsEmpty: true, Payload: [] }).valid, false);
});

test('a payload field outside the official schema is rejected', () => {
  const event = createEvent('ProcessCreate', 'Triggered', [
    { Executable: '/bin/true', ProcessId: 1, ParentProcessId: 0, UserId: '0', CommandLine: '/bin/true', Bogus: 1 },
  ]);
  assert.equal(validator.validateEvent(event).valid, false);
});
