import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ConfigStore } from '../../../src/config/config-store';
import { defaultConfigView } from '../../../src/config/defaults';
import { settingsCatalogue } from '../../../src/agent/catalogue';
import { CONFIG_KEY, type SettingValue } from '../../../src/config/settings';
import { createEvent, type SecurityEvent } from '../../../src/core/event';
import type { Logger } from '../../../src/core/logger';
import { DetectionStage } from '../../../src/detections/stage';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const logged: string[] = [];
const log: Logger = { error: (m) => logged.push(`error ${m}`), warn: (m) => logged.push(`warn ${m}`), info: () => undefined, debug: () => undefined, child: () => log };
const config = (overrides: Record<string, SettingValue> = {}) => defaultConfigView(settingsCatalogue(), overrides);

function stage(now: { t: number }): { s: DetectionStage; out: SecurityEvent[]; observe: (e: SecurityEvent) => void; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'h-detect-stage-'));
  dirs.push(dir);
  const s = new DetectionStage({ stateDir: dir, log, now: () => now.t });
  const out: SecurityEvent[] = [];
  return { s, out, dir, observe: (e) => s.observe(e, (x) => out.push(x)) };
}
const login = (user: string) => createEvent('Login', 'Triggered', [{ ProcessId: 1, Operation: 'sshd:publickey', Executable: '/usr/sbin/sshd', Result: 'Success', RemoteAddress: '10.0.0.9', UserName: user }]);
const proc = (exe: string, cmd: string) => createEvent('ProcessCreate', 'Triggered', [{ Executable: exe, ProcessId: 5, ParentProcessId: 1, UserId: '0', CommandLine: cmd }]);
const ruleIds = (out: SecurityEvent[]) => out.flatMap((e) => e.Payload.map((p) => String(p.RuleId)));

test('twin settings apply live: disabled rules, severity overrides, exceptions, allowed users, operator lists', () => {
  const now = { t: Date.parse('2026-12-01T10:00:00Z') };
  const { s, out, observe } = stage(now);
  s.configure(config());
  observe(login('mallory'));
  assert.ok(!ruleIds(out).includes('EG-CUSTOM-004'), 'off while the allowed list is empty');
  s.configure(config({ detectionAllowedUsers: ['ops'] }));
  observe(login('mallory'));
  assert.ok(ruleIds(out).includes('EG-CUSTOM-004'));

  s.configure(config({ detectionRulesDisabled: ['EG-PROC-006'] }));
  observe(proc('/usr/bin/nmap', 'nmap 10.0.0.1'));
  assert.ok(!ruleIds(out).includes('EG-PROC-006'));
  s.configure(config({ detectionSeverityOverrides: ['EG-PROC-006=Low'] }));
  observe(proc('/usr/bin/nmap', 'nmap 10.0.0.2'));
  const nmap = out.flatMap((e) => e.Payload).find((p) => p.RuleId === 'EG-PROC-006')!;
  assert.equal(nmap.Severity, 'Low');

  s.configure(config({ detectionExceptions: ['EG-PROC-008:process=/tmp/vendor/*'] }));
  observe(proc('/tmp/vendor/updater', 'updater'));
  assert.ok(!ruleIds(out).includes('EG-PROC-008'));
  observe(proc('/tmp/other/x', 'x'));
  assert.ok(ruleIds(out).includes('EG-PROC-008'));

  s.configure(config({ detectionAttackTools: ['mytool'] }));
  observe(proc('/opt/mytool', 'mytool --scan'));
  assert.ok(out.flatMap((e) => e.Payload).some((p) => p.RuleId === 'EG-PROC-006' && (p.Entity as { Executable?: string }).Executable === '/opt/mytool'));

  s.configure(config({ detectionRansomwareNames: ['lockbox'] }));
  observe(proc('/var/tmp/lockbox', 'lockbox /srv'));
  assert.ok(out.flatMap((e) => e.Payload).some((p) => p.RuleId === 'EG-PROC-035' && (p.Entity as { Executable?: string }).Executable === '/var/tmp/lockbox'));

  s.configure(config({ detectionsEnabled: false }));
  const before = out.length;
  observe(proc('/usr/bin/nmap', 'nmap 10.0.0.3'));
  assert.equal(out.length, before);
  assert.equal(s.alertCounts().reduce((n, c) => n + c.count, 0), out.filter((e) => e.Name === 'SecurityAlert').length);
  assert.ok(logged.some((l) => l.startsWith('warn ALERT')), 'one WARN line per alert');
});

