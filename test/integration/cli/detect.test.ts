import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createEvent } from '../../../src/core/event';
import { referenceSchemaDir } from '../../harness/paths';
import { hasStackTrace, runCli } from './run-cli';

const dir = mkdtempSync(path.join(os.tmpdir(), 'h-detect-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function message(events: ReturnType<typeof createEvent>[]): Record<string, unknown> {
  return { AgentVersion: '1.0.0', AgentId: '072f3eca-3db0-45ba-8174-fa383bc93caf', MessageSchemaVersion: '1.0', Events: events };
}
const t0 = Date.parse('2026-12-01T10:00:00Z');
const at = (s: number) => ({ now: new Date(t0 + s * 1000) });
const shell = createEvent('ProcessCreate', 'Triggered', [{ Executable: '/usr/bin/bash', ProcessId: 9, ParentProcessId: 1, UserId: '0', CommandLine: 'bash -i', ExtraDetails: { StdinType: 'tcp', StdoutType: 'tcp' } }], at(0));
const fail = (s: number) => createEvent('Login', 'Triggered', [{ ProcessId: 1, Operation: 'sshd:password', Executable: '/usr/sbin/sshd', Result: 'Fail', RemoteAddress: '10.0.0.9', UserName: 'root' }], at(s));
const success = createEvent('Login', 'Triggered', [{ ProcessId: 1, Operation: 'sshd:password', Executable: '/usr/sbin/sshd', Result: 'Success', RemoteAddress: '10.0.0.9', UserName: 'root' }], at(60));
const benign = createEvent('ProcessCreate', 'Triggered', [{ Executable: '/usr/bin/ls', ProcessId: 10, ParentProcessId: 1, UserId: '0', CommandLine: 'ls -l' }], at(1));

test('detect: EdgeGuard messages and IoT Hub route exports (JSON body, base64 body, nested Body), text/JSON/SARIF', () => {
  const direct = JSON.stringify(message([shell, benign]));
  const routed = JSON.stringify({ EnqueuedTimeUtc: '2026-12-01T10:00:05Z', SystemProperties: { connectionDeviceId: 'gw-1', connectionModuleId: 'EdgeGuard' }, Body: Buffer.from(JSON.stringify(message([fail(1), fail(2), fail(3)]))).toString('base64') });
  const routedJson = JSON.stringify({ systemProperties: { connectionDeviceId: 'gw-1', connectionModuleId: 'EdgeGuard' }, body: message([fail(4), fail(5), success]) });
  const file = path.join(dir, 'export.jsonl');
  writeFileSync(file, [direct, routed, 'not json', routedJson, ''].join('\n'));

  const text = runCli(['detect', file], dir);
  assert.equal(text.status, 1, text.stderr);
  assert.match(text.stdout, /High\s+EG-PROC-001\s+Reverse shell/);
  assert.match(text.stdout, /EG-LOGIN-002/);
  assert.match(text.stdout, /gw-1\/EdgeGuard/);
  assert.match(text.stderr, /export\.jsonl:3: skipped/);
  assert.ok(!hasStackTrace(text.stderr));

  const json = runCli(['detect', '--format', 'json', file], dir);
  const parsed = JSON.parse(json.stdout) as { alerts: Array<{ alert: { RuleId: string }; line: number }>; messages: number; skippedLines: number };
  assert.equal(parsed.messages, 3);
  assert.equal(parsed.skippedLines, 1);
  assert.ok(parsed.alerts.some((a) => a.alert.RuleId === 'EG-LOGIN-001'));
  assert.ok(!parsed.alerts.some((a) => a.alert.RuleId === 'EG-PROC-001' && a.line !== 1));

  const sarif = JSON.parse(runCli(['detect', '--format=sarif', file], dir).stdout) as { version: string; runs: Array<{ results: Array<{ ruleId: string; level: string }>; tool: { driver: { rules: unknown[] } } }> };
  assert.equal(sarif.version, '2.1.0');
  assert.ok(sarif.runs[0]!.tool.driver.rules.length > 50);
  assert.ok(sarif.runs[0]!.results.some((r) => r.ruleId === 'EG-PROC-001' && r.level === 'error'));

  const clean = path.join(dir, 'clean.jsonl');
  writeFileSync(clean, `${JSON.stringify(message([benign]))}\n`);
  assert.equal(runCli(['detect', clean], dir).status, 0);
});

test('detect: hostile input is reported, never a crash (huge line, deep nesting, FIFO, missing file, bad rules file)', () => {
  const file = path.join(dir, 'hostile.jsonl');
  let deep = '1';
  for (let i = 0; i < 5000; i++) deep = `{"Body":${deep}}`;
  writeFileSync(file, [`{"Events":"${'x'.repeat(5 * 1024 * 1024)}"}`, deep, '{"Body":"!!!"}', '{"Events":[{"Name":"ProcessCreate","Payload":"x"}]}', JSON.stringify(message([shell]))].join('\n'));
  const r = runCli(['detect', file], dir);
  assert.equal(r.status, 1, r.stderr);
  assert.ok(!hasStackTrace(r.stderr), r.stderr);
  assert.match(r.stderr, /:1: skipped \(line longer/);
  assert.match(r.stdout, /EG-PROC-001/);
  assert.equal(runCli(['detect', path.join(dir, 'missing.jsonl')], dir).status, 2);
  const rules = path.join(dir, 'rules.yaml');
  writeFileSync(rules, '- rule: Broken\n  id: X-1\n  events: [ProcessCreate]\n  condition: Nope = 1\n');
  const bad = runCli(['detect', '--rules', rules, file], dir);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /rule "Broken"/);
  const link = path.join(dir, 'link.yaml');
  symlinkSync(rules, link);
  assert.match(runCli(['detect', '--rules', link, file], dir).stderr, /symbolic link/);
  const fifo = path.join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  assert.match(runCli(['detect', '--rules', fifo, file], dir).stderr, /not a regular file/);
  assert.equal(runCli(['detect', '--format', 'xml', file], dir).status, 2);
});

test("detect: Microsoft's sample messages (valid and invalid) run through without a crash", () => {
  const samples = JSON.parse(readFileSync(path.join(referenceSchemaDir(), 'security_message', 'tests', 'samples.json'), 'utf8')) as { valid: unknown[]; invalid: unknown[] };
  const file = path.join(dir, 'samples.jsonl');
  writeFileSync(file, [...samples.valid, ...samples.invalid].map((m) => JSON.stringify(m)).join('\n'));
  const r = runCli(['detect', '--format', 'json', file], dir);
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  assert.ok(!hasStackTrace(r.stderr), r.stderr);
  const out = JSON.parse(r.stdout) as { messages: number };
  assert.ok(out.messages >= samples.valid.length, `${out.messages} messages read`);
});
