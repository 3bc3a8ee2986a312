import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createEvent, type SecurityEvent } from '../../../src/core/event';
import { Baseline } from '../../../src/detections/baseline';
import { compileCondition } from '../../../src/detections/compile';
import { DetectionEngine, MAX_OPEN_KEYS, NO_TUNING } from '../../../src/detections/engine';
import { parseException } from '../../../src/detections/exceptions';
import { compileGlob } from '../../../src/detections/glob';
import { compileRules, shippedRuleSources } from '../../../src/detections/loader';
import { RuleError } from '../../../src/detections/model';
import { readUserRulesFile } from '../../../src/detections/user-rules';
import type { AlertItem } from '../../../src/detections/alert';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'h-detect-unit-'));
  dirs.push(d);
  return d;
}

const defs = { lists: new Map([['shells', ['bash', 'sh']]]), macros: new Map([['is_shell', 'ExecutableName in (shells)']]) };
const view = (item: Record<string, unknown>) => ({ event: createEvent('ProcessCreate', 'Triggered', [item]), item, time: 0 });

test('glob: *, ?, sets, escapes; matching stays fast on hostile input', () => {
  assert.equal(compileGlob('/tmp/*')('/tmp/a/b'), true);
  assert.equal(compileGlob('/tmp/?')('/tmp/ab'), false);
  assert.equal(compileGlob('[!a-c]x')('dx'), true);
  assert.equal(compileGlob('[!a-c]x')('bx'), false);
  assert.equal(compileGlob('a\\*b')('a*b'), true);
  assert.equal(compileGlob('a\\*b')('axb'), false);
  assert.equal(compileGlob('*.SH', true)('x.sh'), true);
  // The shape that makes backtracking matchers explode: many stars, a long almost-matching string.
  const hostile = compileGlob('*a*a*a*a*a*a*a*a*a*a*b');
  const input = 'a'.repeat(200_000);
  const started = process.hrtime.bigint();
  assert.equal(hostile(input), false);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 2000, `took ${ms} ms`);
  assert.throws(() => compileGlob('[abc'), /unclosed/);
  assert.throws(() => compileGlob('x'.repeat(600)), /longer/);
});

test('conditions: comparisons, lists, macros, not/and/or, multi-valued fields, missing fields never match', () => {
  const p = compileCondition('is_shell and not CommandLine contains ("-c", "--x") or Executable = /bin/zsh', defs, ['ProcessCreate']);
  assert.equal(p(view({ Executable: '/usr/bin/bash', CommandLine: 'bash -i' })), true);
  assert.equal(p(view({ Executable: '/usr/bin/bash', CommandLine: 'bash -c x' })), false);
  assert.equal(p(view({ Executable: '/bin/zsh', CommandLine: 'zsh -c x' })), true);
  const args = compileCondition('Args in (-rf) and Args in (/etc)', defs, ['ProcessCreate']);
  assert.equal(args(view({ Executable: '/usr/bin/rm', CommandLine: 'rm -rf /etc' })), true);
  assert.equal(args(view({ Executable: '/usr/bin/rm', CommandLine: 'rm -rf /tmp' })), false);
  const num = compileCondition('ProcessId >= 100', defs, ['ProcessCreate']);
  assert.equal(num(view({ ProcessId: 100 })), true);
  assert.equal(num(view({})), false);
  const ne = compileCondition('UserName != root', defs, ['ProcessCreate']);
  assert.equal(ne(view({})), false, 'a missing field does not match !=');
  const cidr = compileCondition('ExtraDetails.Addr cidr (10.0.0.0/8, "fd00::/8")', defs, ['ProcessCreate']);
  assert.equal(cidr(view({ ExtraDetails: { Addr: '::ffff:10.1.2.3' } })), true);
  assert.equal(cidr(view({ ExtraDetails: { Addr: 'fd12::1' } })), true);
  assert.equal(cidr(view({ ExtraDetails: { Addr: '11.0.0.1' } })), false);
});

