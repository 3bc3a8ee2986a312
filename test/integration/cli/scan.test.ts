import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { repoRoot } from '../../harness/paths';
import { cleanDeployment, hostConfig, setEnv } from '../../unit/rules/fixtures';
import { hasStackTrace, runCli } from './run-cli';

const SECRET_KEY = 'c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY3OA==';
const SECRET_PASSWORD = 'Hunter2-VerySecret!';

let dir: string;

function write(name: string, content: unknown): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return name;
}

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-scan-'));
  write('clean.json', cleanDeployment());
  const risky = cleanDeployment();
  hostConfig(risky, 'sensor').Privileged = true;
  setEnv(risky, 'sensor', 'HUB', `HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=${SECRET_KEY}`);
  setEnv(risky, 'sensor', 'DB_PASSWORD', SECRET_PASSWORD);
  setEnv(risky, 'sensor', 'PROXY', `http://proxyuser:${SECRET_PASSWORD}@proxy.example.com:3128`);
  write('manifests/risky.deployment.json', risky);
  write('manifests/nested/other.json', cleanDeployment());
  write('broken.json', '{\n  "modulesContent": {\n    "$edgeAgent": { "x": 1, }\n  }\n}\n');
  write('suppress.yaml', 'rules:\n  C01:\n    enabled: false\n    modules: [sensor]\n');
  write('bad-config.yaml', 'rules:\n  X1: {}\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('edgeguard scan: exit codes', () => {
  test('--fail-on: 1 when a finding at or above exists, 0 otherwise', () => {
    assert.equal(runCli(['scan', 'manifests/risky.deployment.json', '--fail-on', 'critical'], dir).status, 1);
    assert.equal(runCli(['scan', 'clean.json', '--fail-on', 'info'], dir).status, 0);
    assert.equal(runCli(['scan', 'manifests/risky.deployment.json'], dir).status, 0, 'no --fail-on: findings alone never fail');
    assert.equal(runCli(['scan', 'manifests/risky.deployment.json', '--fail-on=none'], dir).status, 0);
  });

  test('--config suppressions apply (same format as the twin setting)', () => {
    const r = runCli(['scan', 'manifests/risky.deployment.json', '--fail-on', 'high', '--config', 'suppress.yaml', '--format', 'json'], dir);
    const ruleIds = (JSON.parse(r.stdout) as { files: Array<{ findings: Array<{ ruleId: string }> }> }).files[0]!.findings.map((f) => f.ruleId);
    assert.ok(!ruleIds.includes('C01'));
    assert.ok(ruleIds.includes('S02'));
    assert.equal(r.status, 1, 'S02 (Critical) still fails the build');
  });

  test('usage and input errors exit 2 with a clear message and no stack trace', () => {
    const cases: Array<[string[], RegExp]> = [
      [['scan'], /no manifest given/],
      [['scan', 'clean.json', '--fail-on', 'severe'], /--fail-on: "severe" is not one of/],
      [['scan', 'clean.json', '--format', 'xml'], /--format: expected text, json or sarif/],
      [['scan', 'clean.json', '--bogus'], /unknown option --bogus/],
      [['scan', 'missing.json'], /missing.json: no such file/],
      [['scan', 'nothing/*.json'], /no file matches/],
      [['scan', 'broken.json'], /broken.json:3:29: invalid JSON: expected a property name in double quotes/],
      [['scan', 'clean.json', '--config', 'bad-config.yaml'], /rules.X1: unknown rule ID/],
      [['frobnicate'], /unknown command/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(args, dir);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!hasStackTrace(r.stderr), r.stderr);
    }
  });

  test('a broken file among good ones: the good ones are still reported, exit 2', () => {
    const r = runCli(['scan', '--format', 'json', 'broken.json', 'clean.json', 'manifests/risky.deployment.json'], dir);
    assert.equal(r.status, 2);
    const report = JSON.parse(r.stdout) as { files: Array<{ file: string; error: { line: number; column: number } | null; findings: unknown[] }> };
    assert.deepEqual(report.files[0]!.error && [report.files[0]!.error.line, report.files[0]!.error.column], [3, 29]);
    assert.ok(report.files[2]!.findings.length > 0);
  });

  test('globs: ** matches at any depth; help texts', () => {
    const r = runCli(['scan', '--format', 'json', 'manifests/**/*.json'], dir);
    assert.deepEqual((JSON.parse(r.stdout) as { files: Array<{ file: string }> }).files.map((f) => f.file), ['manifests/nested/other.json', 'manifests/risky.deployment.json']);
    assert.match(runCli(['scan', '--help'], dir).stdout, /--fail-on <severity>/);
    assert.match(runCli(['--help'], dir).stdout, /scan <file\|glob>/);
  });
});

