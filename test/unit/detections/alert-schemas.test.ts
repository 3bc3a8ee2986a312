import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvent } from '../../../src/core/event';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { referenceSchemaDir } from '../../harness/paths';

const validator = createSchemaValidator(referenceSchemaDir());

const alertItem = {
  AlertId: '6f1c1c58-0d55-4c1e-9d0e-5d6b1f5b8a11',
  Status: 'New',
  RuleId: 'EG-PROC-001',
  RuleName: 'Reverse shell',
  RuleKind: 'match',
  Severity: 'High',
  Tactic: 'Execution',
  Technique: 'T1059.004',
  Description: 'A shell whose standard input is a network socket',
  Remediation: 'Kill the process and find how it was started',
  Tags: ['process', 'shell'],
  DetectionKey: '/usr/bin/bash',
  Entity: { Executable: '/usr/bin/bash', CommandLine: 'bash -i', ProcessId: 4242, UserName: 'root', RemoteAddress: '127.0.0.1' },
  Evidence: [{ EventName: 'ProcessCreate', TimestampUTC: '2026-12-01T22:00:00.000Z', Payload: { Executable: '/usr/bin/bash' } }],
  FirstSeen: '2026-12-01T22:00:00.000Z',
  LastSeen: '2026-12-01T22:00:00.000Z',
  Count: 1,
};

test('a SecurityAlert event validates in the extended envelope', () => {
  const result = validator.validateEvent(createEvent('SecurityAlert', 'Triggered', [alertItem]));
  assert.deepEqual(result.errors, []);
});

test('SecurityAlert rejects a severity outside High/Medium/Low, unbounded evidence and unknown fields', () => {
  assert.equal(validator.validateEvent(createEvent('SecurityAlert', 'Triggered', [{ ...alertItem, Severity: 'Critical' }])).valid, false);
  const evidence = Array.from({ length: 6 }, () => alertItem.Evidence[0]);
  assert.equal(validator.validateEvent(createEvent('SecurityAlert', 'Triggered', [{ ...alertItem, Evidence: evidence }])).valid, false);
  assert.equal(validator.validateEvent(createEvent('SecurityAlert', 'Triggered', [{ ...alertItem, Bogus: 1 }])).valid, false);
  assert.equal(validator.validateEvent(createEvent('SecurityAlert', 'Periodic', [alertItem])).valid, false);
});

test('a SecurityRecommendation event validates, empty or not', () => {
  const item = {
    RuleId: 'EG-REC-001',
    RuleName: 'Open ports on device',
    Severity: 'Medium',
    Description: 'Port 22/tcp listens on all addresses',
    Remediation: 'Close the port or bind it to loopback',
    Source: 'ListeningPorts',
    DetectionKey: 'tcp/22',
    Entity: { LocalAddress: '0.0.0.0', LocalPort: '22' },
    Evidence: [],
    FirstSeen: '2026-12-01T22:00:00.000Z',
    LastSeen: '2026-12-01T22:00:00.000Z',
    Count: 1,
  };
  assert.deepEqual(validator.validateEvent(createEvent('SecurityRecommendation', 'Periodic', [item])).errors, []);
  assert.deepEqual(validator.validateEvent(createEvent('SecurityRecommendation', 'Periodic', [])).errors, []);
  assert.equal(validator.validateEvent(createEvent('SecurityRecommendation', 'Periodic', [{ ...item, Source: 'Nope' }])).valid, false);
});