test('an invalid rule is a RuleError naming the file, the rule and the field', () => {
  const bad = (text: string) => () => compileRules([{ file: 'mine.yaml', text }]);
  const base = 'severity: Low\n  tactic: Execution\n  technique: T1059\n  description: d\n  remediation: r';
  assert.throws(bad(`- rule: R\n  id: X-1\n  events: [ProcessCreate]\n  condition: Nope = 1\n  ${base}`), (e: unknown) => e instanceof RuleError && /mine\.yaml: rule "R", condition \(field Nope\)/.test(e.message));
  assert.throws(bad(`- rule: R\n  id: X-1\n  events: [ProcessCreate]\n  condition: Executable = (a\n  ${base}`), /rule "R", condition: expected/);
  assert.throws(bad(`- rule: R\n  id: X-1\n  events: [ProcessCreate]\n  condition: undefined_macro\n  ${base}`), /unknown macro "undefined_macro"/);
  assert.throws(bad(`- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: R\n  id: X-1\n  events: [ProcessCreate]\n  condition: a\n  ${base}`), /uses itself/);
  assert.throws(bad(`- rule: R\n  id: X-1\n  events: [ProcessCreate]\n  condition: Executable exists\n  severity: Critical\n  tactic: t\n  technique: T1059\n  description: d\n  remediation: r`), /rule "R", severity/);
  assert.throws(bad(`- rule: R\n  id: X-1\n  events: [Nope]\n  condition: Executable exists\n  ${base}`), /unknown event type "Nope"/);
  assert.throws(bad(`- rule: R\n  id: X-1\n  events: [ProcessCreate]\n  condition: Executable glob "[x"\n  ${base}`), /field Executable/);
  assert.throws(bad('{{{{'), /mine\.yaml/);
  // Deeply nested condition and a huge list are refused, not crashed on.
  assert.throws(bad(`- rule: R\n  id: X-1\n  events: [ProcessCreate]\n  condition: ${'not '.repeat(100)}Executable exists\n  ${base}`), /deeper/);
});

function engineWith(now: { t: number }, yaml: string): { engine: DetectionEngine; out: SecurityEvent[]; emit: (e: SecurityEvent) => void } {
  const { rules } = compileRules([{ file: 't.yaml', text: yaml }]);
  const out: SecurityEvent[] = [];
  return { engine: new DetectionEngine(rules, () => now.t), out, emit: (e) => out.push(e) };
}
const RULE = `- rule: Shell
  id: T-1
  events: [ProcessCreate]
  condition: Executable = /bin/sh
  window: PT1M
  maxPerHour: 2
  severity: Medium
  tactic: Execution
  technique: T1059
  description: d
  remediation: r`;
const sh = (cmd = 'sh') => createEvent('ProcessCreate', 'Triggered', [{ Executable: '/bin/sh', CommandLine: cmd, ProcessId: 1 }]);

test('the same detection key in a window is one New alert, then one Update with the count when the window closes', () => {
  const now = { t: 1_000_000 };
  const { engine, out, emit } = engineWith(now, RULE);
  engine.observe(sh(), emit);
  now.t += 1000;
  engine.observe(sh('sh -c 1'), emit);
  engine.observe(sh('sh -c 2'), emit);
  assert.equal(out.length, 1);
  const first = out[0]!.Payload[0] as AlertItem;
  assert.equal(first.Status, 'New');
  assert.equal(first.Count, 1);
  now.t += 60_000;
  engine.tick(emit);
  assert.equal(out.length, 2);
  const update = out[1]!.Payload[0] as AlertItem;
  assert.equal(update.Status, 'Update');
  assert.equal(update.AlertId, first.AlertId);
  assert.equal(update.Count, 3);
  assert.ok(update.Evidence.length <= 5 && update.Evidence.length >= 2);
});

test('the per-rule rate limit counts what it suppressed and says so in the next alert', () => {
  const now = { t: 1_000_000 };
  const { engine, out, emit } = engineWith(now, RULE.replace('Executable = /bin/sh', 'Executable startswith /bin/'));
  for (let i = 0; i < 5; i++) engine.observe(createEvent('ProcessCreate', 'Triggered', [{ Executable: `/bin/x${i}`, CommandLine: 'x' }]), emit);
  assert.equal(out.length, 2, 'maxPerHour: 2');
  now.t += 3_600_000;
  engine.observe(createEvent('ProcessCreate', 'Triggered', [{ Executable: '/bin/later', CommandLine: 'x' }]), emit);
  const next = out[out.length - 1]!.Payload[0] as AlertItem;
  assert.equal(next.Suppressed, 3);
});