describe('edgeguard scan: output', () => {
  test('text: grouped by module, file:line:column, no colour unless asked', () => {
    const r = runCli(['scan', 'manifests/risky.deployment.json'], dir);
    assert.ok(!r.stdout.includes('\x1b['));
    assert.match(r.stdout, /^ {2}sensor$/m);
    assert.match(r.stdout, /Critical C01 {2}Privileged container/);
    assert.match(r.stdout, /manifests\/risky\.deployment\.json:\d+:\d+ {2}\$\.modulesContent/);
    assert.match(runCli(['scan', 'manifests/risky.deployment.json', '--color'], dir).stdout, /\x1b\[1;31mCritical/);
  });

  test('no secret value in any format, only where and what kind', () => {
    for (const format of ['text', 'json', 'sarif']) {
      const r = runCli(['scan', '--format', format, '--verbose', 'manifests/risky.deployment.json'], dir);
      for (const secret of [SECRET_KEY, SECRET_PASSWORD]) {
        assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${format} leaks a secret`);
      }
      assert.match(r.stdout, /S02/);
      assert.match(r.stdout, /S03/);
      assert.match(r.stdout, /S04/);
    }
  });

  test('json: documented, stable fields', () => {
    const r = runCli(['scan', '--format', 'json', 'manifests/risky.deployment.json'], dir);
    const doc = JSON.parse(r.stdout) as Record<string, unknown> & { files: Array<{ findings: Array<Record<string, unknown>> }> };
    assert.deepEqual(Object.keys(doc), ['formatVersion', 'tool', 'files', 'summary']);
    assert.equal(doc.formatVersion, 1);
    assert.deepEqual(Object.keys(doc.files[0]!.findings[0]!), ['ruleId', 'severity', 'title', 'module', 'path', 'line', 'column', 'message', 'remediation']);
  });

  test('sarif: rule metadata and a region at the line of the offending setting', () => {
    const r = runCli(['scan', '--format', 'sarif', 'manifests/risky.deployment.json', 'broken.json'], dir);
    const log = JSON.parse(r.stdout);
    assert.equal(log.version, '2.1.0');
    const run = log.runs[0];
    assert.equal(run.tool.driver.rules.length, 58);
    const c01 = run.results.find((x: { ruleId: string }) => x.ruleId === 'C01');
    assert.equal(run.tool.driver.rules[c01.ruleIndex].id, 'C01');
    assert.equal(c01.level, 'error');
    const loc = c01.locations[0].physicalLocation;
    assert.equal(loc.artifactLocation.uri, 'manifests/risky.deployment.json');
    const lines = readFileSync(path.join(dir, 'manifests/risky.deployment.json'), 'utf8').split('\n');
    assert.match(lines[loc.region.startLine - 1]!, /"Privileged": true/);
    assert.equal(run.invocations[0].executionSuccessful, false);
    assert.match(run.invocations[0].toolExecutionNotifications[0].message.text, /broken\.json: invalid JSON/);
  });

  // EDGEGUARD_SARIF_SCHEMA: another copy of the official schema file, for machines without the devDependency.
  const schemaFile = process.env.EDGEGUARD_SARIF_SCHEMA ?? path.join(repoRoot(), 'node_modules', '@microsoft', 'jest-sarif', 'lib', 'schemas', 'sarif-2.1.0-rtm.5.json');
  const skip = existsSync(schemaFile) ? false : 'SKIPPED: official SARIF 2.1.0 schema not installed (devDependency @microsoft/jest-sarif ships it)';
  if (skip) console.error(skip);
  test('sarif: valid against the official SARIF 2.1.0 JSON Schema', { skip }, () => {
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
    // The schema is draft-04 (`id`); Ajv 8 reads it once `id` is `$id`. Its patterns are not Unicode-mode regexes.
    schema.$id = schema.id;
    delete schema.id;
    delete schema.$schema;
    const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    const r = runCli(['scan', '--format', 'sarif', 'manifests/risky.deployment.json', 'broken.json', 'clean.json'], dir);
    const log = JSON.parse(r.stdout) as { runs: Array<{ results: Array<{ level: string }> }> };
    assert.ok(validate(log), JSON.stringify(validate.errors));
    log.runs[0]!.results[0]!.level = 'fatal';
    assert.equal(validate(log), false, 'the schema check can fail');
  });
});
