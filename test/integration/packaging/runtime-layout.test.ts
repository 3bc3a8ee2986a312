import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from '../../harness/paths';
import { runtimeCopies } from '../../harness/dockerfile';

/**
 * Lays out the image's runtime stage from Dockerfile.amd64's own COPY lines (build-stage paths under
 * /app map to this checkout's build output) and runs EdgeGuard from there, away from the source tree:
 * proves the image carries everything the code loads at run time (rule catalogue, schemas, addon).
 * node_modules is linked from the checkout, so it does not prove the dev-dependency prune.
 */
const root = repoRoot();
let app = '';

before(() => {
  app = path.join(mkdtempSync(path.join(os.tmpdir(), 'edgeguard-image-')), 'app');
  mkdirSync(app);
  for (const copy of runtimeCopies('Dockerfile.amd64')) {
    for (const source of copy.sources) {
      // The Node binary (this process runs on one) and the SBOM generator's inputs are not app files.
      if (copy.from && !source.startsWith('/app/')) continue;
      if (copy.dest.startsWith('/tmp/')) continue;
      const from = path.join(root, copy.from ? path.relative('/app', source) : source);
      const destDir = path.join(app, copy.dest);
      if (source.endsWith('node_modules')) {
        symlinkSync(from, path.join(app, 'node_modules'));
        continue;
      }
      assert.ok(existsSync(from), `${from} exists (is the project built?)`);
      const target = copy.dest.endsWith('/') ? path.join(destDir, path.basename(source)) : destDir;
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(from, target, { recursive: true });
    }
  }
});

after(() => {
  if (app) rmSync(path.dirname(app), { recursive: true, force: true });
});

test('the CLI scans a manifest from the image layout, with the rule catalogue it ships', () => {
  assert.ok(!existsSync(path.join(app, 'src')), 'no source tree in the image layout');
  let output = '';
  try {
    output = execFileSync(process.execPath, [path.join(app, 'dist/src/cli/main.js'), 'scan', '--format', 'json', path.join(root, 'deployment.template.json')], { cwd: app, encoding: 'utf8' });
  } catch (error) {
    // Findings make the scan exit non-zero; its report is still on stdout.
    output = String((error as { stdout?: string }).stdout ?? '');
  }
  const report = JSON.parse(output) as { files: Array<{ error: string | null; findings: Array<{ ruleId: string; module: string }> }> };
  assert.equal(report.files[0]?.error, null);
  const ruleIds = new Set(report.files[0]!.findings.filter((f) => f.module === 'edgeguard').map((f) => f.ruleId));
  // EdgeGuard's own module needs the Docker socket and host namespaces; the shipped catalogue must say so.
  assert.ok(ruleIds.has('C09'), `runtime socket finding from the shipped catalogue (got ${[...ruleIds].join(', ')})`);
});

test('edgeguard detect runs the detection rules the image ships (src/detections/rules copied into dist)', () => {
  const recording = path.join(path.dirname(app), 'recording.jsonl');
  const event = { Id: 'x', TimestampLocal: '2026-12-01T10:00:00.000+00:00', TimestampUTC: '2026-12-01T10:00:00.000Z', Category: 'Triggered', Name: 'ProcessCreate', EventType: 'Security', IsEmpty: false, PayloadSchemaVersion: '1.0',
    Payload: [{ Executable: '/usr/bin/bash', ProcessId: 9, ParentProcessId: 1, UserId: '0', CommandLine: 'bash -i', ExtraDetails: { StdinType: 'tcp' } }] };
  writeFileSync(recording, `${JSON.stringify({ AgentId: 'a', AgentVersion: '1', MessageSchemaVersion: '1.0', Events: [event] })}\n`);
  let output = '';
  try {
    output = execFileSync(process.execPath, [path.join(app, 'dist/src/cli/main.js'), 'detect', '--format', 'json', recording], { cwd: app, encoding: 'utf8' });
  } catch (error) {
    // Alerts make detect exit 1; its report is still on stdout.
    output = String((error as { stdout?: string }).stdout ?? '');
  }
  const report = JSON.parse(output) as { alerts: Array<{ alert: { RuleId: string } }> };
  assert.ok(report.alerts.some((a) => a.alert.RuleId === 'EG-PROC-001'), output);
});

test('the native addon loads from the image layout', () => {
  const script = `const r = require(${JSON.stringify(path.join(app, 'dist/src/sources/host/common/native.js'))}).loadNativeAddon(); console.log(JSON.stringify({ ok: !!r.addon, file: r.file, reason: r.reason }));`;
  const result = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' })) as { ok: boolean; file?: string; reason?: string };
  assert.equal(result.ok, true, result.reason);
  assert.equal(result.file, path.join(app, 'build/Release/edgeguard_native.node'));
});

test('the kernel sensor addon and its BPF object load from the image layout', () => {
  const script = `const s = require(${JSON.stringify(path.join(app, 'dist/src/sources/host/kernel-sensor/sensor.js'))}); const r = s.loadSensorAddon(); console.log(JSON.stringify({ ok: 'addon' in r, reason: r.reason, object: s.defaultObjectPath() }));`;
  const result = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' })) as { ok: boolean; reason?: string; object: string };
  assert.equal(result.ok, true, result.reason);
  assert.equal(result.object, path.join(app, 'build/Release/edgeguard_sensor.bpf.o'));
  assert.ok(existsSync(result.object), 'the BPF object is in the image');
});

test("EdgeGuard's own template passes its own scan at --fail-on high once its needed privileges are acknowledged", () => {
  const cli = path.join(app, 'dist/src/cli/main.js');
  const scan = (...extra: string[]): number => {
    try {
      execFileSync(process.execPath, [cli, 'scan', path.join(root, 'deployment.template.json'), '--fail-on', 'high', ...extra], { cwd: app, encoding: 'utf8', stdio: 'pipe' });
      return 0;
    } catch (error) {
      return (error as { status?: number }).status ?? -1;
    }
  };
  assert.equal(scan(), 1, 'without the rule settings the privileges are High/Critical findings');
  assert.equal(scan('--config', path.join(root, 'edgeguard-rules.yaml')), 0);
});