test('exceptions and severity overrides apply; a disabled rule is silent', () => {
  const now = { t: 1_000_000 };
  const { engine, out, emit } = engineWith(now, RULE);
  engine.setTuning({ ...NO_TUNING, exceptions: [parseException('T-*:process=/bin/s?')] });
  engine.observe(sh(), emit);
  assert.equal(out.length, 0);
  engine.setTuning({ ...NO_TUNING, severity: new Map([['T-1', 'High']]) });
  engine.observe(sh(), emit);
  assert.equal((out[0]!.Payload[0] as AlertItem).Severity, 'High');
  engine.setTuning({ ...NO_TUNING, disabled: new Set(['T-1']) });
  now.t += 120_000;
  engine.tick(emit);
  const before = out.length;
  engine.observe(sh(), emit);
  assert.equal(out.length, before);
  assert.throws(() => parseException('T-1:colour=red'), /RULE:kind=pattern/);
  assert.equal(parseException('*:address=10.0.0.0/8').matches('10.2.3.4'), true);
});

test('open windows are bounded: the engine does not grow without limit on distinct keys', () => {
  const now = { t: 1_000_000 };
  const { engine, emit } = engineWith(now, RULE.replace('Executable = /bin/sh', 'Executable exists').replace('maxPerHour: 2', 'maxPerHour: 1000000'));
  for (let i = 0; i < 12_000; i++) engine.observe(createEvent('ProcessCreate', 'Triggered', [{ Executable: `/x/${i}`, CommandLine: 'x' }]), emit);
  assert.equal(engine.stateSizes().open, MAX_OPEN_KEYS);
  const out: SecurityEvent[] = [];
  engine.closeAll((e) => out.push(e));
  assert.equal(out.length, 0, 'each key seen once: nothing to update');
});

test('baseline: learned in the window, new values raise once after it, persisted 0600 atomically, accept and restart', () => {
  const dir = tmp();
  const file = path.join(dir, 'detections', 'baseline.json');
  const t0 = 1_000_000;
  const b = new Baseline(file, 1000, t0);
  assert.equal(b.observe('executables', '/bin/ls', t0), 'learning');
  b.save();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const again = new Baseline(file, 1000, t0 + 5000);
  assert.equal(again.observe('executables', '/bin/ls', t0 + 5000), 'known');
  assert.equal(again.observe('executables', '/bin/new', t0 + 5000), 'new');
  assert.equal(again.observe('executables', '/bin/new', t0 + 5001), 'known', 'raised once');
  again.accept('executables', '/bin/other');
  assert.equal(again.observe('executables', '/bin/other', t0 + 5002), 'known');
  again.restart(t0 + 6000);
  assert.equal(again.observe('executables', '/bin/zzz', t0 + 6001), 'learning');
  // A hostile file in its place: a symlink, garbage, a directory: learning starts again, no crash.
  const warnings: string[] = [];
  rmSync(file);
  symlinkSync('/etc/passwd', file);
  new Baseline(file, 1000, t0, (m) => warnings.push(m));
  rmSync(file);
  writeFileSync(file, '{"version":1,"learningStartedAt":"x"');
  new Baseline(file, 1000, t0, (m) => warnings.push(m));
  rmSync(file);
  mkdirSync(file);
  new Baseline(file, 1000, t0, (m) => warnings.push(m));
  assert.equal(warnings.length, 3, warnings.join('; '));
});

test('user rules file: regular files only (no symlink, FIFO, directory), size-capped', () => {
  const dir = tmp();
  const good = path.join(dir, 'rules.yaml');
  writeFileSync(good, '- list: miner_pools\n  items: [pool.example]\n  append: true\n');
  assert.match(readUserRulesFile(good), /pool\.example/);
  const link = path.join(dir, 'link.yaml');
  symlinkSync(good, link);
  assert.throws(() => readUserRulesFile(link), /symbolic link/);
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => readUserRulesFile(fifo), /not a regular file/);
  assert.throws(() => readUserRulesFile(dir), /not a regular file|cannot be opened/);
  const big = path.join(dir, 'big.yaml');
  writeFileSync(big, Buffer.alloc(1024 * 1024 + 1, 0x20));
  assert.throws(() => readUserRulesFile(big), /larger than/);
  assert.throws(() => readUserRulesFile('relative.yaml'), /absolute/);
  // Appending to a shipped list through the user's file works.
  const { defs } = compileRules([...shippedRuleSources(), { file: good, text: readFileSync(good, 'utf8') }]);
  assert.ok(defs.lists.get('miner_pools')!.includes('pool.example'));
});

test('a rules file with YAML aliases (an alias bomb) is refused with a clear error', () => {
  const bomb = ['- list: a', '  items: &a [x, x, x, x, x, x, x, x, x]', '- list: b', '  items: [*a, *a, *a, *a, *a, *a, *a, *a, *a]'].join('\n');
  assert.throws(() => compileRules([{ file: 'bomb.yaml', text: bomb }]), /bomb\.yaml: rule "-", yaml: YAML aliases/);
});
