import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { corpusDir } from '../../harness/paths';
import { hasStackTrace, runCli } from './run-cli';

interface JsonReport {
  files: Array<{ file: string; error: { message: string } | null; findings: Array<{ ruleId: string; severity: string; module: string; path: string; line: number | null; message: string }> }>;
  summary: { files: number; errors: number; findings: number };
}

const dir = corpusDir();
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

/** Findings verified by reading the corpus files (file prefix, rule, module, optional line). */
const EXPECTED: Array<{ file: string; ruleId: string; module: string; line?: number; severity?: string; why: string }> = [
  { file: 'Azure-Samples__azure-iotedge-blobstorage-sample', ruleId: 'S02', module: 'azureblobstorageoniotedge', why: 'LOCAL_STORAGE_ACCOUNT_KEY holds an 88-char storage key' },
  { file: 'Azure-Samples__azure-iotedge-blobstorage-sample', ruleId: 'S02', module: 'blobWriterModule', why: 'storageconnectionstring has AccountKey=' },
  { file: 'Azure__iotedgehubdev__tests_test_compose_resources_deployment_with_chunked', ruleId: 'C02', module: 'tempSensor', line: 40, why: 'CapAdd NET_ADMIN inside createOptions07 of a chunked createOptions' },
  { file: 'Azure__iotedgehubdev__tests_test_compose_resources_deployment_with_chunked', ruleId: 'N04', module: 'tempSensor', why: '22/tcp exposed and bound' },
  { file: 'Azure__iotedgehubdev__tests_test_compose_resources_deployment_with_chunked', ruleId: 'M03', module: 'SampleModule', why: 'restartPolicy "unknown"' },
  { file: 'marvin-garcia__IoTGateway__EdgeSolution_modules_Logspout_layered', ruleId: 'C09', module: 'LogsCollector', why: 'layered deployment binds /var/run/docker.sock' },
  { file: 'Azure__iotedge__e2e_deployment_files_edgehub_restart', ruleId: 'C01', module: '', why: 'Privileged given as the string "true"' },
  { file: 'Azure__iotedge__e2e_deployment_files_edgehub_restart', ruleId: 'C09', module: '', why: 'binds /var/run/docker.sock' },
  { file: 'Avanade__2DOF-PI-WebRTC-Camera', ruleId: 'M02', module: 'device', line: 46, why: 'createOptions has the unquoted key HostConfig' },
  { file: 'Avanade__2DOF-PI-WebRTC-Camera', ruleId: 'C01', module: 'camera', line: 57, why: 'Privileged true' },
  { file: 'Azure-Samples__azure-intelligent-edge-patterns', ruleId: 'C11', module: '', severity: 'High', why: 'binds /dev:/dev writable' },
  { file: 'Azure-Samples__azure-intelligent-edge-patterns', ruleId: 'C06', module: '', why: 'IpcMode host' },
  { file: 'Azure-Samples__azure-intelligent-edge-patterns', ruleId: 'S01', module: '$edgeAgent', why: 'registry password in clear (redacted in the corpus)' },
  { file: 'scalers-ai__factorysolutions', ruleId: 'S02', module: '', why: 'IOTHUB_DEVICE_DPS_DEVICE_KEY 44-char key' },
  { file: 'scalers-ai__factorysolutions', ruleId: 'S01', module: '$edgeAgent', why: 'ACR admin password' },
  { file: 'linyixian__IoTCentral_IoTEdge', ruleId: 'S01', module: '$edgeAgent', why: 'ACR admin password' },
  { file: 'kevinsul__halloween-chuckles', ruleId: 'S01', module: '$edgeAgent', why: 'ACR admin password' },
  { file: 'cyberflying__iotedge-sqlsolution', ruleId: 'S03', module: '', why: 'SA password Strong!Passw0rd in env' },
  { file: 'howardginsburg__IndustrialIoTDemo', ruleId: 'S03', module: '', why: 'Password_54321 in a createOptions Env entry' },
  { file: 'toolboc__Intelligent-Video-Analytics', ruleId: 'S02', module: 'DeepStreamAnalytics', why: 'SAS URL with sig= in a module twin' },
  { file: 'Azure__Industrial-IoT__deployment', ruleId: 'C02', module: '', why: 'CapAdd NET_ADMIN' },
  { file: 'Fillo22__EdgeMonitoring', ruleId: 'M01', module: '$edgeAgent', why: 'schemaVersion not supported' },
];

/** Values (or redacted shapes) that must never be printed: they are secrets in the files. */
const NEVER_PRINTED = [
  'AAAAA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+AAAAAAAAAAAAAAAAAAAAAAAA==',
  'AAAAAAAAAAAA/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  'AAAAAAAAAAAAAAAAAAAAAAA/AAAAAAAA',
  'AAAAAAAAAA+AAAAAAAAAAAAAAAAAAAAA',
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  'A=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  'AAAAAAA%2FAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D',
  'Strong!Passw0rd',
  'Password_54321',
];

describe('CLI over the public manifest corpus', () => {
  const json = runCli(['scan', '--format', 'json', ...files], dir);

  test('every corpus file is read, none crashes the CLI', () => {
    assert.equal(json.status, 0, json.stderr);
    assert.ok(!hasStackTrace(json.stderr), json.stderr);
    const report = JSON.parse(json.stdout) as JsonReport;
    assert.equal(report.summary.files, files.length);
    assert.deepEqual(report.files.filter((f) => f.error).map((f) => `${f.file}: ${f.error!.message}`), []);
    assert.ok(report.files.every((f) => f.findings.length > 0), 'every real manifest has at least one finding');
  });

  test('findings verified by reading the files are reported', () => {
    const report = JSON.parse(json.stdout) as JsonReport;
    for (const e of EXPECTED) {
      const file = report.files.find((f) => f.file.startsWith(e.file));
      assert.ok(file, `corpus file ${e.file} missing`);
      const hit = file.findings.find((f) => f.ruleId === e.ruleId && (e.module === '' || f.module === e.module) && (e.line === undefined || f.line === e.line) && (e.severity === undefined || f.severity === e.severity));
      assert.ok(hit, `${e.file}: expected ${e.ruleId} ${e.module} ${e.line ?? ''} (${e.why}); got ${file.findings.map((f) => `${f.ruleId}/${f.module}/${f.line}`).join(' ')}`);
    }
  });

  test('placeholders are not secrets: the layered observability template has no S finding', () => {
    const report = JSON.parse(json.stdout) as JsonReport;
    const file = report.files.find((f) => f.file.includes('deployment_observability.layered'))!;
    assert.deepEqual(file.findings.filter((f) => f.ruleId.startsWith('S')), []);
  });

  test('no secret value appears in text, JSON or SARIF output', () => {
    for (const format of ['text', 'json', 'sarif']) {
      const r = format === 'json' ? json : runCli(['scan', '--format', format, ...files], dir);
      for (const secret of NEVER_PRINTED) {
        assert.ok(!r.stdout.includes(secret), `${format} output contains a secret from the corpus`);
        assert.ok(!r.stderr.includes(secret), `${format} stderr contains a secret from the corpus`);
      }
    }
  });

  test('each file alone: exit 0 or 1 with --fail-on, never 2', () => {
    for (const file of files) {
      const r = runCli(['scan', '--fail-on', 'critical', '--format', 'json', file], dir);
      assert.ok(r.status === 0 || r.status === 1, `${file}: exit ${r.status} ${r.stderr}`);
      const critical = (JSON.parse(r.stdout) as JsonReport).files[0]!.findings.some((f) => f.severity === 'Critical');
      assert.equal(r.status, critical ? 1 : 0, file);
    }
  });
});