test('a user rules file is loaded live; a bad one is reported and the previous rules keep running', () => {
  const now = { t: Date.parse('2026-12-01T10:00:00Z') };
  const { s, out, observe, dir } = stage(now);
  const file = path.join(dir, 'mine.yaml');
  writeFileSync(file, '- rule: Vendor tool\n  id: MY-1\n  events: [ProcessCreate]\n  condition: ExecutableName = vendortool\n  severity: High\n  tactic: Execution\n  technique: T1059\n  description: d\n  remediation: r\n');
  s.configure(config({ detectionRulesFile: file }));
  observe(proc('/opt/vendortool', 'vendortool'));
  assert.ok(ruleIds(out).includes('MY-1'));
  writeFileSync(file, '- rule: Broken\n  id: MY-2\n  events: [ProcessCreate]\n  condition: Nope = 1\n  severity: Low\n  tactic: Execution\n  technique: T1059\n  description: d\n  remediation: r\n');
  s.configure(config({ detectionRulesFile: file, detectionAllowedUsers: ['x'] }));
  assert.match(s.rulesProblem ?? '', /rule "Broken", condition \(field Nope\)/);
  observe(proc('/opt/vendortool', 'vendortool --again'));
  assert.equal(ruleIds(out).filter((id) => id === 'MY-1').length, 1, 'same key in the window: counted, not re-sent');
  s.configure(config({ detectionRulesFile: '/nonexistent/rules.yaml', detectionAllowedUsers: ['y'] }));
  assert.match(s.rulesProblem ?? '', /cannot be opened/);
});

test('baseline: learning, a new executable after the window, the acceptBaseline method, restart; file 0600', () => {
  const now = { t: Date.parse('2026-12-01T10:00:00Z') };
  const { s, out, observe, dir } = stage(now);
  s.configure(config({ detectionLearningPeriod: 'PT1M' }));
  observe(proc('/usr/bin/ls', 'ls'));
  now.t += 120_000;
  s.tick(() => undefined);
  assert.equal(statSync(path.join(dir, 'detections', 'baseline.json')).mode & 0o777, 0o600);
  observe(proc('/usr/bin/ls', 'ls -l'));
  assert.ok(!ruleIds(out).includes('EG-BASE-001'));
  observe(proc('/usr/bin/newcomer', 'newcomer'));
  const alert = out.flatMap((e) => e.Payload).find((p) => p.RuleId === 'EG-BASE-001')!;
  assert.equal(alert.Severity, 'Low');
  assert.equal(s.baselineMethod({ category: 'executables', value: 'x', extra: 1 }).status, 200);
  assert.equal(s.baselineMethod({ category: 'nope', value: 'x' }).status, 400);
  assert.equal(s.baselineMethod('garbage').status, 400);
  assert.equal(s.baselineMethod({ category: 'executables', value: String(alert.DetectionKey) }).status, 200);
  const answer = s.baselineMethod({ restart: true });
  assert.equal((answer.payload as { learning: boolean }).learning, true);
  const recent = s.recentAlerts({ severity: 'Low', limit: 1 });
  assert.equal((recent.payload as { alerts: unknown[] }).alerts.length, 1);
});

test('malformed detection settings are TypeMismatch problems naming the setting; the previous value stays', () => {
  const store = new ConfigStore(settingsCatalogue());
  const update = store.applyDesired({
    [CONFIG_KEY]: {
      detectionExceptions: { value: ['EG-PROC-008:colour=red'] },
      detectionAllowedOutbound: { value: ['10.0.0.0/99'] },
      detectionSeverityOverrides: { value: ['EG-PROC-008=Critical'] },
      detectionAllowedProcesses: { value: ['/usr/[bin'] },
    },
  });
  const problems = new Map(update.problems.map((p) => [p.setting, p]));
  for (const name of ['detectionExceptions', 'detectionAllowedOutbound', 'detectionSeverityOverrides', 'detectionAllowedProcesses']) {
    assert.equal(problems.get(name)?.errorType, 'TypeMismatch', name);
    assert.ok(!problems.get(name)!.message.includes('colour=red'), 'the value is not quoted');
  }
  assert.deepEqual(update.view.stringList('detectionExceptions'), []);
});
